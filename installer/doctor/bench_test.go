package doctor

import (
	"context"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/e2e/envtest"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/config"
)

// BenchmarkRunHealthy is a full doctor run (every group but the host's and
// the user path's, which need this host's k3s and the appliance's domains)
// against a real API server holding a healthy appliance's Flux objects and
// workloads; the e2e test logs the same run's wall time on the node.
func BenchmarkRunHealthy(b *testing.B) {
	env := envtest.New(b)
	c, err := cluster.New(env.Config)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	crds := upstreamCRDs(b,
		"flux-kustomize-controller-v1.9.4/kustomize.toolkit.fluxcd.io_kustomizations.yaml",
		"flux-source-controller-v1.9.1/source.toolkit.fluxcd.io_gitrepositories.yaml")
	if _, err := c.Apply(ctx, crds, cluster.ApplyOptions{CRDTimeout: 2 * time.Minute}); err != nil {
		b.Fatal(err)
	}
	repoDir := b.TempDir()
	f := &fixture{t: b, ctx: ctx, c: c, e: &Env{Kube: c, Config: &config.Config{Git: config.Git{Mode: config.GitInCluster}},
		Train: &bundles.Train{Name: "t", Kubernetes: bundles.KubernetesRange{MinVersion: "1.20", MaxVersion: "1.99"}},
		Repo:  &Repository{Dir: repoDir, Head: head, Revision: "main@sha1:" + head}}}
	for _, ns := range []string{"flux-system", "docs"} {
		f.apply(obj("apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "}"))
	}
	f.apply(obj("apiVersion: v1\nkind: Node\nmetadata: {name: server-1}"))
	f.setStatus(nodeGVR, "", "server-1", map[string]any{"conditions": []any{cond("Ready", "True", "KubeletReady")}})
	writeRepo(b, repoDir)
	f.apply(obj(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 1m, url: "http://git.test/appliance.git", ref: {branch: main}}`))
	f.apply(obj(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec: {interval: 10m, path: ./apps, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}`))
	objs, err := desiredObjects(repoDir, gitopsLive("apps", "./apps"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Apply(ctx, objs, cluster.ApplyOptions{FieldManager: kustomizeController}); err != nil {
		b.Fatal(err)
	}
	f.setStatus(kustomizationGVR, "flux-system", "apps", ready("True", map[string]any{"observedGeneration": int64(0),
		"lastAppliedRevision": "main@sha1:" + head, "inventory": map[string]any{"entries": []any{
			inventoryEntry("docs", "settings", "", "ConfigMap", "v1"),
			inventoryEntry("docs", "docs-backend", "apps", "Deployment", "v1"),
			inventoryEntry("docs", "docs-celery-worker", "apps", "Deployment", "v1"),
		}}}))
	f.setStatus(gitRepoGVR, "flux-system", "flux-system", ready("True", map[string]any{"observedGeneration": int64(0),
		"artifact": map[string]any{"revision": "main@sha1:" + head, "path": "x", "url": "http://x/x.tar.gz", "digest": "sha256:00", "lastUpdateTime": time.Now().UTC().Format(time.RFC3339)}}))
	f.setStatus(deployGVR, "docs", "docs-backend", available(1))
	f.setStatus(deployGVR, "docs", "docs-celery-worker", available(1))

	var checks []Check
	for _, c := range All() {
		if c.Group != "host" && c.Group != "user-path" && c.Group != "secrets" {
			checks = append(checks, c)
		}
	}
	rep := Run(ctx, f.e, checks)
	if rep.Summary.Failed > 0 {
		b.Fatalf("the benchmark's appliance is not healthy:\n%s", rep.Text())
	}
	b.ResetTimer()
	for b.Loop() {
		Run(ctx, f.e, checks)
	}
}
