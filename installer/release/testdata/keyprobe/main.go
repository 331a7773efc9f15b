// Command keyprobe prints the bundle key ID of the build's release
// description: the release tests link it with the Makefile's -ldflags to
// prove that `make build BUNDLE_PUBKEY_FILE=...` stamps the key.
package main

import (
	"fmt"
	"os"

	"github.com/suitenumerique/docs-appliance/installer/release"
)

func main() {
	info, err := release.Describe()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("version=%s key=%s\n", info.Version, info.BundleKeyID)
}
