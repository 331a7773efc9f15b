//go:build e2e

package ha

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/suitenumerique/docs-appliance/e2e/appliance"
	"github.com/suitenumerique/docs-appliance/e2e/images"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/doctor"
)

// What the node-loss test looks through: the prober in node 1's namespace, the real doctor, and
// the images each node's kubelet lists.

// waitImagesOnEveryNode waits until each node's kubelet lists every pinned image by digest
// (appliance.Setup waits until one does; install's cluster preflight looks at every node, and
// each kubelet refreshes its list on its own schedule).
func waitImagesOnEveryNode(ctx context.Context, t *testing.T, c *cluster.Client, pins []appliance.Pin) {
	t.Helper()
	var missing []string
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		nodes, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		missing = nil
		for _, n := range nodes.Items {
			have := map[string]bool{}
			for _, im := range n.Status.Images {
				for _, name := range im.Names {
					have[name] = true
				}
			}
			for _, p := range pins {
				repo := p.Reference[:strings.LastIndex(p.Reference, ":")]
				if !have[repo+"@"+p.Digest] {
					missing = append(missing, n.Name+": "+repo+"@"+p.Digest)
				}
			}
		}
		return len(missing) == 0, nil
	})
	if err != nil {
		t.Fatalf("the nodes do not list %v: %v", missing, err)
	}
}

// doctorNodes runs the real doctor's cluster group and returns its cluster-nodes result.
func (e *haEnv) doctorNodes(ctx context.Context, t *testing.T) doctor.Result {
	t.Helper()
	cmd := e.app.Command(ctx, "--state-dir", e.state, "doctor", "--kubeconfig", testNode.Kubeconfig, "--train-file", e.train,
		"--group", "cluster", "-o", "json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running doctor: %v", err)
	}
	rep := &doctor.Report{}
	if err := json.Unmarshal(out, rep); err != nil {
		t.Fatalf("doctor's stdout is not one JSON report: %v\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	res, ok := rep.Get("cluster-nodes")
	if !ok {
		t.Fatalf("doctor did not run cluster-nodes:\n%s", out)
	}
	return res
}

// startProber runs e2e/ha/prober in node 1's namespace against url; stop ends it and returns its probes.
func startProber(ctx context.Context, t *testing.T, url string) (stop func() []Probe) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "prober")
	mod, err := images.ModuleDir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := images.BuildGo(ctx, mod, "./e2e/ha/prober", bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "nsenter", "--net=/run/netns/"+testNode.Name, bin, "-url", url, "-every", "100ms", "-timeout", "1s",
		"-want", "stand-in for Docs")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() []Probe {
		// Our own child, by its PID: it finishes the requests under way and exits.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("the prober: %v\n%s", err, stderr.String())
		}
		probes, err := ReadProbes(&out)
		if err != nil {
			t.Fatal(err)
		}
		return probes
	}
}
