// Command pack writes a one-layer image tarball from files, for the e2e build scripts:
//
//	pack -tag ghcr.io/fluxcd/source-controller:v1.9.5 -out sc.tar -user 65534:65534 \
//	  -entrypoint /usr/local/bin/source-controller \
//	  -file /usr/local/bin/source-controller=./source-controller:0755 \
//	  -file /etc/ssl/certs/ca-certificates.crt=/etc/ssl/certs/ca-certificates.crt
//
// or, for a root file system assembled in a folder (links kept):
//
//	pack -tag ghcr.io/cloudnative-pg/postgresql:17 -out pg.tar -user 26:26 -rootfs ./rootfs
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/suitenumerique/docs-appliance/e2e/images"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pack:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("pack", flag.ContinueOnError)
	var spec images.Spec
	var entrypoint, files, env list
	out := fs.String("out", "", "tarball to write")
	fs.StringVar(&spec.Tag, "tag", "", "image name and tag")
	fs.StringVar(&spec.User, "user", "", "user:group to run as")
	fs.StringVar(&spec.WorkingDir, "workdir", "", "working directory")
	fs.StringVar(&spec.RootFS, "rootfs", "", "folder holding the whole file system (instead of -file)")
	fs.Var(&entrypoint, "entrypoint", "entrypoint argument (repeat for each)")
	fs.Var(&env, "env", "KEY=VALUE (repeatable)")
	fs.Var(&files, "file", "IMAGE_PATH=SOURCE[:MODE] (repeatable; MODE octal, default 0644)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || spec.Tag == "" {
		return fmt.Errorf("-out and -tag are required")
	}
	spec.Entrypoint, spec.Env = entrypoint, env
	for _, f := range files {
		dst, src, ok := strings.Cut(f, "=")
		if !ok {
			return fmt.Errorf("-file %q: want IMAGE_PATH=SOURCE[:MODE]", f)
		}
		file := images.File{Path: dst, Source: src}
		if i := strings.LastIndex(src, ":"); i > 0 {
			mode, err := strconv.ParseInt(src[i+1:], 8, 64)
			if err != nil {
				return fmt.Errorf("-file %q: bad mode: %w", f, err)
			}
			file.Source, file.Mode = src[:i], mode
		}
		spec.Files = append(spec.Files, file)
	}
	return images.Write(spec, *out)
}
