package airgap

import (
	"context"
	"crypto/ed25519"
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
	// PublicKey, when set, makes the signature mandatory and checked before
	// anything else. Without it the files are checked against the manifest
	// but nothing proves who made the bundle, and a warning says so.
	PublicKey ed25519.PublicKey
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
// folder; a rejected bundle leaves nothing behind. Importing the same
// bundle again (same manifest sha256, files in place) does nothing and says
// so. A killed import leaves a staging folder that the next import removes.
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
	f, _, err := openBundle(o.Bundle)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	sink := &importSink{o: &o}
	defer sink.cleanup()
	sc := &scanner{name: o.Bundle, key: o.PublicKey, st: o.Status, sink: sink, writes: true}
	res, err := sc.scan(ctx, f)
	if err != nil {
		if sink.started {
			o.Status.End(err)
		}
		return nil, err
	}
	out := &ImportResult{Dir: sink.target, Manifest: res.Manifest, ManifestSHA256: res.ManifestSHA256, Signed: res.Signed, SignatureChecked: res.Checked}
	if res.Stopped {
		out.AlreadyImported = true
		reportSignature(o.Status, res)
		return out, nil
	}
	replaced, err := sink.finish(res)
	if err != nil {
		return nil, o.Status.End(err)
	}
	o.Status.End(nil)
	reportSignature(o.Status, res)
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
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("creating bundles folder: %w", err)
	}
	unlock, err := lockDir(filepath.Join(root, lockName))
	if err != nil {
		return fmt.Errorf("locking bundles folder: %w", err)
	}
	s.unlock = unlock
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
func (s *importSink) finish(res *scanResult) (replaced bool, err error) {
	if err := os.WriteFile(filepath.Join(s.staging, ManifestName), res.Raw, 0o644); err != nil {
		return false, fmt.Errorf("writing %s: %w", ManifestName, err)
	}
	if res.Sig != nil {
		if err := os.WriteFile(filepath.Join(s.staging, SignatureName), res.Sig, 0o644); err != nil {
			return false, fmt.Errorf("writing %s: %w", SignatureName, err)
		}
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
// bundle) and releases the lock.
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

// importedAlready reports whether dir holds the bundle whose manifest has
// the given sha256, with every file present at its size. Sizes are checked
// because files are not fsynced one by one: after a power cut a short file
// means "import again". When dir holds something else, why says what.
func importedAlready(dir, manifestSHA string) (ok bool, why string) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		if fileExists(dir) {
			return false, fmt.Sprintf("%s has no %s: importing again", dir, ManifestName)
		}
		return false, ""
	}
	if err != nil {
		return false, fmt.Sprintf("reading %s: %v: importing again", filepath.Join(dir, ManifestName), err)
	}
	sum := sha256.Sum256(raw)
	if hex.EncodeToString(sum[:]) != manifestSHA {
		old, err := ParseManifest(raw)
		if err != nil {
			return false, fmt.Sprintf("replacing the unreadable bundle in %s", dir)
		}
		return false, fmt.Sprintf("replacing the bundle built %s in %s", old.Created.UTC().Format("2006-01-02 15:04 MST"), dir)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return false, fmt.Sprintf("replacing the unreadable bundle in %s", dir)
	}
	for _, f := range m.Files {
		info, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil || !info.Mode().IsRegular() || info.Size() != f.Size {
			return false, fmt.Sprintf("%s is incomplete (%s is missing or has the wrong size): importing again", dir, f.Path)
		}
	}
	return true, ""
}

// ReadImported reads the manifest of an imported bundle folder (as
// BundleDir names it), checks it, and, when pub is set, its signature.
// The files themselves were checked by Import.
func ReadImported(dir string, pub ed25519.PublicKey) (*Manifest, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("reading imported bundle: %w", err)
	}
	if pub != nil {
		sig, err := os.ReadFile(filepath.Join(dir, SignatureName))
		if err != nil {
			return nil, fmt.Errorf("reading imported bundle signature: %w", err)
		}
		if err := checkSignature(pub, raw, sig); err != nil {
			return nil, fmt.Errorf("checking imported bundle in %s: %w", dir, err)
		}
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("reading imported bundle manifest in %s: %w", dir, err)
	}
	return m, nil
}

// fileExists reports whether path exists (any type).
func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
