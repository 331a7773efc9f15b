package doctor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/config/certtest"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/render"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

// The checks against a real API server: the objects are the ones the
// appliance's controllers would make, created here with the status those
// controllers would write (no controller runs under envtest). Each check is
// shown passing, then each fault it exists for is made and must be named,
// then repaired and must clear.

const head = "0123456789abcdef0123456789abcdef01234567"

type fixture struct {
	t   testing.TB
	ctx context.Context
	c   *cluster.Client
	e   *Env
}

func (f *fixture) apply(objs ...*unstructured.Unstructured) {
	f.t.Helper()
	if _, err := f.c.Apply(f.ctx, objs, cluster.ApplyOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func obj(text string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(text), &u.Object); err != nil {
		panic(err)
	}
	return u
}

// setStatus writes an object's status the way its controller would.
func (f *fixture) setStatus(gvr schema.GroupVersionResource, ns, name string, status map[string]any) {
	f.t.Helper()
	ri := f.c.Dynamic.Resource(gvr).Namespace(ns)
	u, err := ri.Get(f.ctx, name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, ok := status["observedGeneration"]; ok {
		status["observedGeneration"] = u.GetGeneration()
	}
	u.Object["status"] = status
	if _, err := ri.UpdateStatus(f.ctx, u, metav1.UpdateOptions{}); err != nil {
		f.t.Fatalf("writing the status of %s %s: %v", gvr.Resource, name, err)
	}
}

func (f *fixture) patch(gvr schema.GroupVersionResource, ns, name, mergePatch string) {
	f.t.Helper()
	if _, err := f.c.Dynamic.Resource(gvr).Namespace(ns).Patch(f.ctx, name, "application/merge-patch+json", []byte(mergePatch), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		f.t.Fatal(err)
	}
}

// expect runs one check and asserts its outcome and that detail contains want.
func (f *fixture) expect(id string, outcome Outcome, want ...string) Result {
	f.t.Helper()
	checks, err := Select(All(), []string{id}, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	res := Run(f.ctx, f.e, checks).Results[0]
	if res.Outcome != outcome {
		f.t.Fatalf("%s: got %s (%s; fix: %s), want %s", id, res.Outcome, res.Detail, res.Fix, outcome)
	}
	for _, w := range want {
		if !strings.Contains(res.Detail, w) {
			f.t.Fatalf("%s: detail %q does not name %q", id, res.Detail, w)
		}
	}
	if outcome != Passed && outcome != Skipped && res.Fix == "" {
		f.t.Fatalf("%s: a %s without a fix", id, outcome)
	}
	return res
}

func upstreamCRDs(t testing.TB, files ...string) []*unstructured.Unstructured {
	t.Helper()
	dir := os.Getenv("CRDS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "crds")
	}
	kit.File(t, dir, "the upstream CRDs of the train's versions", "set CRDS_DIR to their folder, or run `make crds` on a connected machine")
	var out []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("reading CRD %s: %v", f, err)
		}
		objs, err := cluster.DecodeObjects(data)
		if err != nil {
			t.Fatalf("decoding CRD %s: %v", f, err)
		}
		out = append(out, objs...)
	}
	return out
}

var (
	kustomizationGVR = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	gitRepoGVR       = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	deployGVR        = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	jobGVR           = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
	cnpgGVR          = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "clusters"}
	gatewayGVR       = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	routeGVR         = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
	nodeGVR          = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
)

func ready(status string, extra ...map[string]any) map[string]any {
	conds := []any{map[string]any{"type": "Ready", "status": status, "reason": "Reconciled", "message": "applied",
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}}
	st := map[string]any{"conditions": conds}
	for _, e := range extra {
		for k, v := range e {
			st[k] = v
		}
	}
	return st
}

