// Package images packs test images without a container engine: static Go programs (the stand-in
// application, the pause container, the Flux controllers) and files become a one-layer image
// written as a docker-archive tarball with go-containerregistry, ready for
// `ctr -n k8s.io images import` on the e2e node (see e2e/node's ImportImages).
//
// The programs live beside it: standin/ (an HTTP server standing in for an application), pause/
// (the pod sandbox), and pack/ (this package as a command, for the build scripts).
package images
