//go:build e2e

package cnpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/e2e/appliance"
	"github.com/suitenumerique/docs-appliance/e2e/cnpg/cnpgkit"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/e2e/node"
	"github.com/suitenumerique/docs-appliance/installer/backup"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
)

// Appliance is the fixture of the appliance on a real CloudNativePG: installed by the real binary
// through Git and Flux from a train whose stand-in charts cloudnative-pg and plugin-barman-cloud
// make render include the appliance's real database component (Cluster database/postgres, the
// ObjectStore, the ScheduledBackup with its immediate backup, the restore-check CronJob and its
// RBAC), on the operator and plugin cnpgkit installs from upstream's manifests, archiving to
// versitygw.
//
// The binary runs inside the node's network namespace (Command), as on an appliance's server: it
// and the pods reach the external S3 store at the same https://10.240.0.1:9000 (the configs accept
// only https S3 endpoints, so versitygw serves TLS with a test CA, which the binary trusts through
// SSL_CERT_FILE and the barman-cloud sidecar through its CA bundle, see cnpgkit.SidecarTrusting).
type Appliance struct {
	Env  *appliance.Env
	Kit  cnpgkit.Kit
	CNPG *cnpgkit.Installed
	// S3 is the external store (media bucket Bucket; the database backups under DatabasePrefix).
	S3          *cnpgkit.S3
	TLS         *cnpgkit.S3TLS
	Provisioner *cnpgkit.Provisioner
	// State is the state folder, Config the config file, Train and Charts the train; Kubeconfig
	// reaches the API server from inside the node's namespace (where Command runs the binary).
	State, Config, Train, Charts, Kubeconfig string
	// CABundle is the system's CAs and the S3 CA (the binary's SSL_CERT_FILE).
	CABundle string
	// Secrets are the given secrets' files (name → 0600 file), passed to install with --secret.
	Secrets map[string]string
	Target  backupTarget
}

// backupTarget is where the backups go: a bucket of their own on the external store, under a
// prefix (the config's backup: section, e2e/testdata/cnpg/appliance.yaml), with keys of their own.
type backupTarget struct {
	Bucket, Prefix string
	// DatabasePrefix is barman-cloud's destination inside Bucket: its <serverName>/base/<id>/ and
	// <serverName>/wals/ are under it.
	DatabasePrefix string
}

// URL is the target as restore --from takes it.
func (b backupTarget) URL() string { return "s3://" + b.Bucket + "/" + b.Prefix }

// The config's names (e2e/testdata/cnpg/appliance.yaml).
const (
	// ns is the appliance's database namespace.
	ns                     = "database"
	applianceMediaBucket   = "docs-media"
	applianceBackupBucket  = "docs-backups"
	applianceBackupPrefix  = "site-a/"
	applianceKubectlImage  = "registry.k8s.io/kubectl:v1.35.2"
	liveServerName         = "postgres"
	restoreCheckName       = "restore-check"
	applianceRestoreResult = "restore-check-result"
)

// applianceSubtests lists the subtests other files add to TestApplianceOnCloudNativePG (from an init
// func: they run in the order of their files' names, after this file's subtests, on the same
// Appliance; a subtest that breaks the appliance on purpose, a disaster recovery, goes last).
var applianceSubtests []applianceStep

type applianceStep struct {
	name string
	run  func(t *testing.T, a *Appliance)
}

// onAppliance adds a subtest to TestApplianceOnCloudNativePG (call it from an init func).
func onAppliance(name string, run func(t *testing.T, a *Appliance)) {
	applianceSubtests = append(applianceSubtests, applianceStep{name, run})
}

