package bundles

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDirStoreVerifiesAndReportsMissing(t *testing.T) {
	dir := t.TempDir()
	payload := []byte("not really a tgz, but bytes to hash")
	sum := sha256.Sum256(payload)
	c := Chart{Name: "docs", Version: "5.4.1", Repository: "https://example.org", SHA256: hex.EncodeToString(sum[:])}
	if err := os.WriteFile(filepath.Join(dir, c.FileName()), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	s := Chain(EmbeddedStore(), DirStore(dir))
	got, err := s.Open(c)
	if err != nil || string(got) != string(payload) {
		t.Fatalf("open = %q, %v", got, err)
	}

	bad := c
	bad.SHA256 = strings.Repeat("0", 64)
	var de *ChartDigestError
	if _, err := s.Open(bad); !errors.As(err, &de) {
		t.Fatalf("want a digest error, got %v", err)
	}

	missing := Chart{Name: "kyverno", Version: "3.9.0", Repository: "https://kyverno.github.io/kyverno/"}
	_, err = s.Open(missing)
	if !errors.Is(err, ErrChartMissing) {
		t.Fatalf("want ErrChartMissing, got %v", err)
	}
	for _, want := range []string{"kyverno 3.9.0", "make charts", "--charts DIR", "kyverno-3.9.0.tgz", "folder " + dir, "this binary"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing-chart error %q lacks %q", err, want)
		}
	}
}
