package host

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRootPathsStayUnderThePrefix(t *testing.T) {
	r := Root("/tmp/x")
	if got := r.Path("/etc/rancher/k3s/config.yaml"); got != "/tmp/x/etc/rancher/k3s/config.yaml" {
		t.Errorf("Path: %s", got)
	}
	if got := r.Path("../../etc/passwd"); got != "/tmp/x/etc/passwd" {
		t.Errorf("a relative path escaped the root: %s", got)
	}
	if got := r.HostPath("/tmp/x/var/lib"); got != "/var/lib" {
		t.Errorf("HostPath: %s", got)
	}
	if got := Root("").Path("etc"); got != "/etc" {
		t.Errorf("zero root: %s", got)
	}
}

func TestWriteFileComparesBeforeWriting(t *testing.T) {
	r := Root(t.TempDir())
	changed, err := r.WriteFile("/etc/rancher/k3s/config.yaml", []byte("a: 1\n"), 0o600)
	if err != nil || !changed {
		t.Fatalf("first write: %v %v", changed, err)
	}
	st, _ := os.Stat(r.Path("/etc/rancher/k3s/config.yaml"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	before := st.ModTime()
	changed, err = r.WriteFile("/etc/rancher/k3s/config.yaml", []byte("a: 1\n"), 0o600)
	if err != nil || changed {
		t.Fatalf("same content must not be written: %v %v", changed, err)
	}
	st, _ = os.Stat(r.Path("/etc/rancher/k3s/config.yaml"))
	if !st.ModTime().Equal(before) {
		t.Error("file was rewritten")
	}
	changed, err = r.WriteFile("/etc/rancher/k3s/config.yaml", []byte("a: 1\n"), 0o644)
	if err != nil || !changed {
		t.Fatalf("a mode change is a change: %v %v", changed, err)
	}
	changed, err = r.WriteFile("/etc/rancher/k3s/config.yaml", []byte("a: 2\n"), 0o644)
	if err != nil || !changed {
		t.Fatalf("new content: %v %v", changed, err)
	}
	entries, _ := os.ReadDir(r.Path("/etc/rancher/k3s"))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestWriteStreamRefusesAWrongChecksumAndLeavesNothing(t *testing.T) {
	r := Root(t.TempDir())
	want := strings.Repeat("0", 64)
	_, _, err := r.WriteStream("/usr/local/bin/k3s", bytes.NewReader([]byte("not k3s")), 0o755, want)
	var ce *ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("want a ChecksumError, got %v", err)
	}
	if r.Exists("/usr/local/bin/k3s") {
		t.Error("an unverified file was put in place")
	}
	entries, _ := os.ReadDir(r.Path("/usr/local/bin"))
	if len(entries) != 0 {
		t.Errorf("temporary files left: %v", entries)
	}
	sum := ce.Got
	got, changed, err := r.WriteStream("/usr/local/bin/k3s", bytes.NewReader([]byte("not k3s")), 0o755, sum)
	if err != nil || got != sum || !changed {
		t.Fatalf("with the right sum: %v %v %v", got, changed, err)
	}
	// The same content again is no change.
	if _, changed, err := r.WriteStream("/usr/local/bin/k3s", bytes.NewReader([]byte("not k3s")), 0o755, sum); err != nil || changed {
		t.Fatalf("same content: %v %v", changed, err)
	}
	if s, _ := r.SHA256File("/usr/local/bin/k3s"); s != sum {
		t.Errorf("SHA256File %s, want %s", s, sum)
	}
}

func TestFreeSpaceMeasuresTheNearestExistingFolder(t *testing.T) {
	r := Root(t.TempDir())
	if err := os.MkdirAll(r.Path("/var/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	ds, err := r.FreeSpace("/var/lib/rancher/k3s")
	if err != nil {
		t.Fatal(err)
	}
	if ds.Measured != "/var/lib" || ds.Free == 0 || ds.Total < ds.Free || ds.Device == 0 {
		t.Errorf("got %+v", ds)
	}
	// A file on the way is not a folder to measure under, its parent is.
	if err := os.WriteFile(filepath.Join(r.Path("/var"), "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if ds, err := r.FreeSpace("/var/file/below"); err != nil || ds.Measured != "/var/file" {
		t.Errorf("got %+v %v", ds, err)
	}
}

func TestSymlinkConverges(t *testing.T) {
	r := Root(t.TempDir())
	for i, want := range []bool{true, false} {
		changed, err := r.Symlink("/usr/local/bin/k3s", "/usr/local/bin/kubectl")
		if err != nil || changed != want {
			t.Fatalf("run %d: changed %v err %v", i, changed, err)
		}
	}
	if changed, err := r.Symlink("/usr/local/bin/other", "/usr/local/bin/kubectl"); err != nil || !changed {
		t.Fatalf("retarget: %v %v", changed, err)
	}
	if got, _ := r.Readlink("/usr/local/bin/kubectl"); got != "/usr/local/bin/other" {
		t.Errorf("link points at %s", got)
	}
}
