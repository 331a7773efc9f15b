package doctor

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/installer/backup"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/nodes"
)

// k3sDefaultSnapshotCron is k3s's etcd-snapshot-schedule-cron when config.yaml sets none
// (docs.k3s.io/cli/etcd-snapshot).
const k3sDefaultSnapshotCron = "0 */12 * * *"

// snapshotSlack is how late a scheduled snapshot may land (taking it, uploading it).
const snapshotSlack = 15 * time.Minute

// checkEtcdSnapshots reads the backup target the way k3s writes to it (the Secret its
// etcd-s3-config-secret names, the system's CAs) and finds the newest snapshot there: one
// scheduled run missed is a warning, two a failure. Without embedded etcd there is nothing to
// snapshot; without the Secret, snapshots stay on the servers' own disks.
func checkEtcdSnapshots(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	list, err := nodes.List(ctx, e.Kube.Kube)
	if err != nil {
		return apiError("listing nodes", err)
	}
	if nodes.QuorumOf(list).Members == 0 {
		return Skip("no embedded etcd: a single server's datastore is in its backup sets")
	}
	s, err := e.Kube.Kube.CoreV1().Secrets("kube-system").Get(ctx, k3s.EtcdS3SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Warn("set backup.mode external with an S3 bucket off these servers, then run docs-appliance install: k3s then copies every snapshot there",
			"embedded etcd's snapshots stay on the servers' own disks (no kube-system/%s)", k3s.EtcdS3SecretName)
	}
	if err != nil {
		return apiError("reading the etcd snapshot target", err)
	}
	t, folder := snapshotTarget(s)
	where := "s3://" + t.Bucket + "/" + folder
	schedule := e.snapshotCron()
	sched, err := cron.ParseStandard(schedule)
	if err != nil {
		return Fail("set a five-field etcd-snapshot-schedule-cron in "+k3s.ConfigPath, "k3s's snapshot schedule %q does not parse: %v", schedule, err)
	}
	now := e.now()
	next := sched.Next(now)
	every := sched.Next(next).Sub(next)
	objs, err := backup.ListObjects(ctx, t, folder+"/")
	if err != nil {
		return Fail("k3s copies snapshots with these settings and the system's CAs: check kube-system/"+k3s.EtcdS3SecretName+" and that the target answers (docs-appliance configure checks it live)",
			"listing %s: %v", where, err)
	}
	var newest backup.Object
	for _, o := range objs {
		if isSnapshot(o.Key) && o.Modified.After(newest.Modified) {
			newest = o
		}
	}
	fix := "journalctl -u k3s on a server says why (grep snapshot); k3s etcd-snapshot save takes one now"
	if newest.Key == "" {
		if now.Sub(s.CreationTimestamp.Time) < every+snapshotSlack {
			return Pass("no snapshot in %s yet: the first is due by %s (schedule %q)", where, next.Format(time.RFC3339), schedule)
		}
		return Fail(fix, "no etcd snapshot in %s, %s after k3s was told to copy them there (schedule %q)", where, ageText(now.Sub(s.CreationTimestamp.Time)), schedule)
	}
	age := now.Sub(newest.Modified)
	detail := fmt.Sprintf("newest etcd snapshot %s, %s old (schedule %q, every %s)", path.Base(newest.Key), ageText(age), schedule, every)
	switch {
	case age > 2*every+snapshotSlack:
		return Fail(fix, "%s: two scheduled snapshots missed", detail)
	case age > every+snapshotSlack:
		return Warn(fix, "%s: the last scheduled snapshot missed", detail)
	}
	return Pass("%s in %s", detail, where)
}

// snapshotTarget turns the Secret k3s reads (etcd-s3-* keys, the endpoint without a scheme) into
// a target, and the folder snapshots go in.
func snapshotTarget(s *corev1.Secret) (backup.Target, string) {
	get := func(k string) string { return strings.TrimSpace(string(s.Data[k])) }
	scheme := "https://"
	if get("etcd-s3-insecure") == "true" {
		scheme = "http://"
	}
	region := get("etcd-s3-region")
	if region == "" {
		region = "us-east-1"
	}
	return backup.Target{Endpoint: scheme + get("etcd-s3-endpoint"), PlainHTTP: scheme == "http://", Region: region, Bucket: get("etcd-s3-bucket"),
		AccessKeyID: get("etcd-s3-access-key"), SecretAccessKey: get("etcd-s3-secret-key")}, strings.Trim(get("etcd-s3-folder"), "/")
}

// isSnapshot: k3s names its snapshots etcd-snapshot-<node>-<time> (scheduled) and
// on-demand-<node>-<time>, and keeps their metadata under .metadata/.
func isSnapshot(key string) bool {
	base := path.Base(key)
	return !strings.Contains(key, "/.metadata/") && (strings.HasPrefix(base, "etcd-snapshot-") || strings.HasPrefix(base, "on-demand-"))
}

// snapshotCron is the schedule in this host's k3s config, or k3s's default.
func (e *Env) snapshotCron() string {
	if e.Host == nil {
		return k3sDefaultSnapshotCron
	}
	data, err := e.Host.Root.ReadFile(k3s.ConfigPath)
	if err != nil {
		return k3sDefaultSnapshotCron
	}
	var c struct {
		Cron string `json:"etcd-snapshot-schedule-cron"`
	}
	if yaml.Unmarshal(data, &c) != nil || c.Cron == "" {
		return k3sDefaultSnapshotCron
	}
	return c.Cron
}
