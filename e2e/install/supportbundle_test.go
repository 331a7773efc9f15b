//go:build e2e

package install

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/suitenumerique/docs-appliance/e2e/images"
	"github.com/suitenumerique/docs-appliance/e2e/node"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/doctor/supportbundle"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

const (
	bundleNamespace = "sb-docs"
	logSecretsImage = "docs-appliance.test/logsecrets:e2e"
)

// TestSupportBundle runs a pod in an appliance namespace whose containers
// print planted secret values to their logs (split across writes, before
// and after a crash, past the log cap) and proves the bundle holds every
// container's logs, current and previous, cut to the cap and with none of
// the values. It needs no install: only the namespace label and a secret
// store.
func TestSupportBundle(t *testing.T) {
	node.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := cluster.NewFromKubeconfig(testNode.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := images.ModuleDir(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	img, err := images.GoProgram{Package: "./e2e/install/testdata/logsecrets", Tag: logSecretsImage, User: "65532:65532"}.Build(ctx, mod, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := testNode.ImportImages(ctx, img); err != nil {
		t.Fatal(err)
	}

	rnd := func(n int) string {
		b := make([]byte, n)
		rand.Read(b)
		return hex.EncodeToString(b)[:n]
	}
	storeOnly, dbPassword, initToken, urlPass := rnd(40), rnd(32), rnd(36), rnd(24)
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ" + rnd(30) + "." + rnd(43)
	state := filepath.Join(dir, "state")
	store, err := secrets.OpenStore(state)
	if err != nil {
		t.Fatal(err)
	}
	store.Set("s3.secretKey", storeOnly)
	if err := store.Save(); err != nil {
		t.Fatal(err)
	}
	planted := map[string]string{"store s3.secretKey": storeOnly, "Secret DB_PASSWORD": dbPassword, "Secret INIT_TOKEN": initToken,
		"URL password": urlPass, "JWT": jwt, "age key": store.Identity().String()}

	kc := c.Kube.CoreV1()
	if _, err := kc.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: bundleNamespace,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "docs-appliance"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kc.Namespaces().Delete(context.Background(), bundleNamespace, metav1.DeleteOptions{})
	})
	if _, err := kc.Secrets(bundleNamespace).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app-secrets"},
		StringData: map[string]string{"DB_PASSWORD": dbPassword, "INIT_TOKEN": initToken}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fromSecret := func(name string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "app-secrets"}, Key: name}}}
	}
	lit := func(name, v string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: v} }
	ctr := func(name string, env ...corev1.EnvVar) corev1.Container {
		return corev1.Container{Name: name, Image: logSecretsImage, ImagePullPolicy: corev1.PullNever, Env: env}
	}
	// The crasher crashes once, then runs: its previous log is kept while
	// it runs (the kubelet removes older dead instances).
	crasher := ctr("crasher", lit("S3_SECRET", storeOnly), lit("PRINT", "S3_SECRET"), lit("EXIT", "1"), lit("ONCE", "/once/crashed"))
	crasher.VolumeMounts = []corev1.VolumeMount{{Name: "once", MountPath: "/once"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "leaky"}, Spec: corev1.PodSpec{
		Volumes:        []corev1.Volume{{Name: "once", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		InitContainers: []corev1.Container{ctr("init", fromSecret("INIT_TOKEN"), lit("PRINT", "INIT_TOKEN"), lit("EXIT", "0"))},
		Containers: []corev1.Container{
			ctr("talker", fromSecret("DB_PASSWORD"), lit("DATABASE_URL", "postgresql://docs:"+urlPass+"@docs-db-rw.database:5432/docs"),
				lit("ID_TOKEN", jwt), lit("PRINT", "DB_PASSWORD,DATABASE_URL,ID_TOKEN")),
			crasher,
			ctr("big", fromSecret("DB_PASSWORD"), lit("S3_SECRET", storeOnly), lit("PRINT", "DB_PASSWORD,S3_SECRET"), lit("FILL", fmt.Sprint(3<<20))),
		},
	}}
	if _, err := kc.Pods(bundleNamespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Wait for the crasher's first restart (a previous log) and the big log's end.
	err = wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := kc.Pods(bundleNamespace).Get(ctx, "leaky", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		restarted, running := false, 0
		for _, s := range p.Status.ContainerStatuses {
			if s.Name == "crasher" && s.RestartCount > 0 {
				restarted = true
			}
			if s.State.Running != nil {
				running++
			}
		}
		if !restarted || running < 3 {
			return false, nil
		}
		logs, err := kc.Pods(bundleNamespace).GetLogs("leaky", &corev1.PodLogOptions{Container: "big", TailLines: ptrTo(int64(3))}).DoRaw(ctx)
		return err == nil && bytes.Contains(logs, []byte("logsecrets ready")), nil
	})
	if err != nil {
		p, _ := kc.Pods(bundleNamespace).Get(context.Background(), "leaky", metav1.GetOptions{})
		t.Fatalf("waiting for the leaky pod: %v\n%+v", err, p.Status)
	}

	out := filepath.Join(dir, "bundle.tar.gz")
	start := time.Now()
	if err := supportbundle.Collect(ctx, supportbundle.Options{Path: out, StateDir: state, Kube: c, DoctorJSON: []byte(`{"results":[]}`), Version: "e2e"}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	files := readBundle(t, out)
	var unpacked int
	for _, d := range files {
		unpacked += len(d)
	}
	t.Logf("support bundle: %s, %d bytes gzipped (%d bytes in %d files), mode %04o", took.Round(time.Millisecond), info.Size(), unpacked, len(files), info.Mode().Perm())
	if info.Mode().Perm() != 0o600 {
		t.Errorf("bundle mode %04o, want 0600", info.Mode().Perm())
	}

	for label, v := range planted {
		for form, enc := range map[string]string{"raw": v, "base64": base64.StdEncoding.EncodeToString([]byte(v)), "half": v[len(v)/2:]} {
			for name, data := range files {
				if bytes.Contains(data, []byte(enc)) {
					t.Errorf("planted %s (%s) is in %s", label, form, name)
				}
			}
		}
	}
	logs := "logs/" + bundleNamespace + "/leaky/"
	for file, wants := range map[string][]string{
		logs + "init.log": {"logsecrets starting", "INIT_TOKEN is [redacted: secret sb-docs/app-secrets INIT_TOKEN]"},
		logs + "talker.log": {"DB_PASSWORD is [redacted: secret sb-docs/app-secrets DB_PASSWORD]", "postgresql://docs:[redacted: url-password]@docs-db-rw.database:5432/docs",
			"ID_TOKEN is [redacted: jwt]", "logsecrets ready"},
		logs + "crasher.log":          {"S3_SECRET is [redacted: secret-store s3.secretKey]", "logsecrets ready"},
		logs + "crasher.previous.log": {"S3_SECRET is [redacted: secret-store s3.secretKey]", "exiting on purpose"},
		logs + "big.log": {"[support bundle: log cut, only the last 2097152 bytes kept]\n", "filler line",
			"S3_SECRET is [redacted: secret-store s3.secretKey]\nEND OF LOG\nlogsecrets ready\n"},
		"namespaces/" + bundleNamespace + "/pods.txt":    {"leaky\tphase Running", "container crasher"},
		"namespaces/" + bundleNamespace + "/secrets.txt": {"app-secrets\ttype Opaque\tkeys: DB_PASSWORD (32 bytes), INIT_TOKEN (36 bytes)"},
	} {
		got, ok := files[file]
		if !ok {
			t.Errorf("%s is missing from the bundle", file)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(string(got), w) {
				// What the bundle holds is redacted: it may be shown.
				t.Errorf("%s lacks %q; it holds:\n%s", file, w, tail(string(got), 600))
			}
		}
	}
	if n := len(files[logs+"big.log"]); n > 2<<20+200 {
		t.Errorf("big.log is %d bytes, over the 2 MiB cap", n)
	}
	var m supportbundle.Manifest
	if err := json.Unmarshal(files[supportbundle.ManifestFile], &m); err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Collected {
		if e.Path == logs+"big.log" && e.Cut == "" {
			t.Errorf("the manifest does not say big.log was cut")
		}
	}
	for _, f := range m.Failed {
		if strings.Contains(f.What, bundleNamespace) {
			t.Errorf("collecting %s failed: %s", f.What, f.Error)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

func readBundle(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if out[h.Name], err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
}
