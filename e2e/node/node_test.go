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

func TestDigestNamesFromCtrList(t *testing.T) {
	ls := `time="2026-11-26T11:58:30Z" level=warning msg="DEPRECATION: cgroup v1"
REF                                                    TYPE                                       DIGEST                                                                  SIZE     PLATFORMS   LABELS
ghcr.io/fluxcd/source-controller:v1.9.5                application/vnd.docker.distribution...     sha256:76f015808446302c1b4edbfd99773a8fd9ac0f439e689380fb507545e44c8b89 35.0 MiB linux/amd64 -
ghcr.io/fluxcd/source-controller@sha256:76f0           application/vnd.docker.distribution...     sha256:76f015808446302c1b4edbfd99773a8fd9ac0f439e689380fb507545e44c8b89 35.0 MiB linux/amd64 -
localhost:5000/app                                     application/vnd.docker.distribution...     sha256:aa 1 MiB linux/amd64 -
sha256:8f376786bf995365e833795e5c1a658728e2e5b230cb0497 application/vnd.docker.distribution...     sha256:76f0 35.0 MiB linux/amd64 -
localhost:5000/app:v2                                  application/vnd.docker.distribution...     sha256:bb 1 MiB linux/amd64 -
`
	got := digestNames(ls)
	want := [][2]string{
		{"ghcr.io/fluxcd/source-controller:v1.9.5", "ghcr.io/fluxcd/source-controller@sha256:76f015808446302c1b4edbfd99773a8fd9ac0f439e689380fb507545e44c8b89"},
		{"localhost:5000/app:v2", "localhost:5000/app@sha256:bb"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: got %v, want %v", i, got[i], want[i])
		}
	}
}
