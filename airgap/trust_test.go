package airgap

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/status"
)

// Every combination of how a bundle is signed and what the operator trusts,
// through Verify and Import: what is accepted, what is refused with which
// message, what is warned about, and what the import records.
func TestTrustDecidesWhichBundlesAreAccepted(t *testing.T) {
	good, pub, _ := sharedBundle(t)
	base := readEntries(t, good)
	otherPub, otherPriv := testKey(t)
	dir := t.TempDir()
	bundles := map[string]string{"release": good}
	for name, entries := range map[string][]entry{
		"unsigned": editManifest(t, base, nil, func(*Manifest) {}),
		"other":    editManifest(t, base, otherPriv, func(m *Manifest) { m.KeyID = KeyID(otherPub) }),
	} {
		bundles[name] = filepath.Join(dir, name+".tar.zst")
		writeEntries(t, bundles[name], entries, nil)
	}
	key := Trust{Key: pub, KeySource: "the release key built into this binary"}
	keySkip := Trust{Key: pub, KeySource: key.KeySource, InsecureSkipVerify: true}
	none := Trust{}
	skip := Trust{InsecureSkipVerify: true}

	const (
		verified  = "verified"
		unchecked = "unchecked"
		unsigned  = "unsigned"
		noKey     = "no key"
		invalid   = "invalid"
	)
	cases := []struct {
		bundle string
		trust  Trust
		// outcome is verified, unchecked or unsigned (accepted), or noKey or invalid (refused).
		outcome string
		want    string
	}{
		{"release", key, verified, "signature by key " + KeyID(pub) + " verified (the release key built into this binary)"},
		{"release", keySkip, verified, "signature by key " + KeyID(pub) + " verified"},
		{"release", none, noKey, "no release key built in (a development build) and no --key was given, so nothing proves who made the bundle (the bundle says it is signed by key " + KeyID(pub) + ")"},
		{"release", skip, unchecked, "INSECURE (--insecure-skip-bundle-verify): bundle is signed by key " + KeyID(pub) + " but there is no key to check it with"},
		{"unsigned", key, invalid, "missing: the bundle is unsigned but must be signed by key " + KeyID(pub) + " (the release key built into this binary)"},
		{"unsigned", keySkip, unsigned, "INSECURE (--insecure-skip-bundle-verify): bundle is unsigned"},
		{"unsigned", none, noKey, "(the bundle is unsigned)"},
		{"unsigned", skip, unsigned, "INSECURE (--insecure-skip-bundle-verify): bundle is unsigned"},
		{"other", key, invalid, "signed by key " + KeyID(otherPub) + " (as its manifest says), not by key " + KeyID(pub) + " (the release key built into this binary)"},
		{"other", keySkip, invalid, "signed by key " + KeyID(otherPub) + " (as its manifest says), not by key " + KeyID(pub)},
		{"other", none, noKey, "signed by key " + KeyID(otherPub)},
		{"other", skip, unchecked, "bundle is signed by key " + KeyID(otherPub) + " but there is no key to check it with"},
	}
	for _, c := range cases {
		name := c.bundle + ", key " + map[bool]string{true: "given", false: "none"}[c.trust.Key != nil] + map[bool]string{true: ", skip", false: ""}[c.trust.InsecureSkipVerify]
		t.Run(name, func(t *testing.T) {
			bundle := bundles[c.bundle]
			var vlog bytes.Buffer
			vres, verr := Verify(context.Background(), VerifyOptions{Bundle: bundle, Trust: c.trust, Status: status.New(&vlog, status.Plain)})

			state := filepath.Join(t.TempDir(), "state")
			if err := os.Mkdir(state, 0o755); err != nil {
				t.Fatal(err)
			}
			before := stateSnapshot(t, state)
			var ilog bytes.Buffer
			ires, ierr := Import(context.Background(), ImportOptions{Bundle: bundle, StateDir: state, Trust: c.trust, Status: status.New(&ilog, status.Plain)})

			switch c.outcome {
			case noKey, invalid:
				for what, err := range map[string]error{"verify": verr, "import": ierr} {
					if err == nil || !strings.Contains(err.Error(), c.want) {
						t.Fatalf("%s: error %v, want one saying %q", what, err, c.want)
					}
					if got := errors.Is(err, ErrNoKey); got != (c.outcome == noKey) {
						t.Errorf("%s: errors.Is(ErrNoKey) = %v: %v", what, got, err)
					}
					if got := errors.Is(err, ErrInvalidBundle); got != (c.outcome == invalid) {
						t.Errorf("%s: errors.Is(ErrInvalidBundle) = %v: %v", what, got, err)
					}
				}
				if after := stateSnapshot(t, state); after != before {
					t.Errorf("the refused import changed the state folder:\n%s", after)
				}
				return
			}
			if verr != nil || ierr != nil {
				t.Fatalf("verify: %v; import: %v", verr, ierr)
			}
			insecure := c.outcome != verified
			for what, log := range map[string]string{"verify": vlog.String(), "import": ilog.String()} {
				if !strings.Contains(log, c.want) {
					t.Errorf("%s did not say %q:\n%s", what, c.want, log)
				}
				if strings.Contains(log, "--insecure-skip-bundle-verify is set: a bundle whose signature cannot be checked is accepted") != c.trust.InsecureSkipVerify {
					t.Errorf("%s: the warning that the skip flag is set is missing or out of place:\n%s", what, log)
				}
				if strings.Contains(log, "INSECURE") != insecure {
					t.Errorf("%s: INSECURE warning shown = %v, want %v:\n%s", what, !insecure, insecure, log)
				}
			}
			if vres.InsecureSkipVerify != insecure || ires.InsecureSkipVerify != insecure || vres.SignatureChecked == insecure {
				t.Errorf("verify result %+v, import result InsecureSkipVerify %v", vres, ires.InsecureSkipVerify)
			}
			rec, err := ReadImportRecord(ires.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Signature != c.outcome || rec.InsecureSkipVerify != insecure || *rec != ires.Record || rec.Bundle != filepath.Base(bundle) {
				t.Errorf("import.json = %+v, want signature %s", rec, c.outcome)
			}
			if c.outcome == verified && (rec.KeyID != KeyID(pub) || rec.KeySource != c.trust.KeySource) {
				t.Errorf("import.json names key %s from %q", rec.KeyID, rec.KeySource)
			}

			// The warning comes on every use, also when nothing is left to import.
			ilog.Reset()
			again, err := Import(context.Background(), ImportOptions{Bundle: bundle, StateDir: state, Trust: c.trust, Status: status.New(&ilog, status.Plain)})
			if err != nil || !again.AlreadyImported {
				t.Fatalf("second import: %+v, %v", again, err)
			}
			if !strings.Contains(ilog.String(), c.want) {
				t.Errorf("second import did not say %q:\n%s", c.want, ilog.String())
			}
		})
	}
}

// A bundle imported without a checked signature, imported again with the
// key, is recorded as verified: import.json says how the last import
// checked it.
func TestReimportWithTheKeyUpdatesTheRecord(t *testing.T) {
	bundle, pub, _ := sharedBundle(t)
	state := filepath.Join(t.TempDir(), "state")
	res, err := Import(context.Background(), ImportOptions{Bundle: bundle, StateDir: state, Trust: Trust{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := ReadImportRecord(res.Dir); err != nil || rec.Signature != SignatureUnchecked || !rec.InsecureSkipVerify {
		t.Fatalf("first import recorded %+v, %v", rec, err)
	}
	res, err = Import(context.Background(), ImportOptions{Bundle: bundle, StateDir: state, Trust: Trust{Key: pub, KeySource: "--key site.pub"}})
	if err != nil || !res.AlreadyImported {
		t.Fatalf("second import: %+v, %v", res, err)
	}
	rec, err := ReadImportRecord(res.Dir)
	if err != nil || rec.Signature != SignatureVerified || rec.InsecureSkipVerify || rec.KeyID != KeyID(pub) || rec.KeySource != "--key site.pub" {
		t.Fatalf("second import recorded %+v, %v", rec, err)
	}
	assertOnlyBundleFolders(t, state, filepath.Base(res.Dir))
}

func TestResolveTrust(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site")
	if _, err := GenerateKeyFiles(site+".key", site+".pub"); err != nil {
		t.Fatal(err)
	}
	sitePub, err := LoadPublicKey(site + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	releasePub, _ := testKey(t)
	asked := 0
	release := func() (ed25519.PublicKey, error) { asked++; return releasePub, nil }

	// The operator's key replaces the release key, which is not even read.
	tr, err := ResolveTrust(TrustFlags{KeyFile: site + ".pub", KeyFlag: "--bundle-key", ReleaseKey: release})
	if err != nil || !tr.Key.Equal(sitePub) || tr.KeySource != "--bundle-key "+site+".pub" || asked != 0 {
		t.Fatalf("with a key file: %+v, %v (release key read %d times)", tr, err, asked)
	}
	tr, err = ResolveTrust(TrustFlags{KeyFlag: "--bundle-key", InsecureSkipVerify: true, ReleaseKey: release})
	if err != nil || !tr.Key.Equal(releasePub) || tr.KeySource != "the release key built into this binary" || !tr.InsecureSkipVerify {
		t.Fatalf("with the release key: %+v, %v", tr, err)
	}
	// A development build: no key, and the zero Trust refuses.
	tr, err = ResolveTrust(TrustFlags{ReleaseKey: func() (ed25519.PublicKey, error) { return nil, nil }})
	if err != nil || tr.Key != nil || tr.InsecureSkipVerify {
		t.Fatalf("without a release key: %+v, %v", tr, err)
	}
	broken := errors.New("the release key built into this binary is malformed")
	if _, err := ResolveTrust(TrustFlags{ReleaseKey: func() (ed25519.PublicKey, error) { return nil, broken }}); !errors.Is(err, broken) {
		t.Fatalf("a malformed release key: %v", err)
	}
	if _, err := ResolveTrust(TrustFlags{KeyFile: site + ".key", KeyFlag: "--key"}); err == nil || !strings.Contains(err.Error(), "reading --key") || !strings.Contains(err.Error(), "holds a private key") {
		t.Fatalf("a private key as --key: %v", err)
	}
}
