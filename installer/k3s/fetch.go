package k3s

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// place puts an artifact at dest (a host path) from a bundle file or a URL, verified against
// sha when sha is set, written atomically. When dest already holds content with that sha
// nothing is read at all. It reports whether dest changed.
func (p *provisioner) place(ctx context.Context, dest, file, url, sha string, mode fs.FileMode) (bool, error) {
	if sha != "" {
		if cur, err := p.Root.SHA256File(dest); err == nil && cur == sha {
			return p.Root.WriteFile(dest, nil, mode) // only the mode may need fixing
		}
	}
	var src io.Reader
	var total int64
	switch {
	case file != "":
		f, err := os.Open(p.Root.Path(file))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return false, fmt.Errorf("reading %s from the bundle: the file is missing (is the bundle for this train and architecture imported?)", file)
			}
			return false, fmt.Errorf("reading %s from the bundle: %w", file, err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			total = st.Size()
		}
		src = f
	default:
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, fmt.Errorf("downloading %s: %w", url, err)
		}
		resp, err := p.HTTPClient.Do(req)
		if err != nil {
			return false, fmt.Errorf("downloading %s: %w", url, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return false, fmt.Errorf("downloading %s: the server answered %s: %s", url, resp.Status, body)
		}
		total = resp.ContentLength
		src = resp.Body
	}
	src = &progressReader{r: src, total: total, st: p.st}
	_, changed, err := p.Root.WriteStream(dest, src, mode, sha)
	if err != nil {
		var ce *host.ChecksumError
		if errors.As(err, &ce) {
			from := file
			if from == "" {
				from = url
			}
			return false, fmt.Errorf("verifying %s (from %s): %w", dest, from, err)
		}
		return false, err
	}
	return changed, nil
}

// progressReader reports bytes read to the status every few MiB.
type progressReader struct {
	r            io.Reader
	done, total  int64
	lastReported int64
	st           *status.Status
}

const progressEvery = 4 << 20

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.done += int64(n)
	if pr.done-pr.lastReported >= progressEvery || (err == io.EOF && pr.done != pr.lastReported) {
		pr.lastReported = pr.done
		pr.st.Bytes(pr.done, pr.total)
	}
	return n, err
}