// The appliance installed with its real database component converges, backs up right away into
// the external store, and its restore check, run from its CronJob, recovers that backup on the
// real operator and records a result that doctor reads.
func TestApplianceOnCloudNativePG(t *testing.T) {
	node.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	start := time.Now()
	a := setUpAppliance(ctx, t)
	t.Logf("fixture ready in %s (binary, images, operator, S3, train)", time.Since(start).Round(time.Second))

	t.Run("install converges with the real database component", func(t *testing.T) {
		begin := time.Now()
		out := a.Install(ctx, t)
		t.Logf("install: %s to every Kustomization Ready; output ended:\n%s", time.Since(begin).Round(time.Second), outputTail(out, 8))
		a.checkKustomizationsReady(ctx, t)
		if err := a.CNPG.WaitCluster(ctx, ns, "postgres", 10*time.Minute); err != nil {
			t.Fatal(err)
		}
		t.Logf("Cluster database/postgres ready %s after the install began", time.Since(begin).Round(time.Second))
	})
	if t.Failed() {
		return
	}
	t.Run("the immediate backup of the ScheduledBackup lands in the store", func(t *testing.T) {
		a.checkImmediateBackup(ctx, t)
	})
	if t.Failed() {
		return
	}
	var set *backup.Manifest
	t.Run("backup now takes a set of every part, each verified in the target", func(t *testing.T) {
		a.seedDocsSchema(ctx, t)
		set = a.backupNow(ctx, t)
	})
	if t.Failed() {
		return
	}
	t.Run("restore-check now recovers the newest backup and the rows written since, with RTO and RPO", func(t *testing.T) {
		a.writeAfterBackup(ctx, t)
		a.checkRestoreCheckPasses(ctx, t)
	})
	t.Run("doctor passes the database, backup and restore-check checks", func(t *testing.T) {
		a.checkDoctor(ctx, t)
	})
	t.Run("a backup cut short in the store fails the restore check, naming why", func(t *testing.T) {
		a.checkBrokenBackup(ctx, t, set)
	})
	if t.Failed() {
		return
	}
	t.Run("restore --from rebuilds the lost appliance on a fresh one with every row, its history and media", func(t *testing.T) {
		live := map[string]int{}
		for _, table := range []string{"impress_user", "impress_document", "impress_document_access", "django_migrations"} {
			live[table] = a.count(ctx, t, "postgres-1", table)
		}
		key := a.disaster(ctx, t)
		a.recover(ctx, t, set, key, live)
	})
	for _, s := range applianceSubtests {
		if t.Failed() {
			return
		}
		t.Run(s.name, func(t *testing.T) { s.run(t, a) })
	}
	t.Logf("TestApplianceOnCloudNativePG: %s in all", time.Since(start).Round(time.Second))
}

