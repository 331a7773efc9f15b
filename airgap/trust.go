package airgap

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/suitenumerique/docs-appliance/installer/status"
)

// SkipVerifyFlag is the command-line flag that sets Trust.InsecureSkipVerify,
// the same on install, airgap verify and airgap import.
const SkipVerifyFlag = "--insecure-skip-bundle-verify"

// Trust says which signature a bundle must carry. The zero value trusts
// nothing: with no Key and no InsecureSkipVerify every bundle is refused
// before anything is written, so a caller that forgets the key fails closed.
type Trust struct {
	// Key is the public key the bundle must be signed with: the operator's
	// key file, or the release key built into the binary.
	Key ed25519.PublicKey
	// KeySource says where Key came from, for messages: "--key site.pub",
	// "the release key built into this binary".
	KeySource string
	// KeyFlag is the flag that passes a key, for fixes: "--key" when empty
	// (install says "--bundle-key").
	KeyFlag string
	// InsecureSkipVerify accepts a bundle whose signature cannot be
	// checked: an unsigned one, or a signed one while no Key is known. Its
	// files are still checked against its own manifest, a warning says so
	// on every use, and the result and the imported folder record it. A
	// signature that can be checked must still verify: a bundle signed by
	// another key than Key is refused all the same, and so is one whose
	// signature was stripped.
	InsecureSkipVerify bool
}

func (t Trust) keyFlag() string {
	if t.KeyFlag == "" {
		return "--key"
	}
	return t.KeyFlag
}

func (t Trust) keySource() string {
	if t.KeySource == "" {
		return "the given key"
	}
	return t.KeySource
}

// TrustFlags are what the operator said about keys on the command line.
type TrustFlags struct {
	// KeyFile is the public key file given with KeyFlag; it replaces the
	// release key (a site may sign its own bundles).
	KeyFile, KeyFlag string
	// InsecureSkipVerify is SkipVerifyFlag.
	InsecureSkipVerify bool
	// ReleaseKey returns the key built into the binary, nil in a
	// development build (release.BundleKey). It is only called when no
	// KeyFile is given.
	ReleaseKey func() (ed25519.PublicKey, error)
}

// ResolveTrust picks the key bundles must be signed with: KeyFile when
// given, else the release key built into the binary, else none (then only
// InsecureSkipVerify lets a bundle in).
func ResolveTrust(f TrustFlags) (Trust, error) {
	t := Trust{KeyFlag: f.KeyFlag, InsecureSkipVerify: f.InsecureSkipVerify}
	switch {
	case f.KeyFile != "":
		k, err := LoadPublicKey(f.KeyFile)
		if err != nil {
			return Trust{}, fmt.Errorf("reading %s: %w", t.keyFlag(), err)
		}
		t.Key, t.KeySource = k, t.keyFlag()+" "+f.KeyFile
	case f.ReleaseKey != nil:
		k, err := f.ReleaseKey()
		if err != nil {
			return Trust{}, err
		}
		if k != nil {
			t.Key, t.KeySource = k, "the release key built into this binary"
		}
	}
	return t, nil
}

