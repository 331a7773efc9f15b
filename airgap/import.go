package airgap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/atomicfile"

	"github.com/suitenumerique/docs-appliance/installer/status"
)

// ImportOptions say which bundle to import where.
type ImportOptions struct {
	// Bundle is the .tar.zst file.
	Bundle string
	// StateDir is the appliance's state folder as a host path (already
	// under --root); the bundle lands in BundleDir(StateDir, train, arch).
	StateDir string
	// Trust says which signature the bundle must carry; it is checked
	// before anything is written. The zero value refuses every bundle
	// (see Trust).
	Trust Trust
	// Train and Arch, when set, are what the caller expects the bundle to
	// be (install --bundle passes the train it installs): another train or
	// architecture is refused before anything is written.
	Train, Arch string
	Status      *status.Status

	// freeSpace reports the free bytes of the filesystem holding dir; tests
	// replace it to simulate a full disk.
	freeSpace func(dir string) (int64, error)
	// onFile is called after each file is written and verified; tests use
	// it to stop an import midway.
	onFile func(File)
}

// ImportResult says what Import did.
type ImportResult struct {
	// Dir is the bundle folder, BundleDir(StateDir, train, arch).
	Dir            string
	Manifest       *Manifest
	ManifestSHA256 string
	// AlreadyImported: Dir already held this exact bundle; nothing changed.
	AlreadyImported bool
	// Replaced: Dir held another bundle of the same train and architecture,
	// now replaced.
	Replaced                 bool
	Signed, SignatureChecked bool
	// InsecureSkipVerify: the bundle was accepted without a checked
	// signature, because Trust.InsecureSkipVerify allowed it; Record
	// (import.json in Dir) says so too.
	InsecureSkipVerify bool
	Record             ImportRecord
}

// DiskSpaceError reports a filesystem too full for a bundle.
type DiskSpaceError struct {
	Dir        string
	Unpacked   int64
	Need, Free int64
}

func (e *DiskSpaceError) Error() string {
	return fmt.Sprintf("not enough free space in %s: the bundle unpacks to %s and needs %s with a safety margin, but only %s is free (fix: free %s there, or import with --state-dir on a larger filesystem)",
		e.Dir, status.HumanBytes(e.Unpacked), status.HumanBytes(e.Need), status.HumanBytes(e.Free), status.HumanBytes(e.Need-e.Free))
}

// diskMargin is what a bundle needs on top of its unpacked size: room for
// the filesystem's own blocks and for the rest of the host not to choke.
func diskMargin(unpacked int64) int64 { return unpacked/20 + 64<<20 }

// Names inside <stateDir>/bundles/ that only Import uses.
const (
	lockName      = ".lock"
	stagingPrefix = ".import-"
	retiredPrefix = ".retired-"
)

// Import checks and unpacks a bundle in one streaming pass: the manifest
// and its signature first, then free disk space, then every file hashed as
// it is written into a staging folder beside the target. Only a bundle that
// verified completely is moved into BundleDir, by renaming the staging
// folder; a rejected bundle leaves nothing behind: not its staging folder,
// not the lock, not the folders it created. Importing the same bundle
// again (same manifest sha256, files in place) does nothing but record how
// its signature was checked this time, and says so. A killed import leaves
// a staging folder (and the lock file) that the next import removes.
func Import(ctx context.Context, o ImportOptions) (*ImportResult, error) {
	if o.Status == nil {
		o.Status = status.Discard()
	}
	if o.freeSpace == nil {
		o.freeSpace = freeBytes
	}
	if o.StateDir == "" {
		return nil, errors.New("importing bundle: no state folder given: pass --state-dir")
	}
	warnSkip(o.Status, o.Trust)
	f, _, err := openBundle(o.Bundle)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	sink := &importSink{o: &o}
	defer sink.cleanup()
	sc := &scanner{name: o.Bundle, trust: o.Trust, st: o.Status, sink: sink, writes: true}
	res, err := sc.scan(ctx, f)
	if err != nil {
		if sink.started {
			o.Status.End(err)
		}
		return nil, err
	}
	rec := newImportRecord(o, res)
	out := &ImportResult{Dir: sink.target, Manifest: res.Manifest, ManifestSHA256: res.ManifestSHA256, Signed: res.Signed, SignatureChecked: res.Checked, InsecureSkipVerify: rec.InsecureSkipVerify, Record: rec}
	if res.Stopped {
		out.AlreadyImported = true
		reportSignature(o.Status, o.Trust, res)
		if err := updateImportRecord(sink.target, rec); err != nil {
			return nil, err
		}
		return out, nil
	}
	replaced, err := sink.finish(res, rec)
	if err != nil {
		return nil, o.Status.End(err)
	}
	o.Status.End(nil)
	reportSignature(o.Status, o.Trust, res)
	out.Replaced = replaced
	m := res.Manifest
	o.Status.Info("train %s for %s imported into %s (%d files, %s)", m.Train, m.Arch, sink.target, len(m.Files), status.HumanBytes(m.UnpackedSize()))
	return out, nil
}

