// Command git-server-image assembles the in-cluster git server's image (`make gitserver-image`):
// the git-server program plus Debian's git and the libraries it needs, as an OCI image archive.
// It prints the image's digest, which the release train pins.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/suitenumerique/docs-appliance/installer/gitserver"
)

func main() {
	var o gitserver.ImageOptions
	flag.StringVar(&o.Tag, "tag", "", "image name, e.g. ghcr.io/suitenumerique/docs-appliance-git-server:0.1.0")
	flag.StringVar(&o.ServerBinary, "server", "", "the git-server program, built with CGO_ENABLED=0")
	flag.StringVar(&o.GitRoot, "git-root", "/", "root where Debian's git is installed or unpacked")
	flag.StringVar(&o.Out, "out", "", "OCI image archive to write")
	flag.Parse()
	if o.Tag == "" || o.ServerBinary == "" || o.Out == "" {
		fmt.Fprintln(os.Stderr, "Error: -tag, -server and -out are required")
		os.Exit(2)
	}
	digest, err := gitserver.WriteImage(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	fmt.Println(digest)
}
