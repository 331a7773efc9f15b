package installer

import (
	"context"
	"fmt"
	"runtime"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/suitenumerique/docs-appliance/airgap"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/nodes"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// EtcdSnapshots are the etcd snapshots every server of a converted or joined cluster takes:
// k3s's own defaults (docs.k3s.io/cli/etcd-snapshot: 00:00 and 12:00, 5 kept), copied to the
// backup target when it is off this server.
func EtcdSnapshots(s3 bool) *k3s.Snapshots {
	return &k3s.Snapshots{Schedule: "0 */12 * * *", Retention: 5, S3: s3}
}

// etcdSnapshotsFor are the snapshots of the appliance's config: copied to the backup target
// when it is off this server (k3s renders them only on a server that runs etcd), so an install
// on a converted server keeps what the conversion set, and restarts nothing.
func etcdSnapshotsFor(cfg *config.Config) *k3s.Snapshots {
	return EtcdSnapshots(cfg.Backup.Mode == config.External)
}

// EtcdConversion moves the first server from k3s's single-node SQLite to embedded etcd, as k3s
// supports by restarting an existing server with cluster-init (k3s-io/k3s#4650; docs.k3s.io/
// datastore/ha-embedded, "Existing single-node clusters"): a backup set first, then config.yaml
// with cluster-init and the snapshot schedule, the restart, and the wait until k3s labels the
// node an etcd member. Every step asks the host first, so a server already on etcd skips them.
type EtcdConversion struct {
	// K3s is what install provisions on this host; ClusterInit and Snapshots are set here.
	K3s k3s.Options
	// Backup takes a backup set (BackupNow on this appliance).
	Backup func(ctx context.Context, st *status.Status) error
	// Target receives the etcd snapshots; nil keeps them on the servers' disks only.
	Target *k3s.S3Target
	// Kube is set once the command is connected.
	Kube         kubernetes.Interface
	Poll, Within time.Duration
}

// NewEtcdConversion builds the conversion of the appliance installed from stateDir (host path
// under root): its saved config and train, its imported bundle when air-gapped.
func NewEtcdConversion(stateDir, trainFile, kubeconfig string, root host.Root, runner host.Runner) (*EtcdConversion, error) {
	in, err := (&Doctor{StateDir: root.Path(stateDir), TrainFile: trainFile}).inputs()
	if err != nil {
		return nil, err
	}
	cfg := in.Config
	o := k3s.Options{Root: root, Runner: runner, Train: in.Train, Domains: cfg.Hosts(), Airgapped: cfg.Airgapped,
		ClusterInit: true, StateDir: stateDir}
	if cfg.Airgapped {
		o.ArtifactsDir = airgap.BundleDir(stateDir, in.Train.Name, runtime.GOARCH)
	}
	target := etcdTargetOf(cfg, in.Store)
	o.Snapshots = etcdSnapshotsFor(cfg)
	b := NewBackupNow(stateDir, trainFile, kubeconfig, root)
	return &EtcdConversion{K3s: o, Target: target, Backup: b.Run}, nil
}

// etcdTargetOf is where k3s copies etcd snapshots: the backup target when it is off this server
// (nil otherwise: they stay on the servers' disks), with its keys from the store.
func etcdTargetOf(cfg *config.Config, store *secrets.Store) *k3s.S3Target {
	loc := backupLocation(cfg)
	if loc.Embedded || cfg.Backup.Mode != config.External || store == nil {
		return nil
	}
	get := func(n string) string { v, _ := store.Get(n); return v }
	return &k3s.S3Target{Endpoint: loc.Endpoint, Region: loc.Region, Bucket: loc.Bucket, Prefix: loc.Prefix,
		AccessKeyID: get(loc.AccessKey), SecretAccessKey: get(loc.SecretKey)}
}

func (e *EtcdConversion) onEtcd() string {
	if k3s.DatastoreOf(e.K3s.Root) == k3s.Etcd {
		return "k3s already runs embedded etcd"
	}
	return ""
}

// Steps are the conversion's steps, for the command's list.
func (e *EtcdConversion) Steps() []steps.Step {
	if e.Poll == 0 {
		e.Poll = 2 * time.Second
	}
	if e.Within == 0 {
		e.Within = 10 * time.Minute
	}
	return []steps.Step{
		&steps.Func{Name: "etcd-backup", Describe: "Taking a backup set before moving k3s to embedded etcd", Deadline: 2 * time.Hour,
			CheckFunc: func(context.Context) (string, error) { return e.onEtcd(), nil },
			RunFunc:   func(ctx context.Context, st *status.Status) error { return e.Backup(ctx, st) }},
		&steps.Func{Name: "etcd-convert", Describe: "Restarting k3s with embedded etcd (cluster-init)", Deadline: e.Within + 5*time.Minute,
			CheckFunc: func(context.Context) (string, error) { return e.onEtcd(), nil },
			RunFunc:   e.restart},
		&steps.Func{Name: "etcd-member", Describe: "Waiting for k3s to make this server an etcd member", Deadline: e.Within,
			CheckFunc: e.memberCheck, RunFunc: e.waitMember},
		&steps.Func{Name: "etcd-s3-target", Describe: "Giving k3s the backup target for etcd snapshots", Deadline: time.Minute,
			CheckFunc: func(context.Context) (string, error) {
				if e.Target == nil {
					return "the backup target is on this server: etcd snapshots stay on the servers' disks", nil
				}
				return "", nil
			},
			RunFunc: e.applyTarget},
	}
}

// restart runs the k3s provisioning steps that rewrite config.yaml and restart k3s.
func (e *EtcdConversion) restart(ctx context.Context, st *status.Status) error {
	pv, err := k3s.Steps(e.K3s)
	if err != nil {
		return err
	}
	var list []steps.Step
	for _, s := range pv.Steps {
		switch s.ID() {
		case "k3s-config", "k3s-start", "k3s-ready":
			list = append(list, s)
		}
	}
	_, err = steps.Run(ctx, st, list)
	return err
}

func (e *EtcdConversion) node() string {
	if e.K3s.NodeName != "" {
		return e.K3s.NodeName
	}
	n, _ := e.K3s.Root.Hostname()
	return n
}

func (e *EtcdConversion) memberCheck(ctx context.Context) (string, error) {
	if e.Kube == nil {
		return "", nil
	}
	n, err := e.Kube.CoreV1().Nodes().Get(ctx, e.node(), metav1.GetOptions{})
	if err == nil && nodes.Of(n).Etcd() {
		return "node " + n.Name + " is an etcd member", nil
	}
	return "", nil
}

func (e *EtcdConversion) waitMember(ctx context.Context, _ *status.Status) error {
	err := wait.PollUntilContextTimeout(ctx, e.Poll, e.Within, true, func(ctx context.Context) (bool, error) {
		n, err := e.Kube.CoreV1().Nodes().Get(ctx, e.node(), metav1.GetOptions{})
		if err != nil {
			return false, nil // k3s restarting: the API server comes back
		}
		return nodes.Of(n).Etcd(), nil
	})
	if err != nil {
		return fmt.Errorf("waiting for node %s to carry %s: %w (journalctl -u k3s says why)", e.node(), nodes.LabelEtcd, err)
	}
	return nil
}

func (e *EtcdConversion) applyTarget(ctx context.Context, _ *status.Status) error {
	return applyEtcdTarget(ctx, e.Kube, *e.Target)
}

// applyEtcdTarget writes the Secret k3s's etcd-s3-config-secret names, replacing what it held.
func applyEtcdTarget(ctx context.Context, kube kubernetes.Interface, target k3s.S3Target) error {
	s, err := k3s.EtcdS3Secret(target)
	if err != nil {
		return err
	}
	secrets := kube.CoreV1().Secrets(s.Namespace)
	cur, err := secrets.Get(ctx, s.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = secrets.Create(ctx, s, metav1.CreateOptions{})
	case err == nil:
		cur.Data, cur.StringData, cur.Type = nil, s.StringData, corev1.SecretTypeOpaque
		_, err = secrets.Update(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("writing Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}

// etcdTargetCurrent says whether the cluster's snapshot-target Secret holds target already
// (its stored bytes against the rendered string data).
func etcdTargetCurrent(ctx context.Context, kube kubernetes.Interface, target k3s.S3Target) (bool, error) {
	s, err := k3s.EtcdS3Secret(target)
	if err != nil {
		return false, err
	}
	cur, err := kube.CoreV1().Secrets(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	if len(cur.Data) != len(s.StringData) {
		return false, nil
	}
	for k, v := range s.StringData {
		if string(cur.Data[k]) != v {
			return false, nil
		}
	}
	return true, nil
}

// etcdTargetStep keeps the snapshot target k3s reads in step with the config on a server that
// runs embedded etcd: `install --set backup...` (a new endpoint, rotated keys) reaches k3s's
// etcd snapshots too, not only the database's archive. Elsewhere it has nothing to do.
func (r *run) etcdTargetStep() steps.Step {
	target := func() *k3s.S3Target {
		if r.existing || k3s.DatastoreOf(r.i.root()) != k3s.Etcd {
			return nil
		}
		return etcdTargetOf(r.in.Config, r.in.Store)
	}
	return &steps.Func{
		Name: "etcd-s3-target", Describe: "Giving k3s's etcd snapshots the backup target of the config (servers on embedded etcd)",
		CheckFunc: func(ctx context.Context) (string, error) {
			t := target()
			if t == nil {
				return "k3s on this host keeps no etcd snapshots off the server (no embedded etcd, or the backup target is on this server)", nil
			}
			c, err := r.client()
			if err != nil {
				return "", err
			}
			if ok, err := etcdTargetCurrent(ctx, c.Kube, *t); err != nil || ok {
				return "k3s already copies etcd snapshots to the backup target", err
			}
			return "", nil
		},
		RunFunc: func(ctx context.Context, _ *status.Status) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			return applyEtcdTarget(ctx, c.Kube, *target())
		},
		Deadline: clusterDeadline, Remote: "the API server",
	}
}
