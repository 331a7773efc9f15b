package airgap

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/suitenumerique/docs-appliance/installer/status"
)

// ErrInvalidBundle is wrapped by every BundleError: the bundle is damaged,
// changed, incomplete or not signed as required.
var ErrInvalidBundle = errors.New("invalid bundle")

// BundleError names the bundle, the archive entry at fault, what is wrong
// and what to do about it.
type BundleError struct {
	// Bundle is the bundle file.
	Bundle string
	// Entry is the archive entry the problem is about; "" for the archive itself.
	Entry   string
	Problem string
	Fix     string
	Err     error
}

func (e *BundleError) Error() string {
	var b strings.Builder
	b.WriteString("bundle ")
	b.WriteString(e.Bundle)
	if e.Entry != "" {
		b.WriteString(": ")
		b.WriteString(e.Entry)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Fix != "" {
		b.WriteString(" (fix: ")
		b.WriteString(e.Fix)
		b.WriteString(")")
	}
	return b.String()
}

func (e *BundleError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidBundle, e.Err}
	}
	return []error{ErrInvalidBundle}
}

const (
	fixCopyAgain = "the bundle was changed or damaged after it was built: copy it again from its source and rerun `docs-appliance airgap verify`"
	fixTruncated = "the copy is incomplete: copy the bundle again and compare its size with the source"
	fixRebuild   = "this file was not made by `docs-appliance airgap build`, or was altered: rebuild it or get it again from its source"
)

// decoderConcurrency is the zstd decoder's goroutine count for a stream.
// One: bundle payloads are mostly already-compressed layers stored as raw
// zstd blocks, so decoding is little more than a copy; more decoder
// goroutines measured no faster on two cores and only take the core the
// hasher needs.
const decoderConcurrency = 1

// maxDecoderWindow bounds the memory a hostile stream can ask the decoder
// for; Build writes 8 MiB windows.
const maxDecoderWindow = 64 << 20

// scanSink receives what a scan finds. Verify hashes only; Import writes.
type scanSink interface {
	// manifest is called once the manifest is trusted and before any file
	// is read. Returning errStopScan ends the scan successfully.
	manifest(m *Manifest, raw, sig []byte) error
	// open returns where a file's bytes go, or nil to only hash them.
	open(f File) (io.Writer, error)
	// close finishes a file: ok reports whether its bytes matched the manifest.
	close(f File, ok bool) error
}

var errStopScan = errors.New("scan stopped early")

// scanResult is what a complete or stopped scan established.
type scanResult struct {
	Manifest *Manifest
	// ManifestSHA256 is the bundle's identity: two bundles with the same
	// manifest bytes hold the same files.
	ManifestSHA256 string
	Raw, Sig       []byte
	// Signed reports whether the bundle carries manifest.sig; Checked
	// whether it was verified against a key given by the operator.
	Signed, Checked bool
	// Stopped reports that the sink ended the scan after the manifest.
	Stopped bool
}

// scanner streams one bundle once: leading entries, signature, manifest,
// then every file checked against the manifest as it passes.
type scanner struct {
	name  string
	trust Trust
	st    *status.Status
	sink  scanSink
	// writes tells the pipeline to run its writer goroutine.
	writes bool
}

func (s *scanner) fail(entry, problem, fix string, err error) error {
	return &BundleError{Bundle: s.name, Entry: entry, Problem: problem, Fix: fix, Err: err}
}

