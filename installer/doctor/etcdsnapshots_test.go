package doctor

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/host/hosttest"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
)

// The snapshot check reads a real S3 server (versitygw) with the Secret k3s reads, on a real
// API server whose Nodes are three etcd members.
func TestEtcdSnapshotsReachTheTargetOnSchedule(t *testing.T) {
	env := envtest.New(t)
	c, err := cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := &fixture{t: t, ctx: ctx, c: c, e: &Env{Kube: c}}
	f.apply(obj("apiVersion: v1\nkind: Node\nmetadata: {name: server-1}"))
	f.expect("cluster-etcd-snapshots", Skipped, "no embedded etcd")
	for _, n := range []string{"server-1", "server-2", "server-3"} {
		f.apply(obj("apiVersion: v1\nkind: Node\nmetadata: {name: " + n + ", labels: {node-role.kubernetes.io/control-plane: \"true\", node-role.kubernetes.io/etcd: \"true\"}}"))
		f.setStatus(nodeGVR, "", n, map[string]any{"conditions": []any{cond("Ready", "True", "KubeletReady")}})
	}
	f.expect("cluster-etcd-snapshots", Warned, "stay on the servers' own disks")

	gw := probetest.StartS3(t, nil, false)
	gw.CreateBucket(t, "backups", false)
	target := k3s.S3Target{Endpoint: gw.Endpoint, Region: gw.Region, Bucket: "backups", Prefix: "docs/", AccessKeyID: gw.AccessKey, SecretAccessKey: gw.SecretKey}
	secret, err := k3s.EtcdS3Secret(target)
	if err != nil {
		t.Fatal(err)
	}
	secret.Data = map[string][]byte{}
	for k, v := range secret.StringData {
		secret.Data[k] = []byte(v)
	}
	secret.StringData = nil
	if _, err := c.Kube.CoreV1().Secrets("kube-system").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Just configured: the first snapshot is not due yet.
	f.expect("cluster-etcd-snapshots", Passed, "no snapshot in s3://backups/docs/etcd yet", "0 */12 * * *")
	// Half a day on, still none: k3s is not taking or not copying them.
	real := time.Now()
	f.e.Now = func() time.Time { return real.Add(13 * time.Hour) }
	f.expect("cluster-etcd-snapshots", Failed, "no etcd snapshot in s3://backups/docs/etcd")

	// k3s's objects: a scheduled snapshot, its metadata, and an object that is not a snapshot.
	gw.PutObject(t, "backups", "docs/etcd/etcd-snapshot-server-1-1764633600", "snapshot")
	gw.PutObject(t, "backups", "docs/etcd/.metadata/etcd-snapshot-server-1-1764633600", "{}")
	gw.PutObject(t, "backups", "docs/etcd/README", "not a snapshot")
	f.e.Now = nil
	f.expect("cluster-etcd-snapshots", Passed, "newest etcd snapshot etcd-snapshot-server-1-1764633600", "every 12h0m0s")
	f.e.Now = func() time.Time { return real.Add(13 * time.Hour) }
	f.expect("cluster-etcd-snapshots", Warned, "the last scheduled snapshot missed")
	f.e.Now = func() time.Time { return real.Add(25 * time.Hour) }
	f.expect("cluster-etcd-snapshots", Failed, "two scheduled snapshots missed")

	// The schedule this server's k3s runs, from its config.
	f.e.Host = &HostFacts{Root: hosttest.New(t).Write(k3s.ConfigPath, "etcd-snapshot-schedule-cron: \"0 * * * *\"\n").Root}
	f.e.Now = func() time.Time { return real.Add(3 * time.Hour) }
	f.expect("cluster-etcd-snapshots", Failed, "every 1h0m0s", "two scheduled snapshots missed")
	f.e.Now, f.e.Host = nil, nil

	// Keys k3s cannot use: the check fails as k3s's upload would, and never shows the key.
	secret, _ = c.Kube.CoreV1().Secrets("kube-system").Get(ctx, k3s.EtcdS3SecretName, metav1.GetOptions{})
	secret.Data["etcd-s3-secret-key"] = []byte("not-the-secret-key-000")
	if _, err := c.Kube.CoreV1().Secrets("kube-system").Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	res := f.expect("cluster-etcd-snapshots", Failed, "listing s3://backups/docs/etcd")
	if strings.Contains(res.Detail+res.Fix, "not-the-secret-key-000") {
		t.Error("the finding shows the secret key")
	}

	// A target whose certificate only a private CA vouches for: k3s verifies with the system's
	// CAs, so does the check, and it fails.
	ca := probetest.NewCA(t)
	tlsGW := probetest.StartS3(t, ca, false)
	tlsGW.CreateBucket(t, "backups", false)
	secret, _ = c.Kube.CoreV1().Secrets("kube-system").Get(ctx, k3s.EtcdS3SecretName, metav1.GetOptions{})
	secret.Data["etcd-s3-endpoint"] = []byte(strings.TrimPrefix(tlsGW.Endpoint, "https://"))
	secret.Data["etcd-s3-insecure"] = []byte("false")
	secret.Data["etcd-s3-secret-key"] = []byte(tlsGW.SecretKey)
	if _, err := c.Kube.CoreV1().Secrets("kube-system").Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.expect("cluster-etcd-snapshots", Failed, "certificate")
}
