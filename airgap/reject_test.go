package airgap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stateSnapshot lists every entry under dir with its type, mode and, for
// files, the sha256 of its bytes: two snapshots are equal when the tree
// holds the same bytes. Folder mtimes are left out: creating and removing
// an entry changes its folder's mtime, not its content.
func stateSnapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b.WriteString(rel + " " + info.Mode().String())
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			b.WriteString(" " + hex.EncodeToString(sum[:]))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// "A rejected bundle leaves nothing behind": whatever the reason, and at
// whatever point it is found, the state folder holds the same bytes after
// the import as before: no lock file, no bundles folder, no staging folder,
// no partial file.
func TestRejectedImportLeavesTheStateFolderAsItWas(t *testing.T) {
	good, pub, _ := sharedBundle(t)
	base := readEntries(t, good)
	otherPub, otherPriv := testKey(t)
	img := indexOf(t, base, "images/")
	last := len(base) - 1
	flip := func(entries []entry, i int) []entry {
		out := append([]entry(nil), entries...)
		data := bytes.Clone(out[i].data)
		data[len(data)/2] ^= 0x01
		out[i] = entry{out[i].hdr, data}
		return out
	}
	unsigned := func() []entry { return editManifest(t, base, nil, func(*Manifest) {}) }
	key := Trust{Key: pub}
	cases := []struct {
		name string
		make func() []entry
		opts ImportOptions
		want string
	}{
		{"tampered image", func() []entry { return flip(base, img) }, ImportOptions{Trust: key}, "changed: its sha256 is"},
		{"tampered last file", func() []entry { return flip(base, last) }, ImportOptions{Trust: key}, "changed: its sha256 is"},
		{"truncated", func() []entry { return base[:last] }, ImportOptions{Trust: key}, "missing file"},
		{"unsigned", unsigned, ImportOptions{Trust: key}, "the bundle is unsigned but must be signed"},
		{"unsigned, no key", unsigned, ImportOptions{}, "no release key built in"},
		{"signed, no key", func() []entry { return base }, ImportOptions{}, "no release key built in"},
		{"signed by another key", func() []entry {
			return editManifest(t, base, otherPriv, func(m *Manifest) { m.KeyID = KeyID(otherPub) })
		}, ImportOptions{Trust: key}, "signed by key " + KeyID(otherPub) + " (as its manifest says), not by key " + KeyID(pub)},
		{"another train", func() []entry { return base }, ImportOptions{Trust: key, Train: "2031.01"}, "train 2031.01 is wanted"},
		{"another architecture", func() []entry { return base }, ImportOptions{Trust: key, Arch: "arm64"}, "this host is arm64"},
		{"tampered unsigned, skip", func() []entry { return flip(unsigned(), img) }, ImportOptions{Trust: Trust{InsecureSkipVerify: true}}, "changed: its sha256 is"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			bundle := filepath.Join(dir, "crafted.tar.zst")
			writeEntries(t, bundle, c.make(), nil)
			state := filepath.Join(dir, "state")
			if err := os.Mkdir(state, 0o755); err != nil {
				t.Fatal(err)
			}
			before := stateSnapshot(t, state)
			o := c.opts
			o.Bundle, o.StateDir = bundle, state
			_, err := Import(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("import: error %v, want one saying %q", err, c.want)
			}
			if after := stateSnapshot(t, state); after != before {
				t.Errorf("the rejected import changed the state folder:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// pausedImport runs an import in the background that stops after its first
// file, holding the bundles lock, until resume is closed.
type pausedImport struct {
	resume chan struct{}
	done   chan error
	res    *ImportResult
}

func startPausedImport(t *testing.T, o ImportOptions) *pausedImport {
	t.Helper()
	p := &pausedImport{resume: make(chan struct{}), done: make(chan error, 1)}
	paused := make(chan struct{})
	first := true
	o.onFile = func(File) {
		if first {
			first = false
			close(paused)
			<-p.resume
		}
	}
	go func() {
		res, err := Import(context.Background(), o)
		p.res = res
		p.done <- err
	}()
	select {
	case <-paused:
	case err := <-p.done:
		t.Fatalf("the import to pause ended first: %v", err)
	}
	return p
}

// startImport runs an import in the background and checks that it is still
// waiting (for the lock) a moment later.
func startWaitingImport(t *testing.T, o ImportOptions) (done chan error, res **ImportResult) {
	t.Helper()
	done = make(chan error, 1)
	res = new(*ImportResult)
	go func() {
		r, err := Import(context.Background(), o)
		*res = r
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("a second import ran while the first held the lock: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	return done, res
}

// Two imports of the same bundle at once: the second waits for the lock,
// then finds the bundle imported; no lock file is left once both ended.
func TestConcurrentImportsTakeTurns(t *testing.T) {
	bundle, pub, _ := sharedBundle(t)
	state := filepath.Join(t.TempDir(), "state")
	o := ImportOptions{Bundle: bundle, StateDir: state, Trust: Trust{Key: pub}}
	first := startPausedImport(t, o)
	done, second := startWaitingImport(t, o)
	close(first.resume)
	if err := <-first.done; err != nil {
		t.Fatalf("first import: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("second import: %v", err)
	}
	if first.res.AlreadyImported || !(*second).AlreadyImported {
		t.Fatalf("first %+v, second %+v: want the second to find the first's bundle", first.res, *second)
	}
	assertOnlyBundleFolders(t, state, filepath.Base(first.res.Dir))
}

// A rejected import that created the bundles folder removes it and its
// lock while another import waits for that lock: the waiting import takes
// the lock anew and imports.
func TestImportWaitingOnARejectedImportSucceeds(t *testing.T) {
	good, pub, _ := sharedBundle(t)
	entries := readEntries(t, good)
	last := len(entries) - 1
	data := bytes.Clone(entries[last].data)
	data[0] ^= 0x01
	entries[last] = entry{entries[last].hdr, data}
	bad := filepath.Join(t.TempDir(), "tampered.tar.zst")
	writeEntries(t, bad, entries, nil)

	state := filepath.Join(t.TempDir(), "state")
	first := startPausedImport(t, ImportOptions{Bundle: bad, StateDir: state, Trust: Trust{Key: pub}})
	done, second := startWaitingImport(t, ImportOptions{Bundle: good, StateDir: state, Trust: Trust{Key: pub}})
	close(first.resume)
	if err := <-first.done; err == nil || !strings.Contains(err.Error(), "changed: its sha256 is") {
		t.Fatalf("tampered import: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the import that waited: %v", err)
	}
	if (*second).AlreadyImported {
		t.Fatal("the import that waited claims the rejected one had imported")
	}
	assertOnlyBundleFolders(t, state, filepath.Base((*second).Dir))
	if _, err := ReadImported((*second).Dir, pub); err != nil {
		t.Fatal(err)
	}
}
