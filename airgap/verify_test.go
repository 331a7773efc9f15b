package airgap

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// writeEntries writes entries as a bundle (zstd tar), with trailing bytes
// after the tar end marker when given.
func writeEntries(t *testing.T, path string, entries []entry, trailing []byte) {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, e := range entries {
		h := *e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(e.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	raw.Write(trailing)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw, err := zstd.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func reg(name string, data []byte) entry {
	return entry{&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data))}, data}
}

func indexOf(t *testing.T, entries []entry, prefix string) int {
	t.Helper()
	for i, e := range entries {
		if strings.HasPrefix(e.hdr.Name, prefix) {
			return i
		}
	}
	t.Fatalf("no entry starting with %s", prefix)
	return -1
}

// editManifest rewrites manifest.json through fn; with priv it re-signs,
// without it it strips the signature and the key ID (an unsigned bundle
// whose maker controls the manifest).
func editManifest(t *testing.T, entries []entry, priv ed25519.PrivateKey, fn func(m *Manifest)) []entry {
	t.Helper()
	var m Manifest
	if err := json.Unmarshal(entries[0].data, &m); err != nil {
		t.Fatal(err)
	}
	fn(&m)
	out := append([]entry(nil), entries...)
	if priv == nil {
		m.KeyID = ""
		out = append(out[:1], out[2:]...)
	}
	raw, err := m.marshal()
	if err != nil {
		t.Fatal(err)
	}
	out[0] = reg(ManifestName, raw)
	if priv != nil {
		out[1] = reg(SignatureName, signManifest(priv, raw))
	}
	return out
}

func without(entries []entry, i int) []entry {
	out := append([]entry(nil), entries[:i]...)
	return append(out, entries[i+1:]...)
}

func with(entries []entry, i int, e entry) []entry {
	out := append([]entry(nil), entries[:i]...)
	out = append(out, e)
	return append(out, entries[i:]...)
}