// checkTrust applies the Trust to the signature, before the manifest is
// parsed: a signature that can be checked must verify with the key, and a
// bundle whose signature cannot be checked is refused unless the operator
// knowingly skips the check.
func (s *scanner) checkTrust(res *scanResult) error {
	t := s.trust
	claimed := claimedKeyID(res.Raw) // unverified: for messages only
	if !res.Signed && claimed != "" {
		// Tampering, whatever the trust: InsecureSkipVerify is for bundles
		// built unsigned, not for signatures that went missing.
		return s.fail(SignatureName, fmt.Sprintf("missing, but the manifest says key %s signed the bundle: the signature was stripped or lost", claimed), "copy the bundle again from its source", nil)
	}
	switch {
	case t.Key != nil && res.Signed:
		if err := checkSignature(t.Key, res.Raw, res.Sig); err != nil {
			want := KeyID(t.Key)
			if claimed != "" && claimed != want {
				return s.fail(SignatureName, fmt.Sprintf("signed by key %s (as its manifest says), not by key %s (%s)", claimed, want, t.keySource()),
					fmt.Sprintf("get the bundle signed with key %s, or, if you trust the maker of key %s, pass its public key with %s", want, claimed, t.keyFlag()), err)
			}
			return s.fail(SignatureName, "bad signature", fmt.Sprintf("the manifest was changed after it was signed, or signed by someone else than key %s (%s): copy the bundle again from its source", want, t.keySource()), err)
		}
		res.Checked = true
	case t.Key != nil && !t.InsecureSkipVerify:
		return s.fail(SignatureName, fmt.Sprintf("missing: the bundle is unsigned but must be signed by key %s (%s)", KeyID(t.Key), t.keySource()),
			fmt.Sprintf("get a bundle built with `airgap build --key`; if it was, the signature was stripped: copy the bundle again from its source; or, knowingly, pass %s", SkipVerifyFlag), nil)
	case t.Key == nil && !t.InsecureSkipVerify:
		return &NoKeyError{Bundle: s.name, Signed: res.Signed, ClaimedKeyID: claimed, KeyFlag: t.keyFlag()}
	}
	return nil
}

func claimedKeyID(raw []byte) string {
	var probe struct {
		KeyID string `json:"keyID"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return ""
	}
	return probe.KeyID
}

// ErrNoKey is wrapped by a NoKeyError.
var ErrNoKey = errors.New("no key to check the bundle's signature")

// NoKeyError refuses a bundle because nothing says whom to trust: the
// binary has no release key built in (a development build), no key was
// given, and the operator did not knowingly skip the check. The bundle
// itself may be fine, so this is not an ErrInvalidBundle.
type NoKeyError struct {
	Bundle string
	// Signed reports whether the bundle carries a signature; ClaimedKeyID
	// is the key its (unverified) manifest names.
	Signed       bool
	ClaimedKeyID string
	KeyFlag      string
}

func (e *NoKeyError) Error() string {
	what := "the bundle is unsigned"
	switch {
	case e.ClaimedKeyID != "":
		what = "the bundle says it is signed by key " + e.ClaimedKeyID
	case e.Signed:
		what = "the bundle is signed by a key its manifest does not name"
	}
	return fmt.Sprintf("bundle %s: refused: this docs-appliance has no release key built in (a development build) and no %s was given, so nothing proves who made the bundle (%s) (fix: pass the public key of the bundle's maker with %s FILE, or use a release build of docs-appliance, or, knowingly, %s to check only the bundle's integrity)",
		e.Bundle, e.KeyFlag, what, e.KeyFlag, SkipVerifyFlag)
}

func (e *NoKeyError) Unwrap() error { return ErrNoKey }

// warnSkip says, on every use of SkipVerifyFlag, what it gives away.
func warnSkip(st *status.Status, t Trust) {
	if t.InsecureSkipVerify {
		st.Warn("%s is set: a bundle whose signature cannot be checked is accepted on its integrity alone, so whoever hands you the bundle chooses what this server runs", SkipVerifyFlag)
	}
}

// reportSignature says what the signature check established; an accepted
// bundle whose signature was not checked gets a warning every time.
func reportSignature(st *status.Status, t Trust, res *scanResult) {
	switch {
	case res.Checked:
		st.Info("signature by key %s verified (%s)", res.Manifest.KeyID, t.keySource())
	case res.Signed:
		st.Warn("INSECURE (%s): bundle is signed by key %s but there is no key to check it with: only its integrity against its own manifest was checked, not who made it", SkipVerifyFlag, res.Manifest.KeyID)
	default:
		st.Warn("INSECURE (%s): bundle is unsigned: only its integrity against its own manifest was checked, not who made it", SkipVerifyFlag)
	}
}