func cond(typ, status, reason string) map[string]any {
	return map[string]any{"type": typ, "status": status, "reason": reason, "message": reason, "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}
}

func deployment(ns, name string, ports bool) *unstructured.Unstructured {
	port := ""
	if ports {
		port = "\n        ports: [{containerPort: 8080}]"
	}
	return obj(fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %s, namespace: %s}
spec:
  replicas: 1
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec:
      containers:
      - name: c
        image: x.test/y@sha256:0000000000000000000000000000000000000000000000000000000000000000%s
`, name, ns, name, name, port))
}

func available(replicas int64) map[string]any {
	return map[string]any{"observedGeneration": int64(0), "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
		"conditions": []any{cond("Available", "True", "MinimumReplicasAvailable"), cond("Progressing", "True", "NewReplicaSetAvailable")}}
}

func inventoryEntry(ns, name, group, kind, version string) map[string]any {
	return map[string]any{"id": fmt.Sprintf("%s_%s_%s_%s", ns, name, group, kind), "v": version}
}

func TestChecksAgainstAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a real API server (envtest kit)")
	}
	env := envtest.New(t)
	c, err := cluster.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	crds := upstreamCRDs(t,
		"flux-kustomize-controller-v1.9.4/kustomize.toolkit.fluxcd.io_kustomizations.yaml",
		"flux-source-controller-v1.9.1/source.toolkit.fluxcd.io_gitrepositories.yaml",
		"cloudnative-pg-v1.30.0/postgresql.cnpg.io_clusters.yaml",
		"cloudnative-pg-v1.30.0/postgresql.cnpg.io_backups.yaml",
		"gateway-api-v1.6.1/standard/gateway.networking.k8s.io_gateways.yaml",
		"gateway-api-v1.6.1/standard/gateway.networking.k8s.io_httproutes.yaml",
	)
	if _, err := c.Apply(ctx, crds, cluster.ApplyOptions{CRDTimeout: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	repoDir := t.TempDir()
	f := &fixture{t: t, ctx: ctx, c: c, e: &Env{Kube: c, Config: &config.Config{Git: config.Git{Mode: config.GitInCluster}},
		Repo: &Repository{Dir: repoDir, Head: head, Revision: "main@sha1:" + head}}}
	for _, ns := range []string{"flux-system", "docs", render.DatabaseNamespace, "edge"} {
		f.apply(obj("apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "}"))
	}

	t.Run("cluster", func(t *testing.T) {
		f.t = t
		f.expect("cluster-nodes", Failed, "no node")
		f.apply(obj("apiVersion: v1\nkind: Node\nmetadata: {name: server-1}"))
		f.setStatus(nodeGVR, "", "server-1", map[string]any{"conditions": []any{cond("Ready", "False", "KubeletNotReady")}})
		f.expect("cluster-nodes", Failed, "server-1", "KubeletNotReady")
		f.setStatus(nodeGVR, "", "server-1", map[string]any{"conditions": []any{cond("Ready", "True", "KubeletReady")}})
		f.expect("cluster-nodes", Passed, "1 node(s) Ready")
		f.expect("cluster-etcd-quorum", Skipped, "no node carries k3s's node-role.kubernetes.io/control-plane label")
		f.apply(obj("apiVersion: v1\nkind: Node\nmetadata: {name: server-1, labels: {node-role.kubernetes.io/control-plane: \"true\", node-role.kubernetes.io/master: \"true\"}}"))
		f.expect("cluster-etcd-quorum", Passed, "one server on SQLite")
		// Servers as k3s registers them on embedded etcd: control-plane and etcd labels.
		for _, n := range []string{"server-1", "server-2", "server-3"} {
			f.apply(obj("apiVersion: v1\nkind: Node\nmetadata: {name: " + n + ", labels: {node-role.kubernetes.io/control-plane: \"true\", node-role.kubernetes.io/etcd: \"true\", node-role.kubernetes.io/master: \"true\"}}"))
			if n != "server-3" {
				f.setStatus(nodeGVR, "", n, map[string]any{"conditions": []any{cond("Ready", "True", "KubeletReady")}})
			}
		}
		f.setStatus(nodeGVR, "", "server-3", map[string]any{"conditions": []any{cond("Ready", "True", "KubeletReady")}})
		f.expect("cluster-etcd-quorum", Passed, "3 of 3 etcd members Ready: survives the loss of 1")
		// server-3 is lost: quorum holds with no tolerance left, and doctor names it.
		f.setStatus(nodeGVR, "", "server-3", map[string]any{"conditions": []any{cond("Ready", "Unknown", "NodeStatusUnknown")}})
		f.expect("cluster-etcd-quorum", Failed, "survives no further loss: bring server-3 back")
		f.expect("cluster-nodes", Failed, "server-3")
		// Two servers: a state to pass through, never to rest in.
		if err := c.Kube.CoreV1().Nodes().Delete(f.ctx, "server-3", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		f.expect("cluster-etcd-quorum", Failed, "two servers have no fault tolerance")
		f.setStatus(nodeGVR, "", "server-2", map[string]any{"conditions": []any{cond("Ready", "False", "KubeletNotReady")}})
		f.expect("cluster-etcd-quorum", Failed, "etcd has lost quorum: 1 of 2 members Ready", "server-2")
		for _, n := range []string{"server-2", "server-3"} {
			_ = c.Kube.CoreV1().Nodes().Delete(f.ctx, n, metav1.DeleteOptions{})
		}
		f.setStatus(nodeGVR, "", "server-1", map[string]any{"conditions": []any{cond("Ready", "True", "KubeletReady")}})
		f.e.Train = &bundles.Train{Name: "t", Kubernetes: bundles.KubernetesRange{MinVersion: "1.20", MaxVersion: "1.99"}}
		f.expect("cluster-version", Passed)
		f.e.Train.Kubernetes.MaxVersion = "1.21"
		f.expect("cluster-version", Failed, "outside")
	})

	// The desired state: one Kustomization "apps" at ./apps with a
	// ConfigMap, Docs' backend, a worker and a migration Job.
	writeRepo(t, repoDir)
	f.apply(obj(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 1m, url: "http://git.test/appliance.git", ref: {branch: main}}`))
	f.apply(obj(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec: {interval: 10m, path: ./apps, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}`))
	appsInventory := map[string]any{"entries": []any{
		inventoryEntry("docs", "settings", "", "ConfigMap", "v1"),
		inventoryEntry("docs", "docs-backend", "apps", "Deployment", "v1"),
		inventoryEntry("docs", "docs-celery-worker", "apps", "Deployment", "v1"),
		inventoryEntry("docs", "docs-migrate", "batch", "Job", "v1"),
	}}
	kustomizationReady := func(rev string) {
		f.setStatus(kustomizationGVR, "flux-system", "apps", ready("True", map[string]any{"observedGeneration": int64(0),
			"lastAppliedRevision": "main@sha1:" + rev, "lastAttemptedRevision": "main@sha1:" + rev, "inventory": appsInventory}))
	}
	kustomizationReady(head)
	f.setStatus(gitRepoGVR, "flux-system", "flux-system", ready("True", map[string]any{"observedGeneration": int64(0),
		"artifact": map[string]any{"revision": "main@sha1:" + head, "path": "x", "url": "http://x/x.tar.gz", "digest": "sha256:00", "lastUpdateTime": time.Now().UTC().Format(time.RFC3339)}}))

	t.Run("gitops", func(t *testing.T) {
		f.t = t
		f.expect("gitops-source", Passed, head[:12])
		f.expect("gitops-kustomizations", Passed, "1 layer(s) Ready")
		kustomizationReady("fedcba9876543210fedcba9876543210fedcba98")
		f.expect("gitops-kustomizations", Warned, "apps at fedcba987654")
		f.setStatus(kustomizationGVR, "flux-system", "apps", ready("False", map[string]any{"observedGeneration": int64(0)}))
		f.expect("gitops-kustomizations", Failed, "apps")
		kustomizationReady(head)
		f.expect("gitops-suspended", Passed)
		f.patch(kustomizationGVR, "flux-system", "apps", `{"spec":{"suspend":true}}`)
		f.expect("gitops-suspended", Warned, "layer apps")
		f.patch(kustomizationGVR, "flux-system", "apps", `{"spec":{"suspend":false}}`)
		f.expect("gitops-suspended", Passed)
		f.setStatus(gitRepoGVR, "flux-system", "flux-system", map[string]any{"observedGeneration": int64(0),
			"conditions": []any{cond("Ready", "False", "GitOperationFailed")}})
		f.expect("gitops-source", Failed, "GitOperationFailed")
	})

	t.Run("drift", func(t *testing.T) {
		f.t = t
		// Flux's apply of the desired state, as kustomize-controller does it.
		objs, err := desiredObjects(repoDir, gitopsLive("apps", "./apps"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Apply(ctx, objs, cluster.ApplyOptions{FieldManager: kustomizeController}); err != nil {
			t.Fatal(err)
		}
		f.expect("gitops-drift", Passed, "as in Git")
		f.patch(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, "docs", "settings", `{"data":{"LOG_LEVEL":"debug"}}`)
		f.expect("gitops-drift", Failed, "changed by hand: ConfigMap docs/settings")
		// A field Flux does not own is not drift: Flux leaves it alone too.
		if _, err := c.Apply(ctx, objs, cluster.ApplyOptions{FieldManager: kustomizeController}); err != nil {
			t.Fatal(err)
		}
		f.patch(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, "docs", "settings", `{"metadata":{"annotations":{"note":"hand"}}}`)
		f.expect("gitops-drift", Passed)
		if err := c.Kube.AppsV1().Deployments("docs").Delete(ctx, "docs-celery-worker", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		f.expect("gitops-drift", Failed, "deleted: Deployment docs/docs-celery-worker")
		if _, err := c.Apply(ctx, objs, cluster.ApplyOptions{FieldManager: kustomizeController}); err != nil {
			t.Fatal(err)
		}
		f.expect("gitops-drift", Passed)
	})

	t.Run("app", func(t *testing.T) {
		f.t = t
		f.setStatus(deployGVR, "docs", "docs-backend", available(1))
		f.setStatus(deployGVR, "docs", "docs-celery-worker", available(1))
		f.expect("app-workloads", Passed, "2 available")
		f.expect("app-workers", Passed, "docs-celery-worker")
		f.patch(deployGVR, "docs", "docs-backend", `{"spec":{"replicas":0}}`)
		f.expect("app-workloads", Failed, "docs-backend: scaled to 0")
		f.patch(deployGVR, "docs", "docs-backend", `{"spec":{"replicas":1}}`)
		f.setStatus(deployGVR, "docs", "docs-backend", available(1))
		f.expect("app-workloads", Passed)
		st := available(1)
		st["availableReplicas"], st["readyReplicas"] = int64(0), int64(0)
		f.setStatus(deployGVR, "docs", "docs-celery-worker", st)
		f.expect("app-workers", Failed, "docs-celery-worker")
		f.expect("app-migrations", Warned, "still running: docs-migrate")
		f.setStatus(jobGVR, "docs", "docs-migrate", map[string]any{"failed": int64(1), "startTime": time.Now().UTC().Format(time.RFC3339),
			"conditions": []any{cond("FailureTarget", "True", "BackoffLimitExceeded"), cond("Failed", "True", "BackoffLimitExceeded")}})
		f.expect("app-migrations", Failed, "docs-migrate")
	})

	t.Run("platform", func(t *testing.T) {
		f.t = t
		f.expect("platform-database", Skipped)
		f.apply(obj(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: platform, namespace: flux-system}
spec: {interval: 10m, path: ./platform, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}`))
		f.setStatus(kustomizationGVR, "flux-system", "platform", ready("True", map[string]any{"observedGeneration": int64(0),
			"lastAppliedRevision": "main@sha1:" + head, "inventory": map[string]any{"entries": []any{
				inventoryEntry(render.DatabaseNamespace, "docs-db", "postgresql.cnpg.io", "Cluster", "v1"),
				inventoryEntry("edge", "docs", "gateway.networking.k8s.io", "Gateway", "v1"),
				inventoryEntry("edge", "docs", "gateway.networking.k8s.io", "HTTPRoute", "v1"),
				inventoryEntry("edge", "docs-tls", "", "Secret", "v1"),
			}}}))
		f.apply(obj(`apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: docs-db, namespace: ` + render.DatabaseNamespace + `}
spec: {instances: 1, storage: {size: 1Gi}}`))
		f.setStatus(cnpgGVR, render.DatabaseNamespace, "docs-db", map[string]any{"phase": "Setting up primary", "readyInstances": int64(0), "instances": int64(1),
			"conditions": []any{cond("Ready", "False", "ClusterIsNotReady")}})
		f.expect("platform-database", Failed, "0 of 1 instance(s) ready")
		f.setStatus(cnpgGVR, render.DatabaseNamespace, "docs-db", map[string]any{"phase": "Cluster in healthy state", "readyInstances": int64(1), "instances": int64(1),
			"conditions": []any{cond("Ready", "True", "ClusterIsReady")}})
		f.expect("platform-database", Passed, "docs-db")

		f.expect("platform-backup-age", Failed, "no completed backup")
		backup := func(name string, stopped time.Time, phase string) {
			f.apply(obj(fmt.Sprintf("apiVersion: postgresql.cnpg.io/v1\nkind: Backup\nmetadata: {name: %s, namespace: %s}\nspec: {cluster: {name: docs-db}, method: plugin}", name, render.DatabaseNamespace)))
			f.setStatus(backupGVR, render.DatabaseNamespace, name, map[string]any{"phase": phase, "stoppedAt": stopped.UTC().Format(time.RFC3339)})
		}
		backup("old", time.Now().Add(-30*time.Hour), "completed")
		f.expect("platform-backup-age", Warned, "newest completed 30h")
		backup("older", time.Now().Add(-100*time.Hour), "completed")
		f.expect("platform-backup-age", Warned, "30h")
		backup("recent", time.Now().Add(-2*time.Hour), "completed")
		f.expect("platform-backup-age", Passed, "newest completed 2h")
		f.e.Now = func() time.Time { return time.Now().Add(4 * 24 * time.Hour) }
		f.expect("platform-backup-age", Failed, "4 days")
		f.e.Now = nil

		f.expect("platform-restore-check", Warned, "no restore check has run yet")
		record := func(status, msg string, finished time.Time, more string) {
			if more != "" {
				more = ", " + more
			}
			f.apply(obj(fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\ndata: {status: %q, message: %q, backup: recent, finishedAt: %q%s}",
				render.RestoreCheckResult, render.DatabaseNamespace, status, msg, finished.UTC().Format(time.RFC3339), more)))
		}
		record("failed", "the restored docs database has 0 tables", time.Now().Add(-time.Hour), "")
		f.expect("platform-restore-check", Failed, "0 tables")
		record("passed", "", time.Now().Add(-time.Hour), "rtoSeconds: \"312\", rpoSeconds: \"140\"")
		f.expect("platform-restore-check", Passed, "backup recent): restored in 5m12s (RTO), newest archived WAL 2m20s old (RPO)")
		record("passed", "", time.Now().Add(-time.Hour), "rtoSeconds: \"312\", rpoSeconds: \"1260\"")
		f.expect("platform-restore-check", Warned, "newest archived WAL 21m0s old (RPO); the RPO exceeds 15m0s")
		record("passed", "", time.Now().Add(-3*24*time.Hour), "")
		f.expect("platform-restore-check", Warned, "3 days")
	})

	t.Run("edge", func(t *testing.T) {
		f.t = t
		f.apply(obj(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: docs, namespace: edge}
spec: {gatewayClassName: eg, listeners: [{name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: docs-tls}]}}]}`))
		f.expect("edge-gateway", Failed, "not programmed")
		f.setStatus(gatewayGVR, "edge", "docs", map[string]any{"conditions": []any{cond("Accepted", "True", "Accepted"), cond("Programmed", "True", "Programmed")}})
		f.expect("edge-gateway", Passed, "docs")
		f.apply(obj(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: docs, namespace: edge}
spec: {parentRefs: [{name: docs}], rules: [{backendRefs: [{name: docs-backend, port: 80}]}]}`))
		f.expect("edge-routes", Failed, "not attached")
		parent := func(resolved string) {
			f.setStatus(routeGVR, "edge", "docs", map[string]any{"parents": []any{map[string]any{"controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
				"parentRef": map[string]any{"name": "docs"}, "conditions": []any{cond("Accepted", "True", "Accepted"), cond("ResolvedRefs", resolved, "BackendNotFound")}}}})
		}
		parent("False")
		f.expect("edge-routes", Failed, "not ResolvedRefs")
		parent("True")
		f.expect("edge-routes", Passed, "1 route(s)")

		ca := certtest.NewRoot(t, "appliance CA")
		tlsSecret := func(notAfter time.Time) {
			leaf := ca.Issue(t, certtest.Leaf{Hosts: []string{"docs.example.org"}, NotAfter: notAfter})
			s := obj("apiVersion: v1\nkind: Secret\nmetadata: {name: docs-tls, namespace: edge}\ntype: kubernetes.io/tls")
			if err := unstructured.SetNestedField(s.Object, map[string]any{"tls.crt": string(leaf.ChainPEM()), "tls.key": string(leaf.KeyPEM(t))}, "stringData"); err != nil {
				t.Fatal(err)
			}
			f.apply(s)
		}
		tlsSecret(time.Now().Add(60 * 24 * time.Hour))
		f.expect("edge-certificates", Passed, "docs.example.org", "59 day(s)")
		tlsSecret(time.Now().Add(5 * 24 * time.Hour))
		f.expect("edge-certificates", Warned, "4 day(s)")
		tlsSecret(time.Now().Add(time.Hour))
		f.e.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
		f.expect("edge-certificates", Failed, "expired")
		f.e.Now = nil
	})

	t.Run("secrets", func(t *testing.T) {
		f.t = t
		id, _ := age.GenerateX25519Identity()
		other, _ := age.GenerateX25519Identity()
		f.e.AgeKey, f.e.StateDir = id, t.TempDir()
		enc, err := secrets.Encrypt(secrets.KubeSecret("docs", "docs-secrets", nil, map[string]string{"k": "v"}), []string{id.Recipient().String()})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(repoDir, "secrets", "docs-secrets.yaml")
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, enc, 0o644); err != nil {
			t.Fatal(err)
		}
		f.expect("secrets-decrypt", Passed, "1 encrypted file(s)")
		corrupt := strings.Replace(string(enc), "ENC[AES256_GCM,data:", "ENC[AES256_GCM,data:AA", 1)
		if err := os.WriteFile(file, []byte(corrupt), 0o644); err != nil {
			t.Fatal(err)
		}
		f.expect("secrets-decrypt", Failed, "secrets/docs-secrets.yaml")
		if err := os.WriteFile(file, enc, 0o644); err != nil {
			t.Fatal(err)
		}
		f.e.AgeKey = other
		f.expect("secrets-decrypt", Failed, "secrets/docs-secrets.yaml")
		f.e.AgeKey = id

		f.expect("secrets-cluster-key", Failed, "no age key")
		key := func(k *age.X25519Identity) {
			f.apply(obj(fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: sops-age, namespace: flux-system}\nstringData: {age.agekey: %q}", k.String())))
		}
		key(other)
		f.expect("secrets-cluster-key", Failed, "is not the local key")
		key(id)
		f.expect("secrets-cluster-key", Passed)

		f.expect("secrets-key-backup", Warned, "no offline copy")
		if err := secrets.ConfirmKeyBackup(f.e.StateDir, other.Recipient().String(), time.Now()); err != nil {
			t.Fatal(err)
		}
		f.expect("secrets-key-backup", Warned, "another key")
		if err := secrets.ConfirmKeyBackup(f.e.StateDir, id.Recipient().String(), time.Now()); err != nil {
			t.Fatal(err)
		}
		f.expect("secrets-key-backup", Passed)
	})

	t.Run("api server down", func(t *testing.T) {
		f.t = t
		down := &Env{KubeErr: fmt.Errorf("dial tcp 127.0.0.1:6443: connection refused")}
		rep := Run(ctx, down, clusterChecks())
		for _, r := range rep.Results {
			if r.Outcome != Failed || !strings.Contains(r.Detail, "connection refused") || !strings.Contains(r.Fix, "systemctl start k3s") {
				t.Fatalf("%s with the API server down: %+v", r.ID, r)
			}
		}
	})
}