// setUpAppliance brings up everything but the install; the store, the provisioner and the
// versitygw process end with t.
func setUpAppliance(ctx context.Context, t *testing.T) *Appliance {
	t.Helper()
	k, err := cnpgkit.Find()
	var missing *kit.MissingError
	if errors.As(err, &missing) {
		kit.Need(t, missing)
	}
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a := &Appliance{Kit: k, State: filepath.Join(dir, "state"), Train: filepath.Join(dir, "train.yaml"), Charts: filepath.Join(dir, "charts"),
		Target: backupTarget{Bucket: applianceBackupBucket, Prefix: applianceBackupPrefix, DatabasePrefix: applianceBackupPrefix + "database/"}}
	a.Env = appliance.Setup(ctx, t, testNode)
	a.Config = filepath.Join(a.Env.Mod, "e2e", "testdata", "cnpg", "appliance.yaml")
	a.Kubeconfig = a.Env.NodeKubeconfig()

	if a.TLS, err = cnpgkit.NewS3TLS(dir); err != nil {
		t.Fatal(err)
	}
	a.S3, err = cnpgkit.StartS3With(ctx, testNode, dir, cnpgkit.S3Options{TLS: a.TLS})
	if errors.As(err, &missing) {
		kit.Need(t, missing)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.S3.Stop)
	// Before the store stops (cleanups run last first): the other tests of the package use the
	// namespace database too.
	t.Cleanup(func() { a.tearDown(t) })
	// The train has no Docs, so no buckets component makes the media bucket: it is the
	// operator's, as is the backup target's bucket.
	for _, b := range []string{applianceMediaBucket, a.Target.Bucket} {
		if err := a.S3.CreateBucket(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	system, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatalf("reading the system's CAs: %v", err)
	}
	bundle := append(append(system, '\n'), a.TLS.CAPEM...)
	a.CABundle = filepath.Join(dir, "ca-bundle.pem")
	if err := os.WriteFile(a.CABundle, bundle, 0o644); err != nil {
		t.Fatal(err)
	}

	a.EnsureOperator(ctx, t)
	a.Provisioner = a.CNPG.Provision(ctx, testNode)
	t.Cleanup(a.Provisioner.Stop)

	// The train's images: the kit's (tagged as the train pins them), the kubectl image for the
	// restore check, and the harness's.
	kubectlTar := filepath.Join(dir, "kubectl.tar")
	a.Env.KubectlImage(ctx, t, applianceKubectlImage, kubectlTar)
	pins := append(a.Env.Pins, a.Env.Import(ctx, t, []string{kubectlTar}, []string{applianceKubectlImage})...)
	pins = append(pins, a.Env.PinsOf(ctx, t, k.OperatorImage, k.PostgresImage, k.PluginImage, k.SidecarImage)...)
	a.Env.WaitNodeImages(ctx, t, pins)
	operatorCRDs, pluginCRDs := kitCRDs(t, k)
	a.Env.WriteTrain(t, a.Train, a.Charts, []appliance.Chart{
		{Name: "cloudnative-pg", Layer: "operators", Namespace: cnpgkit.Namespace, Files: map[string][]byte{"crds/crds.yaml": operatorCRDs}},
		{Name: "plugin-barman-cloud", Layer: "operators", Namespace: cnpgkit.Namespace, Files: map[string][]byte{"crds/crds.yaml": pluginCRDs}},
	}, pins)

	// Given secrets, as files (never on a command line): the store's keys and the OIDC client's.
	secretDir := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secretDir, 0o700); err != nil {
		t.Fatal(err)
	}
	a.Secrets = map[string]string{}
	for name, value := range map[string]string{
		"storage.accessKeyID": a.S3.AccessKey, "storage.secretAccessKey": a.S3.SecretKey, "identity.clientSecret": "e2e-client-secret-0123456789",
		"backup.accessKeyID": a.S3.AccessKey, "backup.secretAccessKey": a.S3.SecretKey,
	} {
		f := filepath.Join(secretDir, name)
		if err := os.WriteFile(f, []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
		a.Secrets[name] = f
	}
	return a
}

// EnsureOperator installs (again) the operator and the plugin, and the sidecar image trusting
// the S3 CA over the kit's (Install imports the kit's under the same tag). Call it again after
// anything that removed them (a reset deletes the namespace cnpg-system the train names).
func (a *Appliance) EnsureOperator(ctx context.Context, t *testing.T) {
	t.Helper()
	inst, err := cnpgkit.Install(ctx, testNode, a.Kit)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("operator and plugin installed in %s", inst.Took.Round(time.Second))
	system, err := os.ReadFile(a.CABundle)
	if err != nil {
		t.Fatal(err)
	}
	sidecar := filepath.Join(filepath.Dir(a.CABundle), "sidecar-trusting.tar")
	if err := a.Kit.SidecarTrusting(system, sidecar); err != nil {
		t.Fatal(err)
	}
	if err := testNode.ImportImages(ctx, sidecar); err != nil {
		t.Fatal(err)
	}
	if a.CNPG == nil {
		a.CNPG = inst
	}
}

// tearDown stops Flux applying (kustomize-controller scaled to zero) and removes the namespace
// database with the appliance's Clusters, backups and restore check, waiting until it is gone:
// the later tests of the package make their own Clusters there. The rest (Flux, the git server)
// stays until the node goes down.
func (a *Appliance) tearDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	kube := a.Env.Client.Kube
	if sc, err := kube.AppsV1().Deployments(gitops.FluxNamespace).GetScale(ctx, "kustomize-controller", metav1.GetOptions{}); err == nil {
		sc.Spec.Replicas = 0
		if _, err := kube.AppsV1().Deployments(gitops.FluxNamespace).UpdateScale(ctx, "kustomize-controller", sc, metav1.UpdateOptions{}); err != nil {
			t.Errorf("stopping Flux: %v", err)
		}
	}
	if err := kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("removing the appliance's namespace %s: %v", ns, err)
		return
	}
	err := applianceWait(ctx, 4*time.Minute, "namespace "+ns+" gone", func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Errorf("removing the appliance's database: %v", err)
	}
}

