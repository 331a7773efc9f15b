package airgap

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// TestLockRecordsAppVersionsAndChecksLinkedImages: lock takes each chart's
// appVersion from the archive it downloads and refuses an image linked to
// a chart that is not the release the chart ships, unless the train says
// why; make charts checks the same against the files it keeps.
func TestLockRecordsAppVersionsAndChecksLinkedImages(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	tr := e.train(t, false) // docs/backend and docs/frontend v1.0.0 linked to the docs chart
	res, err := Lock(ctx, tr, e.remote())
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Train.Charts[0].AppVersion; got != "v1.0.0" {
		t.Fatalf("charts[0].appVersion = %q, the archive says v1.0.0", got)
	}
	if !slices.Contains(res.Recorded, "charts[0].appVersion (docs 1.2.3) = v1.0.0") {
		t.Fatalf("recorded %q", res.Recorded)
	}
	if again, err := Lock(ctx, res.Train, e.remote()); err != nil || len(again.Recorded)+len(again.Pinned) != 0 {
		t.Fatalf("relock recorded %q pinned %q: %v", again.Recorded, again.Pinned, err)
	}

	// nginx 1.29 is not the docs chart's release.
	bad := e.train(t, false)
	bad.Images[2].Chart = "docs"
	_, err = Lock(ctx, bad, e.remote())
	var ve *bundles.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Path != "images[2].reference" ||
		!strings.Contains(err.Error(), "tag 1.29 is not the release chart docs ships (appVersion v1.0.0)") {
		t.Fatalf("err = %v", err)
	}
	bad.Images[2].AppVersionMismatch = "the docs chart's proxy, released on its own"
	if _, err := Lock(ctx, bad, e.remote()); err != nil {
		t.Fatalf("explained mismatch refused: %v", err)
	}

	// make charts checks the archives against what lock recorded, and
	// checks a chart already in the folder as well as a fetched one.
	dir := t.TempDir()
	if _, err := FetchCharts(ctx, res.Train, dir, e.remote()); err != nil {
		t.Fatal(err)
	}
	tampered := *res.Train
	tampered.Charts = slices.Clone(res.Train.Charts)
	tampered.Charts[0].AppVersion = "v0.9.0"
	for _, into := range []string{dir, t.TempDir()} {
		_, err := FetchCharts(ctx, &tampered, into, e.remote())
		if !errors.As(err, &ve) || ve.Fields[0].Path != "charts[0].appVersion" || !strings.Contains(err.Error(), `records "v0.9.0" but the archive's Chart.yaml says "v1.0.0"`) {
			t.Fatalf("fetching into %s: err = %v", into, err)
		}
	}
}
