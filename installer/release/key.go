package release

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// BundlePublicKey is the release's bundle-signing public key, stamped at
// link time: the base64 text between the PEM lines of the key's .pub file
// (its PKIX DER), which `make build BUNDLE_PUBKEY_FILE=release.pub` passes
// as -X github.com/suitenumerique/docs-appliance/installer/release.BundlePublicKey=...
// Empty in a development build. install --bundle, airgap verify and
// airgap import check bundles against it unless the operator passes
// another key.
var BundlePublicKey = ""

// ErrBadBundleKey is wrapped when the stamped key does not decode.
var ErrBadBundleKey = errors.New("the release key built into this binary is malformed")

// BundleKey returns the stamped release key, or nil in a development build.
func BundleKey() (ed25519.PublicKey, error) {
	text := strings.TrimSpace(BundlePublicKey)
	if text == "" {
		return nil, nil
	}
	der, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64: %v (fix: rebuild with make build BUNDLE_PUBKEY_FILE=<the release's .pub file>)", ErrBadBundleKey, err)
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: not a PKIX public key: %v (fix: rebuild with make build BUNDLE_PUBKEY_FILE=<the release's .pub file>)", ErrBadBundleKey, err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: a %T, not an ed25519 key (fix: rebuild with make build BUNDLE_PUBKEY_FILE=<the .pub file of `docs-appliance airgap keygen`>)", ErrBadBundleKey, key)
	}
	return pub, nil
}

// bundleKeyID names the stamped key as airgap.KeyID does ("ed25519:" and
// the first 16 hex digits of the sha256 of its PKIX encoding), "" in a
// development build, or "malformed". Computed here rather than with
// airgap.KeyID so that this package, which every command imports, stays
// free of airgap's dependencies; a test checks the two agree.
func bundleKeyID() string {
	pub, err := BundleKey()
	switch {
	case err != nil:
		return "malformed"
	case pub == nil:
		return ""
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return "ed25519:" + hex.EncodeToString(sum[:8])
}