// importSink writes the files of a trusted manifest into a staging folder.
type importSink struct {
	o       *ImportOptions
	target  string
	staging string
	unlock  func()
	// created are the folders this import made, outermost first; a
	// rejected import removes them again.
	created []string
	started bool
	cur     *os.File
}

func (s *importSink) manifest(m *Manifest, raw, sig []byte) error {
	o := s.o
	if o.Train != "" && m.Train != o.Train {
		return fmt.Errorf("bundle %s carries train %s but train %s is wanted: pass the bundle built for %s", o.Bundle, m.Train, o.Train, o.Train)
	}
	if o.Arch != "" && m.Arch != o.Arch {
		return fmt.Errorf("bundle %s is built for %s but this host is %s: build the bundle with --arch %s", o.Bundle, m.Arch, o.Arch, o.Arch)
	}
	sum := sha256.Sum256(raw)
	id := hex.EncodeToString(sum[:])
	s.target = BundleDir(o.StateDir, m.Train, m.Arch)
	if ok, _ := importedAlready(s.target, id); ok {
		o.Status.Skip("importing "+filepath.Base(o.Bundle), fmt.Sprintf("train %s for %s is already imported in %s (same manifest sha256 %s)", m.Train, m.Arch, s.target, id[:12]))
		return errStopScan
	}
	root := bundlesRoot(o.StateDir)
	if err := s.checkSpace(root, m.UnpackedSize()); err != nil {
		return err
	}
	if err := s.lock(root); err != nil {
		return err
	}
	// Holding the lock, no other import runs: any staging folder is a
	// leftover of a killed one.
	if err := removeLeftovers(root); err != nil {
		return err
	}
	// Another import may have finished while this one waited for the lock.
	ok, why := importedAlready(s.target, id)
	if ok {
		o.Status.Skip("importing "+filepath.Base(o.Bundle), fmt.Sprintf("train %s for %s was imported in %s meanwhile (same manifest sha256 %s)", m.Train, m.Arch, s.target, id[:12]))
		return errStopScan
	}
	if why != "" {
		o.Status.Info("%s", why)
	}
	staging, err := os.MkdirTemp(root, stagingPrefix+m.Train+"-"+m.Arch+"-")
	if err != nil {
		return fmt.Errorf("creating staging folder: %w", err)
	}
	if err := os.Chmod(staging, 0o755); err != nil {
		return fmt.Errorf("creating staging folder: %w", err)
	}
	s.staging = staging
	s.started = true
	o.Status.Start(fmt.Sprintf("importing %s (train %s for %s, %s)", filepath.Base(o.Bundle), m.Train, m.Arch, status.HumanBytes(m.UnpackedSize())))
	return nil
}

