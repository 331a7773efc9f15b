package airgap

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/status"
)

func TestImportChecksFreeSpaceBeforeWriting(t *testing.T) {
	bundle, pub, _ := sharedBundle(t)
	state := filepath.Join(t.TempDir(), "state")
	var asked string
	_, err := Import(context.Background(), ImportOptions{Bundle: bundle, StateDir: state, Trust: Trust{Key: pub},
		freeSpace: func(dir string) (int64, error) { asked = dir; return 1 << 20, nil }})
	var de *DiskSpaceError
	if !errors.As(err, &de) {
		t.Fatalf("want a DiskSpaceError, got %v", err)
	}
	m := readManifestOf(t, bundle)
	if de.Unpacked != m.UnpackedSize() || de.Need != m.UnpackedSize()+diskMargin(m.UnpackedSize()) || de.Free != 1<<20 {
		t.Errorf("error numbers = %+v", de)
	}
	// The state folder does not exist yet: the check measures its nearest parent.
	if asked != filepath.Dir(state) {
		t.Errorf("free space measured in %s, want %s", asked, filepath.Dir(state))
	}
	for _, want := range []string{"not enough free space in " + filepath.Dir(state), "unpacks to", "only 1.0 MiB is free", "--state-dir"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if fileExists(state) {
		t.Error("the state folder was created although the disk is too full")
	}
}

func TestImportRefusesAnotherTrainOrArch(t *testing.T) {
	bundle, pub, _ := sharedBundle(t)
	state := filepath.Join(t.TempDir(), "state")
	_, err := Import(context.Background(), ImportOptions{Bundle: bundle, StateDir: state, Trust: Trust{Key: pub}, Train: "2031.01"})
	if err == nil || !strings.Contains(err.Error(), "carries train 2030.01 but train 2031.01 is wanted") {
		t.Fatalf("error = %v", err)
	}
	_, err = Import(context.Background(), ImportOptions{Bundle: bundle, StateDir: state, Trust: Trust{Key: pub}, Arch: "arm64"})
	if err == nil || !strings.Contains(err.Error(), "built for amd64 but this host is arm64") {
		t.Fatalf("error = %v", err)
	}
	if fileExists(state) {
		t.Error("a refused import created the state folder")
	}
}

func TestImportReplacesAnotherBuildOfTheSameTrain(t *testing.T) {
	bundle, pub, priv := sharedBundle(t)
	state := filepath.Join(t.TempDir(), "state")
	if _, err := Import(context.Background(), ImportOptions{Bundle: bundle, StateDir: state, Trust: Trust{Key: pub}}); err != nil {
		t.Fatal(err)
	}
	rebuilt := filepath.Join(t.TempDir(), "rebuilt.tar.zst")
	writeEntries(t, rebuilt, editManifest(t, readEntries(t, bundle), priv, func(m *Manifest) { m.Created = m.Created.Add(time.Hour) }), nil)
	var log bytes.Buffer
	res, err := Import(context.Background(), ImportOptions{Bundle: rebuilt, StateDir: state, Trust: Trust{Key: pub}, Status: status.New(&log, status.Plain)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Replaced || res.AlreadyImported {
		t.Fatalf("result = %+v", res)
	}
	if !strings.Contains(log.String(), "replacing the bundle built 2030-01-15 10:00 UTC") {
		t.Errorf("import did not say what it replaced:\n%s", log.String())
	}
	m, err := ReadImported(res.Dir, pub)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Created.Equal(time.Date(2030, 1, 15, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("imported manifest created %s, want the rebuilt one", m.Created)
	}
	assertOnlyBundleFolders(t, state, filepath.Base(res.Dir))
}

func TestImportReimportsAnIncompleteFolder(t *testing.T) {
	bundle, pub, _ := sharedBundle(t)
	state := filepath.Join(t.TempDir(), "state")
	res, err := Import(context.Background(), ImportOptions{Bundle: bundle, StateDir: state, Trust: Trust{Key: pub}})
	if err != nil {
		t.Fatal(err)
	}
	// A power cut can leave a short file behind an already renamed folder.
	if err := os.Truncate(filepath.Join(res.Dir, "k3s", "k3s"), 10); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	res, err = Import(context.Background(), ImportOptions{Bundle: bundle, StateDir: state, Trust: Trust{Key: pub}, Status: status.New(&log, status.Plain)})
	if err != nil {
		t.Fatal(err)
	}
	if res.AlreadyImported || !strings.Contains(log.String(), "is incomplete (k3s/k3s is missing or has the wrong size)") {
		t.Fatalf("result %+v, said:\n%s", res, log.String())
	}
	if info, _ := os.Stat(filepath.Join(res.Dir, "k3s", "k3s")); info.Size() == 10 {
		t.Fatal("the short file was kept")
	}
}

func TestImportStoppedMidwayLeavesNothing(t *testing.T) {
	bundle, pub, _ := sharedBundle(t)
	state := filepath.Join(t.TempDir(), "state")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Import(ctx, ImportOptions{Bundle: bundle, StateDir: state, Trust: Trust{Key: pub}, onFile: func(File) { cancel() }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v", err)
	}
	assertNothingImported(t, state)
}

// childImportEnv makes the test binary a helper process that imports a
// bundle and freezes after the first file, for the parent to kill it.
const childImportEnv = "AIRGAP_TEST_CHILD_IMPORT"

func runChildImport() {
	bundle, state, _ := strings.Cut(os.Getenv(childImportEnv), "|")
	// The child has no key: it checks integrity only, and is killed anyway.
	_, err := Import(context.Background(), ImportOptions{Bundle: bundle, StateDir: state, Trust: Trust{InsecureSkipVerify: true}, onFile: func(f File) {
		fmt.Println("PAUSED", f.Path)
		select {}
	}})
	fmt.Println("ERROR", err)
	os.Exit(1)
}

func TestKilledImportIsFinishedByARerun(t *testing.T) {
	bundle, pub, _ := sharedBundle(t)
	state := filepath.Join(t.TempDir(), "state")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childImportEnv+"="+bundle+"|"+state)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "PAUSED ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child import said %q, %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	staging, _ := filepath.Glob(filepath.Join(state, "bundles", stagingPrefix+"*"))
	if len(staging) != 1 {
		t.Fatalf("the killed import left %v, want its one staging folder", staging)
	}
	if fileExists(BundleDir(state, "2030.01", "amd64")) {
		t.Fatal("a killed import produced a bundle folder")
	}

	res, err := Import(context.Background(), ImportOptions{Bundle: bundle, StateDir: state, Trust: Trust{Key: pub}})
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if res.AlreadyImported {
		t.Fatal("rerun claims the killed import had finished")
	}
	assertOnlyBundleFolders(t, state, filepath.Base(res.Dir))
	if _, err := ReadImported(res.Dir, pub); err != nil {
		t.Fatal(err)
	}
}

// assertOnlyBundleFolders checks that the bundles folder holds the named
// bundle folders and nothing else: no staging folder, no lock file.
func assertOnlyBundleFolders(t *testing.T, state string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(state, "bundles"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("bundles folder holds leftover %s", e.Name())
		}
	}
}

func readManifestOf(t *testing.T, bundle string) *Manifest {
	t.Helper()
	m, err := ParseManifest(readEntries(t, bundle)[0].data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