// streamError turns a read error inside the archive into a BundleError.
func (s *scanner) streamError(entry string, err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return s.fail(entry, "the archive ends early (truncated)", fixTruncated, nil)
	case errors.Is(err, zstd.ErrMagicMismatch):
		return s.fail(entry, "not a zstd stream", "pass a docs-appliance-<train>-<arch>.tar.zst file made by `airgap build`", nil)
	case errors.Is(err, tar.ErrHeader), errors.Is(err, tar.ErrFieldTooLong):
		return s.fail(entry, "the archive has a corrupt tar header", fixCopyAgain, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return s.fail(entry, "the archive is corrupt", fixCopyAgain, err)
}

// ctxReader stops a scan promptly when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (s *scanner) scan(ctx context.Context, in io.Reader) (*scanResult, error) {
	// The frame checksum is not checked: every byte that reaches the disk is
	// covered by a sha256 in the manifest, and the manifest by its
	// signature, so the decoder's xxhash would only cost time.
	zr, err := zstd.NewReader(ctxReader{ctx, in},
		zstd.WithDecoderConcurrency(decoderConcurrency),
		zstd.WithDecoderMaxWindow(maxDecoderWindow),
		zstd.IgnoreChecksum(true))
	if err != nil {
		return nil, fmt.Errorf("starting zstd decoder: %w", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)

	res, hdr, err := s.readHead(tr)
	if err != nil {
		return nil, err
	}
	m := res.Manifest
	if err := s.sink.manifest(m, res.Raw, res.Sig); err != nil {
		if errors.Is(err, errStopScan) {
			res.Stopped = true
			return res, nil
		}
		return nil, err
	}

	index := make(map[string]int, len(m.Files))
	for i, f := range m.Files {
		index[f.Path] = i
	}
	p := newPipeline(s.writes)
	defer p.stop()
	mt := startMeter(s.st, m.UnpackedSize())
	defer mt.stop()

	next := 0
	for {
		if hdr == nil {
			hdr, err = tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				after := "after the leading entries"
				if next > 0 {
					after = "after " + m.Files[next-1].Path
				}
				return nil, s.streamError(after, err)
			}
		}
		if err := s.checkHeader(hdr); err != nil {
			return nil, err
		}
		i, listed := index[hdr.Name]
		switch {
		case hdr.Name == ManifestName || hdr.Name == SignatureName:
			return nil, s.fail(hdr.Name, "appears again after the leading entries", fixRebuild, nil)
		case !listed:
			return nil, s.fail(hdr.Name, "extra file: the manifest does not list it", fixRebuild, nil)
		case i < next:
			return nil, s.fail(hdr.Name, "appears twice in the archive", fixRebuild, nil)
		case i > next:
			return nil, s.fail(m.Files[next].Path, fmt.Sprintf("missing file: the manifest lists it before %s, which comes next in the archive", hdr.Name), fixRebuild, nil)
		}
		f := m.Files[i]
		if hdr.Size != f.Size {
			return nil, s.fail(f.Path, fmt.Sprintf("size lies: the archive header says %d bytes, the manifest %d", hdr.Size, f.Size), fixCopyAgain, nil)
		}
		w, err := s.sink.open(f)
		if err != nil {
			return nil, err
		}
		sum, readErr, writeErr := p.copyFile(tr, f.Size, w, mt.add)
		ok := readErr == nil && writeErr == nil && sum == f.SHA256
		if err := s.sink.close(f, ok); err != nil && writeErr == nil {
			writeErr = err
		}
		if readErr != nil {
			return nil, s.streamError(f.Path, readErr)
		}
		if writeErr != nil {
			return nil, writeErr
		}
		if sum != f.SHA256 {
			return nil, s.fail(f.Path, fmt.Sprintf("changed: its sha256 is %s but the manifest says %s", sum, f.SHA256), fixCopyAgain, nil)
		}
		next++
		hdr = nil
	}
	if next < len(m.Files) {
		return nil, s.fail(m.Files[next].Path, fmt.Sprintf("missing file: the archive ends after %d of %d files (truncated, or the file was removed)", next, len(m.Files)), fixTruncated, nil)
	}
	// Past the tar end marker only zero padding may follow; reading to EOF
	// also makes the decoder check the frame checksum.
	if err := drainZeros(zr); err != nil {
		return nil, s.streamError("after the end of the archive", err)
	}
	return res, nil
}

var errTrailingData = errors.New("data after the end of the tar archive")

// maxTrailingZeros bounds the padding accepted after the tar end marker
// (tar tools pad to their record size, 10 KiB by default), so a stream of
// zeros cannot keep a scan busy.
const maxTrailingZeros = 1 << 20

