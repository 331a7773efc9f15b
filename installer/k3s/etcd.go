package k3s

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Snapshots are embedded etcd's scheduled snapshots, copied to the backup target.
//
// k3s documents them in "k3s etcd-snapshot" (docs.k3s.io/cli/etcd-snapshot): config keys
// etcd-snapshot-schedule-cron (default "0 */12 * * *"), etcd-snapshot-retention (default 5),
// etcd-s3; and etcd-s3-config-secret, the name of a kube-system Secret holding the etcd-s3-*
// settings and keys (k3s v1.29.7/v1.30.3 and later, k3s-io/k3s#10487), so the target's keys are
// never in config.yaml.
type Snapshots struct {
	// Schedule is a five-field cron expression.
	Schedule string
	// Retention is how many snapshots each server keeps (and in S3).
	Retention int
	// S3 copies every snapshot to the backup target; the Secret EtcdS3Secret renders must be
	// in the cluster (k3s reads it when it takes a snapshot).
	S3 bool
}

// EtcdS3SecretName is the kube-system Secret k3s reads the target from (etcd-s3-config-secret).
const EtcdS3SecretName = "docs-appliance-etcd-s3"

// cronField matches five cron fields of digits, *, lists, ranges and steps: what k3s's
// robfig/cron parser takes in standard form, short of names (mon, jan) the appliance never writes.
var cronField = regexp.MustCompile(`^[0-9*,/-]+( [0-9*,/-]+){4}$`)

func (s *Snapshots) validate() error {
	var errs []error
	if !cronField.MatchString(strings.TrimSpace(s.Schedule)) {
		errs = append(errs, fmt.Errorf("k3s: etcd snapshot schedule %q is not a five-field cron expression (e.g. \"0 */6 * * *\")", s.Schedule))
	}
	if s.Retention < 1 {
		errs = append(errs, fmt.Errorf("k3s: etcd snapshot retention %d keeps nothing: keep at least 1", s.Retention))
	}
	return errors.Join(errs...)
}

// S3Target is where etcd snapshots are copied: the appliance's backup target.
type S3Target struct {
	// Endpoint is https://host[:port] or http://host[:port].
	Endpoint, Region, Bucket string
	// Prefix is the appliance's folder in the bucket ("" or ending in "/"); snapshots go in
	// <prefix>etcd.
	Prefix                       string
	AccessKeyID, SecretAccessKey string
}

// EtcdS3Secret renders the kube-system Secret k3s's etcd-s3-config-secret names. Its keys are
// the etcd-s3-* flags of "k3s server" (docs.k3s.io/cli/server, "Database"): k3s takes the
// endpoint as host[:port] without a scheme, and etcd-s3-insecure for plain HTTP.
func EtcdS3Secret(t S3Target) (*corev1.Secret, error) {
	u, err := url.Parse(t.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("rendering the etcd snapshot target: endpoint %q is not http(s)://host[:port]", t.Endpoint)
	}
	if t.Bucket == "" || t.AccessKeyID == "" || t.SecretAccessKey == "" {
		return nil, errors.New("rendering the etcd snapshot target: the backup target needs a bucket and both keys (configure --backup-*)")
	}
	data := map[string]string{
		"etcd-s3-endpoint":   u.Host,
		"etcd-s3-bucket":     t.Bucket,
		"etcd-s3-folder":     strings.TrimSuffix(t.Prefix+"etcd", "/"),
		"etcd-s3-access-key": t.AccessKeyID,
		"etcd-s3-secret-key": t.SecretAccessKey,
		"etcd-s3-insecure":   fmt.Sprint(u.Scheme == "http"),
	}
	if t.Region != "" {
		data["etcd-s3-region"] = t.Region
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: EtcdS3SecretName, Namespace: "kube-system", Labels: map[string]string{"app.kubernetes.io/managed-by": "docs-appliance"}},
		Type:       corev1.SecretTypeOpaque,
		StringData: data,
	}, nil
}