// kitCRDs are the CRDs of the kit's operator and plugin manifests, as the stand-in charts' crds/.
func kitCRDs(t *testing.T, k cnpgkit.Kit) (operator, plugin []byte) {
	t.Helper()
	read := func(file string) []byte {
		data, err := os.ReadFile(filepath.Join(k.Dir, file))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := cluster.DecodeObjects(data)
		if err != nil {
			t.Fatal(err)
		}
		var out []byte
		for _, o := range objs {
			if o.GetKind() != "CustomResourceDefinition" {
				continue
			}
			y, err := yaml.Marshal(o.Object)
			if err != nil {
				t.Fatal(err)
			}
			out = append(append(out, "---\n"...), y...)
		}
		if len(out) == 0 {
			t.Fatalf("%s holds no CRD", file)
		}
		return out
	}
	return read("cnpg-operator.yaml"), read("plugin-barman-cloud.yaml")
}

// Command runs the binary with the appliance's state folder, inside the node's network namespace,
// trusting the S3 CA (SSL_CERT_FILE): give it --kubeconfig a.Kubeconfig.
func (a *Appliance) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := a.Env.NodeCommand(ctx, append([]string{"--state-dir", a.State}, args...)...)
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+a.CABundle)
	return cmd
}

// InstallArgs are install's arguments for this appliance; extra come last.
func (a *Appliance) InstallArgs(extra ...string) []string {
	args := []string{"install", "--kubeconfig", a.Kubeconfig, "--config", a.Config, "--train-file", a.Train, "--charts", a.Charts,
		"--non-interactive", "--timeout", "15m"}
	for name, f := range a.Secrets {
		args = append(args, "--secret", name+"="+f)
	}
	return append(args, extra...)
}

// Install runs install and fails t if it fails.
func (a *Appliance) Install(ctx context.Context, t *testing.T, extra ...string) string {
	t.Helper()
	out, err := a.Command(ctx, a.InstallArgs(extra...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	for _, want := range []string{"committed ", "Flux Kustomizations ready"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("install's output lacks %q:\n%s", want, out)
		}
	}
	return string(out)
}

// checkKustomizationsReady: every Flux Kustomization Ready, the platform layer (the database)
// among them.
func (a *Appliance) checkKustomizationsReady(ctx context.Context, t *testing.T) {
	t.Helper()
	list, err := a.Env.Client.Dynamic.Resource(gitops.KustomizationGVR).Namespace(gitops.FluxNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, k := range list.Items {
		names = append(names, k.GetName())
		conds, _, _ := unstructured.NestedSlice(k.Object, "status", "conditions")
		ready := false
		for _, c := range conds {
			cm, _ := c.(map[string]any)
			if cm["type"] == "Ready" {
				ready = cm["status"] == "True"
				if !ready {
					t.Errorf("Kustomization %s is not Ready: %v", k.GetName(), cm["message"])
				}
			}
		}
		if !ready {
			t.Errorf("Kustomization %s has no Ready condition True", k.GetName())
		}
	}
	if !strings.Contains(" "+strings.Join(names, " ")+" ", " platform ") {
		t.Errorf("no Kustomization platform among %v: the database component was not rendered", names)
	}
	t.Logf("Kustomizations Ready: %s", strings.Join(names, ", "))
}

func outputTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor polls cond every two seconds until it holds or timeout passes.
func applianceWait(ctx context.Context, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) error {
	if err := wait.PollUntilContextTimeout(ctx, 2*time.Second, timeout, true, cond); err != nil {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	return nil
}