func drainZeros(r io.Reader) error {
	buf := make([]byte, 64<<10)
	var total int
	for {
		n, err := r.Read(buf)
		if total += n; total > maxTrailingZeros {
			return errTrailingData
		}
		for _, b := range buf[:n] {
			if b != 0 {
				return errTrailingData
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readHead reads manifest.json and manifest.sig, checks the signature
// before anything in the manifest is used, then parses the manifest. It
// returns the first file header when the bundle is unsigned.
func (s *scanner) readHead(tr *tar.Reader) (*scanResult, *tar.Header, error) {
	hdr, err := tr.Next()
	if err != nil {
		return nil, nil, s.streamError(ManifestName, err)
	}
	if err := s.checkHeader(hdr); err != nil {
		return nil, nil, err
	}
	if hdr.Name != ManifestName {
		return nil, nil, s.fail(hdr.Name, "the first entry must be "+ManifestName, fixRebuild, nil)
	}
	raw, err := s.readSmall(tr, hdr, maxManifestSize)
	if err != nil {
		return nil, nil, err
	}
	res := &scanResult{Raw: raw}
	sum := sha256.Sum256(raw)
	res.ManifestSHA256 = hex.EncodeToString(sum[:])

	hdr, err = tr.Next()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, s.streamError("after "+ManifestName, err)
	}
	if err == nil {
		if err := s.checkHeader(hdr); err != nil {
			return nil, nil, err
		}
	}
	if hdr != nil && hdr.Name == SignatureName {
		if res.Sig, err = s.readSmall(tr, hdr, maxSignatureSize); err != nil {
			return nil, nil, err
		}
		res.Signed = true
		hdr = nil
	}
	if errors.Is(err, io.EOF) {
		// The empty tail is reported as a missing file once the manifest is parsed.
		hdr = nil
	}

	// Decide on the signature from the raw bytes: nothing parsed yet.
	if err := s.checkTrust(res); err != nil {
		return nil, nil, err
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, nil, s.fail(ManifestName, "invalid manifest", fixRebuild, err)
	}
	switch {
	case res.Signed && m.KeyID == "":
		return nil, nil, s.fail(SignatureName, "present but the manifest names no signing key", fixRebuild, nil)
	case !res.Signed && m.KeyID != "":
		return nil, nil, s.fail(SignatureName, fmt.Sprintf("missing, but the manifest says key %s signed the bundle: the signature was stripped or lost", m.KeyID), "copy the bundle again from its source", nil)
	case res.Checked && m.KeyID != KeyID(s.trust.Key):
		return nil, nil, s.fail(ManifestName, fmt.Sprintf("names signing key %s but the signature verifies with %s", m.KeyID, KeyID(s.trust.Key)), fixRebuild, nil)
	}
	res.Manifest = m
	return res, hdr, nil
}

func (s *scanner) readSmall(tr *tar.Reader, hdr *tar.Header, max int64) ([]byte, error) {
	if hdr.Size > max {
		return nil, s.fail(hdr.Name, fmt.Sprintf("%d bytes is over the %d-byte limit", hdr.Size, max), fixRebuild, nil)
	}
	buf := make([]byte, hdr.Size)
	if _, err := io.ReadFull(tr, buf); err != nil {
		return nil, s.streamError(hdr.Name, err)
	}
	return buf, nil
}

// checkHeader accepts regular files with safe names only: links, devices,
// folders and anything else could make the unpacked tree differ from what
// the manifest describes.
func (s *scanner) checkHeader(hdr *tar.Header) error {
	if problem := checkEntryPath(hdr.Name); problem != "" {
		return s.fail(hdr.Name, problem, fixRebuild, nil)
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		if hdr.Size < 0 {
			return s.fail(hdr.Name, "negative size", fixRebuild, nil)
		}
		return nil
	case tar.TypeSymlink:
		return s.fail(hdr.Name, fmt.Sprintf("is a symbolic link to %q; bundles hold regular files only", hdr.Linkname), fixRebuild, nil)
	case tar.TypeLink:
		return s.fail(hdr.Name, fmt.Sprintf("is a hard link to %q; bundles hold regular files only", hdr.Linkname), fixRebuild, nil)
	case tar.TypeChar, tar.TypeBlock:
		return s.fail(hdr.Name, "is a device file; bundles hold regular files only", fixRebuild, nil)
	case tar.TypeFifo:
		return s.fail(hdr.Name, "is a named pipe; bundles hold regular files only", fixRebuild, nil)
	case tar.TypeDir:
		return s.fail(hdr.Name, "is a folder entry; bundles hold regular files only", fixRebuild, nil)
	default:
		return s.fail(hdr.Name, fmt.Sprintf("has tar type %q; bundles hold regular files only", hdr.Typeflag), fixRebuild, nil)
	}
}