func TestVerifyAndImportRejectCraftedBundles(t *testing.T) {
	good, pub, priv := sharedBundle(t)
	base := readEntries(t, good)
	otherPub, _ := testKey(t)
	img := indexOf(t, base, "images/")
	chart := indexOf(t, base, "charts/docs-")
	last := len(base) - 1
	link := func(typ byte, name, target string) entry {
		return entry{&tar.Header{Typeflag: typ, Name: name, Linkname: target, Mode: 0o644, Devmajor: 1, Devminor: 3}, nil}
	}

	cases := []struct {
		name string
		// make returns the entries of the crafted bundle.
		make     func() []entry
		trailing []byte
		// cut truncates the compressed file to this many bytes (0: no cut).
		cut int64
		// key is the public key verify is given; nil means no --key.
		key ed25519.PublicKey
		// skip is --insecure-skip-bundle-verify.
		skip      bool
		wantEntry string
		want      string
	}{
		{name: "signature altered", key: pub, wantEntry: SignatureName, want: "bad signature", make: func() []entry {
			out := append([]entry(nil), base...)
			sig := bytes.Clone(out[1].data)
			if sig[0] == 'A' {
				sig[0] = 'B'
			} else {
				sig[0] = 'A'
			}
			out[1] = reg(SignatureName, sig)
			return out
		}},
		{name: "signed by another key", key: otherPub, wantEntry: SignatureName, want: "signed by key " + KeyID(pub) + " (as its manifest says), not by key " + KeyID(otherPub), make: func() []entry { return base }},
		{name: "signed by another key, skip", key: otherPub, skip: true, wantEntry: SignatureName, want: "signed by key " + KeyID(pub) + " (as its manifest says), not by key " + KeyID(otherPub), make: func() []entry { return base }},
		{name: "manifest changed after signing", key: pub, wantEntry: SignatureName, want: "bad signature", make: func() []entry {
			out := append([]entry(nil), base...)
			out[0] = reg(ManifestName, bytes.Replace(out[0].data, []byte("docs-appliance test"), []byte("docs-appliance evil"), 1))
			return out
		}},
		{name: "signature stripped, key given", key: pub, wantEntry: SignatureName, want: "the signature was stripped", make: func() []entry { return without(base, 1) }},
		{name: "signature stripped, no key", wantEntry: SignatureName, want: "the signature was stripped", make: func() []entry { return without(base, 1) }},
		{name: "signature stripped, key given, skip", key: pub, skip: true, wantEntry: SignatureName, want: "the signature was stripped", make: func() []entry { return without(base, 1) }},
		{name: "signature stripped, skip", skip: true, wantEntry: SignatureName, want: "the signature was stripped", make: func() []entry { return without(base, 1) }},
		{name: "changed byte", key: pub, wantEntry: base[img].hdr.Name, want: "changed: its sha256 is", make: func() []entry {
			out := append([]entry(nil), base...)
			data := bytes.Clone(out[img].data)
			data[len(data)/2] ^= 0x01
			out[img] = entry{out[img].hdr, data}
			return out
		}},
		{name: "truncated archive", key: pub, want: "truncated", cut: -3},
		{name: "truncated inside the manifest", key: pub, wantEntry: ManifestName, want: "truncated", cut: 300},
		{name: "missing file", key: pub, wantEntry: base[chart].hdr.Name, want: "missing file", make: func() []entry { return without(base, chart) }},
		{name: "last file missing", key: pub, wantEntry: base[last].hdr.Name, want: "missing file: the archive ends after", make: func() []entry { return base[:last] }},
		{name: "extra file", key: pub, wantEntry: "charts/evil-1.0.0.tgz", want: "extra file", make: func() []entry {
			return append(append([]entry(nil), base...), reg("charts/evil-1.0.0.tgz", []byte("evil")))
		}},
		{name: "path with ..", key: pub, wantEntry: "../../etc/cron.d/evil", want: "escapes the bundle folder", make: func() []entry {
			return with(base, img, reg("../../etc/cron.d/evil", []byte("* * * * * root sh")))
		}},
		{name: "absolute path", key: pub, wantEntry: "/etc/cron.d/evil", want: "absolute path escapes", make: func() []entry {
			return with(base, img, reg("/etc/cron.d/evil", []byte("x")))
		}},
		{name: "symlink", key: pub, wantEntry: "images/link", want: "symbolic link", make: func() []entry {
			return with(base, img, link(tar.TypeSymlink, "images/link", "/etc/shadow"))
		}},
		{name: "hard link", key: pub, wantEntry: "images/hard", want: "hard link", make: func() []entry {
			return with(base, img, link(tar.TypeLink, "images/hard", "k3s/k3s"))
		}},
		{name: "character device", key: pub, wantEntry: "images/mem", want: "device file", make: func() []entry {
			return with(base, img, link(tar.TypeChar, "images/mem", ""))
		}},
		{name: "block device", key: pub, wantEntry: "images/sda", want: "device file", make: func() []entry {
			return with(base, img, link(tar.TypeBlock, "images/sda", ""))
		}},
		{name: "named pipe", key: pub, wantEntry: "images/fifo", want: "named pipe", make: func() []entry {
			return with(base, img, link(tar.TypeFifo, "images/fifo", ""))
		}},
		{name: "folder entry", key: pub, wantEntry: "images/sub", want: "folder entry", make: func() []entry {
			return with(base, img, link(tar.TypeDir, "images/sub", ""))
		}},
		{name: "size lies in the archive", key: pub, wantEntry: base[chart].hdr.Name, want: "size lies", make: func() []entry {
			out := append([]entry(nil), base...)
			out[chart] = entry{out[chart].hdr, append(bytes.Clone(out[chart].data), "more"...)}
			return out
		}},
		{name: "size lies in an unsigned manifest", skip: true, wantEntry: base[chart].hdr.Name, want: "size lies", make: func() []entry {
			return editManifest(t, base, nil, func(m *Manifest) {
				for i := range m.Files {
					if m.Files[i].Path == base[chart].hdr.Name {
						m.Files[i].Size++
					}
				}
			})
		}},
		{name: "manifest not first", key: pub, wantEntry: base[2].hdr.Name, want: "the first entry must be manifest.json", make: func() []entry {
			out := append([]entry(nil), base...)
			out[0], out[2] = out[2], out[0]
			return out
		}},
		{name: "manifest again later", key: pub, wantEntry: ManifestName, want: "appears again", make: func() []entry {
			return with(base, img, base[0])
		}},
		{name: "duplicate file", key: pub, wantEntry: base[img].hdr.Name, want: "appears twice", make: func() []entry {
			return with(base, img+1, base[img])
		}},
		{name: "files reordered", key: pub, wantEntry: base[img].hdr.Name, want: "missing file", make: func() []entry {
			out := append([]entry(nil), base...)
			out[img], out[img+1] = out[img+1], out[img]
			return out
		}},
		{name: "data after the archive", key: pub, wantEntry: "after the end of the archive", want: "data after the end", trailing: []byte("#!/bin/sh\nrm -rf /\n"), make: func() []entry { return base }},
		{name: "endless zeros after the archive", key: pub, wantEntry: "after the end of the archive", want: "data after the end", trailing: make([]byte, 2<<20), make: func() []entry { return base }},
		{name: "unsigned manifest lists a path with ..", skip: true, wantEntry: ManifestName, want: "escapes the bundle folder through ..", make: func() []entry {
			return editManifest(t, base, nil, func(m *Manifest) {
				m.Files = append(m.Files, File{Path: "flux/../../../root/.ssh/authorized_keys", Size: 1, SHA256: strings.Repeat("a", 64), Kind: KindFlux})
			})
		}},
		{name: "unsigned manifest drops an image", skip: true, wantEntry: ManifestName, want: "the train needs " + base[img].hdr.Name, make: func() []entry {
			out := editManifest(t, base, nil, func(m *Manifest) {
				for i := range m.Files {
					if m.Files[i].Path == base[img].hdr.Name {
						m.Files = append(m.Files[:i], m.Files[i+1:]...)
						break
					}
				}
			})
			return without(out, indexOf(t, out, base[img].hdr.Name))
		}},
		{name: "re-signed manifest pins another digest", key: pub, wantEntry: ManifestName, want: "has sha256", make: func() []entry {
			return editManifest(t, base, priv, func(m *Manifest) { m.Spec.Charts[0].SHA256 = strings.Repeat("1", 64) })
		}},
		{name: "oversized manifest", key: pub, wantEntry: ManifestName, want: "over the 16777216-byte limit", make: func() []entry {
			return []entry{reg(ManifestName, make([]byte, maxManifestSize+1))}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			bundle := filepath.Join(dir, "crafted.tar.zst")
			if c.make != nil {
				writeEntries(t, bundle, c.make(), c.trailing)
			} else {
				data, err := os.ReadFile(good)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(bundle, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if c.cut != 0 {
				info, _ := os.Stat(bundle)
				n := c.cut
				if n < 0 {
					n = info.Size() * 2 / -n
				}
				if err := os.Truncate(bundle, n); err != nil {
					t.Fatal(err)
				}
			}
			trust := Trust{Key: c.key, InsecureSkipVerify: c.skip}
			_, err := Verify(context.Background(), VerifyOptions{Bundle: bundle, Trust: trust})
			checkRejection(t, "verify", err, bundle, c.wantEntry, c.want)

			state := filepath.Join(dir, "state")
			_, err = Import(context.Background(), ImportOptions{Bundle: bundle, StateDir: state, Trust: trust})
			checkRejection(t, "import", err, bundle, c.wantEntry, c.want)
			assertNothingImported(t, state)
		})
	}
}

func checkRejection(t *testing.T, what string, err error, bundle, wantEntry, want string) {
	t.Helper()
	var be *BundleError
	if !errors.As(err, &be) {
		t.Fatalf("%s: want a *BundleError, got %v", what, err)
	}
	if !errors.Is(err, ErrInvalidBundle) {
		t.Errorf("%s: error does not wrap ErrInvalidBundle", what)
	}
	if be.Bundle != bundle || (wantEntry != "" && be.Entry != wantEntry) {
		t.Errorf("%s: error names bundle %q entry %q, want entry %q: %v", what, be.Bundle, be.Entry, wantEntry, err)
	}
	if !strings.Contains(err.Error(), want) || be.Fix == "" {
		t.Errorf("%s: error %q lacks %q or a fix", what, err, want)
	}
}

// assertNothingImported checks that a rejected import left no trace: the
// state folder it was given does not exist.
func assertNothingImported(t *testing.T, state string) {
	t.Helper()
	if entries, err := os.ReadDir(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a rejected import left the state folder %s holding %v (%v)", state, entries, err)
	}
}

func TestVerifyRejectsWhatIsNotABundle(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.tar")
	if err := os.WriteFile(plain, bytes.Repeat([]byte("not zstd"), 100), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Verify(context.Background(), VerifyOptions{Bundle: plain})
	checkRejection(t, "verify", err, plain, ManifestName, "not a zstd stream")

	_, err = Verify(context.Background(), VerifyOptions{Bundle: dir})
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("verify of a folder: %v", err)
	}
	_, err = Verify(context.Background(), VerifyOptions{Bundle: filepath.Join(dir, "missing.tar.zst")})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("verify of a missing file: %v", err)
	}
}

func TestVerifyAcceptsRecordPadding(t *testing.T) {
	good, pub, _ := sharedBundle(t)
	padded := filepath.Join(t.TempDir(), "padded.tar.zst")
	// GNU tar pads the archive to its 10 KiB record size.
	writeEntries(t, padded, readEntries(t, good), make([]byte, 9<<10))
	if _, err := Verify(context.Background(), VerifyOptions{Bundle: padded, Trust: Trust{Key: pub}}); err != nil {
		t.Fatalf("a zero-padded bundle was rejected: %v", err)
	}
}
