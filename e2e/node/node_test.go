package node

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestScriptsParse(t *testing.T) {
	scripts, _ := filepath.Glob("*.sh")
	kitScripts, _ := filepath.Glob("../kit/*.sh")
	scripts = append(scripts, kitScripts...)
	if len(scripts) < 6 {
		t.Fatalf("found only %v", scripts)
	}
	for _, s := range scripts {
		if out, err := exec.Command("bash", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", s, err, out)
		}
	}
}

func TestRSSReadsVmRSS(t *testing.T) {
	f := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(f, []byte("Name:\tetcd\nVmPeak:\t  9000 kB\nVmRSS:\t   51200 kB\nThreads:\t9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := rss(f); got != 51200*1024 {
		t.Fatalf("rss %d", got)
	}
	if got := rss(filepath.Join(t.TempDir(), "gone")); got != 0 {
		t.Fatalf("rss of a vanished process %d", got)
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	var tb tailBuffer
	tb.Write([]byte(strings.Repeat("a", 9000)))
	tb.Write([]byte("the end"))
	if s := tb.String(); len(s) != 8192 || !strings.HasSuffix(s, "the end") {
		t.Fatalf("len %d, suffix %q", len(s), s[len(s)-10:])
	}
}

func TestCheckKitNamesTheTarget(t *testing.T) {
	t.Setenv("DOCS_APPLIANCE_CACHE", t.TempDir())
	t.Setenv("DOCS_APPLIANCE_KUBE_KIT", "")
	err := CheckKit()
	if err == nil || !strings.Contains(err.Error(), "make node-kit") {
		t.Fatalf("got %v", err)
	}
}
