// Package airgap owns the air-gap bundle: one docs-appliance-<train>-<arch>.tar.zst
// that carries everything a release train needs on a site without internet
// (k3s and its images, every train image pinned by digest, every chart, the
// Flux install manifests), a manifest listing each file with its size and
// sha256, and an ed25519 signature over that manifest.
//
// Build pulls the artifacts through their real protocols on a connected
// machine and writes the bundle; Verify checks one in a single streaming
// pass; Import checks and unpacks it in the same single pass into the state
// folder (BundleDir), where the k3s step and the chart store pick the files
// up. Verify and Import take a Trust: the key the bundle must be signed
// with (the operator's, or the release key built into the binary, see
// ResolveTrust); without one they refuse, unless the operator knowingly
// skips the signature check. README.md beside this file documents the
// format and the release-signing flow.
package airgap
