package airgap

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// TestImageArchivesLoadIntoContainerd imports every image archive of an
// imported bundle into a real containerd, as k3s does from agent/images,
// and checks that each image is there under its tag and under its pinned
// digest, complete for this platform and unpacked. It uses the containerd
// of the node kit (`make node-kit`, the 2.x line k3s runs), or one on PATH
// (Debian's containerd package), and needs root. The containerd it starts
// lives in a temporary folder and is stopped at the end.
func TestImageArchivesLoadIntoContainerd(t *testing.T) {
	daemon, ctr, err := findContainerd()
	kit.Need(t, err)
	kit.Root(t, "containerd mounts its snapshots")
	bundle, pub, _ := sharedBundle(t)
	state := t.TempDir()
	res, err := Import(context.Background(), ImportOptions{Bundle: bundle, StateDir: state, Trust: Trust{Key: pub}})
	if err != nil {
		t.Fatal(err)
	}

	dir, err := os.MkdirTemp("", "ctrd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "c.sock")
	config := filepath.Join(dir, "config.toml")
	// No CRI: only the content store, image store and a snapshotter matter here.
	if err := os.WriteFile(config, []byte("version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	d := exec.Command(daemon, "--config", config, "--root", filepath.Join(dir, "root"), "--state", filepath.Join(dir, "state"), "--address", sock)
	d.Stdout, d.Stderr = logf, logf
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { d.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			d.Process.Kill()
			<-done
		}
		logf.Close()
	})
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(ctr, append([]string{"--address", sock, "--namespace", "k8s.io"}, args...)...).CombinedOutput()
		if err != nil {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("ctr %s: %v\n%s\ncontainerd log:\n%s", strings.Join(args, " "), err, out, log)
		}
		return string(out)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := exec.Command(ctr, "--address", sock, "version").Run(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("containerd did not start:\n%s", log)
		}
	}

	for _, f := range res.Manifest.Images() {
		run("images", "import", filepath.Join(res.Dir, filepath.FromSlash(f.Path)))
	}
	list := run("images", "ls")
	check := run("images", "check")
	for _, im := range res.Manifest.Spec.Images {
		for _, name := range []string{ContainerdName(im.Reference), ContainerdName(im.Repository()) + "@" + im.Digest} {
			line := findLine(list, name+" ")
			if line == "" {
				t.Errorf("containerd has no image named %s:\n%s", name, list)
				continue
			}
			if !strings.Contains(line, im.Digest) {
				t.Errorf("%s points at another digest than %s: %s", name, im.Digest, line)
			}
			if c := findLine(check, name+" "); !strings.Contains(c, "complete") || strings.Contains(c, "incomplete") {
				t.Errorf("%s is not complete for this platform: %s", name, c)
			}
		}
	}
	// Unpacked into the snapshotter: a container could start from them.
	if snaps := run("snapshots", "ls"); len(strings.Split(strings.TrimSpace(snaps), "\n")) < 2 {
		t.Errorf("no snapshot was unpacked:\n%s", snaps)
	}
}

// findContainerd prefers the node kit's containerd, then one on PATH.
func findContainerd() (daemon, ctr string, err error) {
	v, err := kit.Load()
	if err != nil {
		return "", "", err
	}
	dirs, err := v.Dirs()
	if err != nil {
		return "", "", err
	}
	kitErr := kit.CheckBinaries(dirs.Containerd, "the node kit's containerd", "node-kit", "containerd", "ctr")
	if kitErr == nil {
		return filepath.Join(dirs.Containerd, "containerd"), filepath.Join(dirs.Containerd, "ctr"), nil
	}
	d, err1 := exec.LookPath("containerd")
	c, err2 := exec.LookPath("ctr")
	if err1 == nil && err2 == nil {
		return d, c, nil
	}
	return "", "", kitErr
}

func findLine(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
