// Package release describes this build of the binary: its version, commit
// and bundle-signing public key (stamped at link time by the Makefile), the
// release trains it embeds, whether each train is locked, and which of its
// charts the binary carries.
package release