// lock creates the bundles folder and takes its lock. The folder can vanish
// between the two: a rejected import that created it removes it again, so
// a missing folder is made once more.
func (s *importSink) lock(root string) error {
	for attempt := 0; ; attempt++ {
		created, err := mkdirAll(root, 0o755)
		s.created = append(s.created, created...)
		if err != nil {
			return fmt.Errorf("creating bundles folder: %w", err)
		}
		unlock, err := lockFile(filepath.Join(root, lockName))
		if err == nil {
			s.unlock = unlock
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 100 {
			return fmt.Errorf("locking bundles folder: %w", err)
		}
	}
}

func (s *importSink) checkSpace(root string, unpacked int64) error {
	dir := root
	// Measure the filesystem the bundle will land on, before creating anything.
	for !fileExists(dir) {
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	free, err := s.o.freeSpace(dir)
	if err != nil {
		return fmt.Errorf("checking free space in %s: %w", dir, err)
	}
	need := unpacked + diskMargin(unpacked)
	if free < need {
		return &DiskSpaceError{Dir: dir, Unpacked: unpacked, Need: need, Free: free}
	}
	return nil
}

func (s *importSink) open(f File) (io.Writer, error) {
	p := filepath.Join(s.staging, filepath.FromSlash(f.Path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, fmt.Errorf("importing %s: %w", f.Path, err)
	}
	mode := os.FileMode(0o644)
	if f.Executable {
		mode = 0o755
	}
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", f.Path, err)
	}
	if err := out.Chmod(mode); err != nil {
		out.Close()
		return nil, fmt.Errorf("importing %s: %w", f.Path, err)
	}
	preallocate(out, f.Size)
	s.cur = out
	return out, nil
}

func (s *importSink) close(f File, ok bool) error {
	if s.cur == nil {
		return nil
	}
	err := s.cur.Close()
	s.cur = nil
	if err != nil {
		return fmt.Errorf("importing %s: %w", f.Path, err)
	}
	if ok && s.o.onFile != nil {
		s.o.onFile(f)
	}
	return nil
}

// finish writes the manifest and signature into the staging folder, then
// moves it into place in one rename (an exchange when a previous bundle of
// the same train sits there).
func (s *importSink) finish(res *scanResult, rec ImportRecord) (replaced bool, err error) {
	if err := os.WriteFile(filepath.Join(s.staging, ManifestName), res.Raw, 0o644); err != nil {
		return false, fmt.Errorf("writing %s: %w", ManifestName, err)
	}
	if res.Sig != nil {
		if err := os.WriteFile(filepath.Join(s.staging, SignatureName), res.Sig, 0o644); err != nil {
			return false, fmt.Errorf("writing %s: %w", SignatureName, err)
		}
	}
	if err := writeImportRecord(s.staging, rec); err != nil {
		return false, err
	}
	root := filepath.Dir(s.target)
	if fileExists(s.target) {
		if err := renameExchange(s.staging, s.target); err == nil {
			// s.staging now holds the old bundle; cleanup removes it.
			atomicfile.SyncDir(root)
			return true, nil
		}
		// No atomic exchange here: retire the old folder first. A crash
		// between the two renames leaves no bundle folder, and the rerun
		// imports again.
		retired := filepath.Join(root, retiredPrefix+filepath.Base(s.target))
		if err := os.RemoveAll(retired); err != nil {
			return false, fmt.Errorf("removing %s: %w", retired, err)
		}
		if err := os.Rename(s.target, retired); err != nil {
			return false, fmt.Errorf("moving the previous bundle aside: %w", err)
		}
		replaced = true
		defer os.RemoveAll(retired)
	}
	if err := os.Rename(s.staging, s.target); err != nil {
		return false, fmt.Errorf("moving the bundle into place: %w", err)
	}
	s.staging = ""
	atomicfile.SyncDir(root)
	return replaced, nil
}

// cleanup removes the staging folder (or, after an exchange, the previous
// bundle), releases the lock (removing its file), then removes the folders
// this import created that are empty: all of them after a rejected import,
// none after a successful one.
func (s *importSink) cleanup() {
	if s.cur != nil {
		s.cur.Close()
	}
	if s.staging != "" {
		os.RemoveAll(s.staging)
	}
	if s.unlock != nil {
		s.unlock()
	}
	for i := len(s.created) - 1; i >= 0; i-- {
		os.Remove(s.created[i]) // fails, as it should, on a folder in use
	}
}

// mkdirAll is os.MkdirAll returning the folders it made, outermost first
// (not those another process made at the same time).
func mkdirAll(dir string, perm os.FileMode) ([]string, error) {
	var missing []string
	for d := dir; !fileExists(d); d = filepath.Dir(d) {
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	var created []string
	for i := len(missing) - 1; i >= 0; i-- {
		err := os.Mkdir(missing[i], perm)
		switch {
		case err == nil:
			created = append(created, missing[i])
		case !errors.Is(err, fs.ErrExist):
			return created, err
		}
	}
	return created, nil
}

func removeLeftovers(root string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("listing %s: %w", root, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), stagingPrefix) || strings.HasPrefix(e.Name(), retiredPrefix) {
			if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
				return fmt.Errorf("removing the leftover of an interrupted import %s: %w", e.Name(), err)
			}
		}
	}
	return nil
}

// fileExists reports whether path exists (any type).
func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
