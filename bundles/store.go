package bundles

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

//go:embed charts
var embeddedCharts embed.FS

// ChartStore finds a train's packaged charts.
type ChartStore interface {
	// Open returns the packaged chart (.tgz bytes), verified against the
	// train's sha256 when the train pins one.
	Open(c Chart) ([]byte, error)
	// Has reports whether the store carries the chart (without verifying it).
	Has(c Chart) bool
	// Where names the store for messages, e.g. "folder /srv/charts".
	Where() string
}

// ErrChartMissing is wrapped by every missing-chart error.
var ErrChartMissing = errors.New("chart missing")

// ChartMissingError names the chart, the places searched and how to get it.
type ChartMissingError struct {
	Chart    Chart
	Searched []string
}

func (e *ChartMissingError) Error() string {
	return fmt.Sprintf("chart %s %s (%s) is not in %s; get it with `make charts` on a connected machine, "+
		"pass --charts DIR holding %s, or install from an air-gap bundle (--bundle FILE)",
		e.Chart.Name, e.Chart.Version, e.Chart.Repository, strings.Join(e.Searched, ", "), e.Chart.FileName())
}

func (e *ChartMissingError) Unwrap() error { return ErrChartMissing }

// ChartDigestError reports a chart whose bytes do not match the train.
type ChartDigestError struct {
	Chart      Chart
	Where, Got string
}

func (e *ChartDigestError) Error() string {
	return fmt.Sprintf("chart %s %s in %s has sha256 %s but the train pins %s; the file is corrupt or not the pinned release: fetch it again",
		e.Chart.Name, e.Chart.Version, e.Where, e.Got, e.Chart.SHA256)
}

type fsStore struct {
	fsys  fs.FS
	dir   string
	where string
}

// EmbeddedStore is the set of charts compiled into this binary.
func EmbeddedStore() ChartStore {
	return &fsStore{fsys: embeddedCharts, dir: "charts", where: "this binary (built without `make charts`)"}
}

// DirStore reads charts from a folder of <name>-<version>.tgz files, as
// `--charts DIR` and an imported bundle's charts/ folder hold them.
func DirStore(dir string) ChartStore {
	return &fsStore{fsys: os.DirFS(dir), dir: ".", where: "folder " + dir}
}

func (s *fsStore) Where() string { return s.where }

func (s *fsStore) Has(c Chart) bool {
	_, err := fs.Stat(s.fsys, filepath.ToSlash(filepath.Join(s.dir, c.FileName())))
	return err == nil
}

func (s *fsStore) Open(c Chart) ([]byte, error) {
	data, err := fs.ReadFile(s.fsys, filepath.ToSlash(filepath.Join(s.dir, c.FileName())))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &ChartMissingError{Chart: c, Searched: []string{s.where}}
	}
	if err != nil {
		return nil, fmt.Errorf("reading chart %s from %s: %w", c.FileName(), s.where, err)
	}
	if c.SHA256 != "" {
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != c.SHA256 {
			return nil, &ChartDigestError{Chart: c, Where: s.where, Got: got}
		}
	}
	return data, nil
}

type chainStore []ChartStore

// Chain searches stores in order: the first that has a chart serves it.
func Chain(stores ...ChartStore) ChartStore { return chainStore(stores) }

func (c chainStore) Where() string {
	w := make([]string, len(c))
	for i, s := range c {
		w[i] = s.Where()
	}
	return strings.Join(w, ", ")
}

func (c chainStore) Has(ch Chart) bool {
	for _, s := range c {
		if s.Has(ch) {
			return true
		}
	}
	return false
}

func (c chainStore) Open(ch Chart) ([]byte, error) {
	for _, s := range c {
		if s.Has(ch) {
			return s.Open(ch)
		}
	}
	searched := make([]string, len(c))
	for i, s := range c {
		searched[i] = s.Where()
	}
	return nil, &ChartMissingError{Chart: ch, Searched: searched}
}
