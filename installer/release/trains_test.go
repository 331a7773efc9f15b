package release

import (
	"os"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// The graph of the upgrade plan's stand-in trains: each hop with what it cannot undo.
func TestTrainsTextShowsTheGraph(t *testing.T) {
	cat, err := bundles.LoadCatalog(os.DirFS("../testdata/upgrade"), "trains")
	if err != nil {
		t.Fatal(err)
	}
	info := &Info{Trains: Trains(cat, bundles.DirStore(t.TempDir()))}
	text := info.TrainsText()
	for _, want := range []string{
		"  2099.01  Docs v5.4.1, k3s v1.35.2+k3s1",
		"    upgrades from: (fresh installs only)",
		"    2099.01 → 2099.02: nothing irreversible; a failed hop rolls back (git revert)",
		"    required stops: 2099.02",
		"    2099.01 → 2099.03: cannot be undone, the way back is a restore:\n      - docs: Docs v5.4.1 → v5.5.0 migrates its database",
		"    2099.02 → 2099.03: cannot be undone",
		"      - standin-app: the stand-in's migration",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("trains text lacks %q:\n%s", want, text)
		}
	}
	last := info.Trains[2]
	if len(last.Hops) != 2 || !last.Hops[1].Known || len(last.Hops[1].Irreversible) != 2 {
		t.Errorf("2099.03 hops = %+v", last.Hops)
	}
}