func gitopsLive(name, path string) gitops.LiveKustomization {
	k := obj("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: " + name + ", namespace: flux-system}\nspec: {path: " + path + "}")
	return gitops.LiveKustomization{Name: name, Path: path, Object: k}
}

// writeRepo writes the desired state of the test's "apps" Kustomization.
func writeRepo(t testing.TB, dir string) {
	t.Helper()
	files := map[string]string{
		"apps/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [settings.yaml, backend.yaml, worker.yaml]\n",
		"apps/settings.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: docs}\ndata: {LOG_LEVEL: info}\n",
	}
	for name, u := range map[string]*unstructured.Unstructured{"apps/backend.yaml": deployment("docs", "docs-backend", true), "apps/worker.yaml": deployment("docs", "docs-celery-worker", false)} {
		data, err := yaml.Marshal(u.Object)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(data)
	}
	files["apps/kustomization.yaml"] = strings.Replace(files["apps/kustomization.yaml"], "worker.yaml]", "worker.yaml, migrate.yaml]", 1)
	files["apps/migrate.yaml"] = `apiVersion: batch/v1
kind: Job
metadata: {name: docs-migrate, namespace: docs, annotations: {kustomize.toolkit.fluxcd.io/force: enabled}}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: "x.test/y@sha256:0000000000000000000000000000000000000000000000000000000000000000"}]
`
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
