// Package gitserver is the appliance's in-cluster git server: a small authenticated HTTP host in
// front of git's own smart-HTTP server (`git http-backend`), holding the desired-state repository
// on a persistent volume. The installer pushes to it through a port-forward; Flux's
// source-controller fetches from it through cluster DNS.
//
// Why not Gitea (as Zarf runs): it cannot be built from the module proxy here, and the appliance
// needs one repository, two accounts and nothing of a forge. git http-backend is git's reference
// server, so every client (go-git, libgit2, the git CLI) speaks to it as to any host.
//
// Accounts come from a users file (a mounted Secret): "name:role:bcrypt-hash" lines, role push
// (fetch and push: the installer) or read (fetch only: Flux). Only the smart protocol endpoints of
// the configured repositories are served. With Hook set, every repository runs it as its
// pre-receive hook (the git-server program itself, package prereceive: each push validated, a
// logged push option to skip), and the server logs what the hook records of each push. The package also assembles the server's image: the
// server program plus git and the shared libraries its ELF headers name, taken from a root where
// Debian's git package is installed or unpacked.
package gitserver
