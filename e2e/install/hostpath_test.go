//go:build e2e

package install

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/suitenumerique/docs-appliance/installer"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/host/hosttest"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// installOnHost is the whole host path of install, without --kubeconfig: preflight on a host
// tree under a root prefix, the k3s binary and images downloaded and verified, k3s's files and
// service written, and the service started through the recording runner — where "starting k3s"
// is what k3s would do on a real host: the real e2e node's kubeconfig appears where k3s writes
// it (k3s itself cannot run here; the node stands in for it). Then the hand-over and Flux
// converge on that node, as after any install.
func (e *env) installOnHost(ctx context.Context, t *testing.T, domain string) {
	t.Helper()
	node := nodeName(ctx, t, e)

	// k3s's release files, served on loopback; the train pins their sums.
	binary, images := []byte("#!/bin/sh\n# k3s stand-in: the e2e node is the cluster\n"), []byte("k3s airgap images stand-in")
	srv, client := serveFiles(t, map[string][]byte{"/k3s": binary, "/k3s-airgap-images-amd64.tar.zst": images})
	train := filepath.Join(t.TempDir(), "train.yaml")
	data, err := os.ReadFile(e.train)
	if err != nil {
		t.Fatal(err)
	}
	arts := regexp.MustCompile(`(?s)  artifacts:\n    amd64:\n.*?\nkubernetes:`)
	data = arts.ReplaceAll(data, []byte(fmt.Sprintf("  artifacts:\n    amd64:\n      binaryURL: %s/k3s\n      binarySHA256: %s\n"+
		"      airgapImagesURL: %s/k3s-airgap-images-amd64.tar.zst\n      airgapImagesSHA256: %s\nkubernetes:", srv, sum(binary), srv, sum(images))))
	if err := os.WriteFile(train, data, 0o644); err != nil {
		t.Fatal(err)
	}

	// The host: healthy facts, the node's name, and the appliance's state (its age key is the
	// one the cluster holds) in the default state folder under the root.
	tr := hosttest.Healthy(t, node).Mkdir("/etc/systemd/system")
	stateDir := tr.Root.Path(config.DefaultStateDir())
	if err := os.CopyFS(stateDir, os.DirFS(e.state)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"age.key", "secrets.enc.yaml", "appliance.yaml"} {
		if err := os.Chmod(filepath.Join(stateDir, f), 0o600); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	// k3s writes its admin kubeconfig with the certificates inline; the node's names files
	// outside the host tree, which install (reading k3s.yaml under the tree) would not find.
	kc, err := clientcmd.LoadFromFile(e.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := clientcmdapi.FlattenConfig(kc); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := clientcmd.Write(*kc)
	if err != nil {
		t.Fatal(err)
	}
	rec := &host.Recorder{}
	active := false
	rec.On([]string{"systemctl", "is-active", k3s.Unit}, func(c host.Cmd) ([]byte, error) {
		if active {
			return []byte("active\n"), nil
		}
		return []byte("inactive\n"), &host.CommandError{Argv: c.Argv, Stdout: []byte("inactive\n"), ExitCode: 3, Err: fmt.Errorf("exit status 3")}
	})
	start := func(host.Cmd) ([]byte, error) {
		// What systemctl enable --now does: the unit enabled, and k3s started.
		active = true
		if _, err := tr.Root.Symlink(k3s.UnitPath, host.EnabledLink(k3s.Unit)); err != nil {
			return nil, err
		}
		e.coreDeployments(ctx, t)
		_, err := tr.Root.WriteFile(k3s.KubeconfigPath, kubeconfig, 0o600)
		return nil, err
	}
	rec.On([]string{"systemctl", "enable", "--now", k3s.Unit}, start)
	rec.On([]string{"systemctl", "restart", k3s.Unit}, start)
	rec.Reply([]string{"timedatectl"}, "yes\n", 0)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	in := &installer.Install{
		Inputs: installer.InputOptions{ConfigPath: e.config, TrainFile: train, ChartsDir: e.charts, StateDir: stateDir,
			Sets: []string{"domain=" + domain}},
		Root: tr.Root, Runner: rec, NonInteractive: true,
		LookupHost: func(context.Context, string) ([]string, error) { return []string{"127.0.0.1"}, nil },
		// The build machine's free disk is not this test's subject.
		PreflightPorts: []int{port}, IgnorePreflight: []string{"disk-k3s"}, HTTPClient: client,
	}
	var out strings.Builder
	err = in.Run(ctx, status.New(&out, status.Plain))
	t.Logf("install on the host tree:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]steps.Outcome{}
	for _, r := range in.Result.Steps {
		ran[r.ID] = r.Outcome
	}
	for _, id := range []string{"preflight", "k3s-binary", "k3s-images", "k3s-config", "k3s-service", "k3s-start", "k3s-ready", "k3s-kubeconfig", "converge"} {
		if ran[id] != steps.Ran {
			t.Errorf("step %s: %s, want ran", id, ran[id])
		}
	}
	if got := string(tr.Read(k3s.BinaryPath)); got != string(binary) {
		t.Errorf("the k3s binary at %s is not the downloaded one", k3s.BinaryPath)
	}
	if !strings.Contains(string(tr.Read(k3s.ConfigPath)), "disable:") {
		t.Errorf("k3s config.yaml:\n%s", tr.Read(k3s.ConfigPath))
	}
	e.checkConverged(ctx, t, domain)

	// Run again: every host step finds its work done.
	again := &installer.Install{Inputs: in.Inputs, Root: tr.Root, Runner: rec, NonInteractive: true, LookupHost: in.LookupHost,
		PreflightPorts: in.PreflightPorts, IgnorePreflight: in.IgnorePreflight, HTTPClient: client}
	if err := again.Run(ctx, status.Discard()); err != nil {
		t.Fatal(err)
	}
	for _, r := range again.Result.Steps {
		if strings.HasPrefix(r.ID, "k3s-") && r.ID != "k3s-ready" && r.Outcome != steps.Skipped {
			t.Errorf("rerun: step %s %s, want skipped", r.ID, r.Outcome)
		}
	}
}

// coreDeployments stand in for the kube-system workloads k3s deploys that the appliance relies
// on and the e2e node does not run (its CoreDNS is real): what k3s would have started.
func (e *env) coreDeployments(ctx context.Context, t *testing.T) {
	for _, name := range k3s.CoreDeployments {
		_, err := e.c.Kube.AppsV1().Deployments("kube-system").Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			continue
		}
		if !apierrors.IsNotFound(err) {
			t.Errorf("reading kube-system/%s: %v", name, err)
			return
		}
		one := int32(1)
		labels := map[string]string{"app": name}
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"},
			Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "standin", Image: e.appImage, ImagePullPolicy: corev1.PullNever}}}}},
		}
		if _, err := e.c.Kube.AppsV1().Deployments("kube-system").Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Errorf("creating kube-system/%s: %v", name, err)
		}
		t.Cleanup(func() {
			_ = e.c.Kube.AppsV1().Deployments("kube-system").Delete(context.Background(), name, metav1.DeleteOptions{})
		})
	}
}

// serveFiles serves files over HTTPS on loopback (trains pin https URLs) and returns the base
// URL and a client that trusts the server.
func serveFiles(t *testing.T, files map[string][]byte) (string, *http.Client) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, srv.Client()
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
