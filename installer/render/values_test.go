package render

import (
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/profiles"
)

// The upstream charts cannot be fetched here: their values are checked as
// values, key by key, against what each chart's values.yaml documents at
// the train's version.

// dig reads a dotted path of a values map ("a.b.c"); list indexes are
// written [n].
func dig(t *testing.T, values map[string]any, path string) any {
	t.Helper()
	var cur any = values
	for _, part := range strings.Split(path, ".") {
		idx := -1
		if i := strings.Index(part, "["); i >= 0 {
			fmt.Sscanf(part[i:], "[%d]", &idx)
			part = part[:i]
		}
		mm, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: %T is not a map at %q", path, cur, part)
		}
		cur, ok = mm[part]
		if !ok {
			t.Fatalf("%s: no key %q (have %v)", path, part, keys(mm))
		}
		if idx >= 0 {
			l, ok := cur.([]any)
			if !ok || idx >= len(l) {
				t.Fatalf("%s: %q is not a list of more than %d items", path, part, idx)
			}
			cur = l[idx]
		}
	}
	return cur
}

func keys(mm map[string]any) []string {
	var out []string
	for k := range mm {
		out = append(out, k)
	}
	return out
}

func valuesFor(t *testing.T, chart, profile string, sets ...string) (map[string]any, *valuesContext) {
	t.Helper()
	f := newFixture(t, profile, sets...)
	v := &valuesContext{Config: f.opts.Config, Train: f.opts.Train, Profile: f.opts.Profile}
	c, ok := v.Train.Chart(chart)
	if !ok {
		t.Fatalf("the test train has no chart %s", chart)
	}
	vals, err := chartValues(v, c)
	if err != nil {
		t.Fatal(err)
	}
	// Values must survive YAML, as Helm reads them.
	if _, err := yaml.Marshal(vals); err != nil {
		t.Fatalf("values of %s do not encode: %v", chart, err)
	}
	return vals, v
}

func want(t *testing.T, vals map[string]any, path string, expected any) {
	t.Helper()
	if got := dig(t, vals, path); fmt.Sprint(got) != fmt.Sprint(expected) {
		t.Errorf("%s = %v, want %v", path, got, expected)
	}
}

// digestOf is the made-up digest the test train pins repo at.
func digestOf(t *testing.T, v *valuesContext, repo string) string {
	t.Helper()
	im, ok := v.Train.ImageFor(repo)
	if !ok || im.Digest == "" {
		t.Fatalf("the test train pins no digest for %s", repo)
	}
	return im.Digest
}

func TestEveryTrainChartHasValues(t *testing.T) {
	tr := testTrain(t)
	for _, c := range tr.Charts {
		switch c.Name {
		case "operator", "standin", "monitor":
			continue // fixtures of the render machinery
		}
		if _, ok := valuesBuilders[c.Name]; !ok {
			t.Errorf("chart %s of the train gets no values from the appliance", c.Name)
		}
	}
}

func TestCertManagerValues(t *testing.T) {
	vals, v := valuesFor(t, "cert-manager", "single")
	want(t, vals, "crds.enabled", true)
	want(t, vals, "crds.keep", true)
	// HTTP-01 through the Gateway needs the Gateway API feature.
	want(t, vals, "config.enableGatewayAPI", true)
	want(t, vals, "config.kind", "ControllerConfiguration")
	want(t, vals, "global.leaderElection.namespace", "cert-manager")
	want(t, vals, "image.repository", "quay.io/jetstack/cert-manager-controller")
	want(t, vals, "image.tag", "v1.21.1")
	want(t, vals, "image.digest", digestOf(t, v, "jetstack/cert-manager-controller"))
	want(t, vals, "acmesolver.image.digest", digestOf(t, v, "jetstack/cert-manager-acmesolver"))
	want(t, vals, "webhook.image.repository", "quay.io/jetstack/cert-manager-webhook")
	want(t, vals, "cainjector.image.repository", "quay.io/jetstack/cert-manager-cainjector")
	want(t, vals, "startupapicheck.image.repository", "quay.io/jetstack/cert-manager-startupapicheck")
	want(t, vals, "prometheus.servicemonitor.enabled", true)
	want(t, vals, "resources.limits.memory", "384Mi")

	small, _ := valuesFor(t, "cert-manager", "single-small")
	want(t, small, "prometheus.enabled", false)
	want(t, small, "podDisruptionBudget.enabled", false)
	ha, _ := valuesFor(t, "cert-manager", "ha")
	want(t, ha, "replicaCount", 2)
	want(t, ha, "podDisruptionBudget.enabled", true)
}

func TestEnvoyGatewayValues(t *testing.T) {
	vals, v := valuesFor(t, "gateway-helm", "single")
	img := "docker.io/envoyproxy/gateway:v1.9.0@" + digestOf(t, v, "envoyproxy/gateway")
	want(t, vals, "global.images.envoyGateway.image", img)
	// The proxies' shutdown manager runs the same pinned image.
	want(t, vals, "config.envoyGateway.provider.kubernetes.shutdownManager.image", img)
	want(t, vals, "config.envoyGateway.gateway.controllerName", "gateway.envoyproxy.io/gatewayclass-controller")
	want(t, vals, "deployment.replicas", 1)
	want(t, vals, "podDisruptionBudget.minAvailable", 0)
	ha, _ := valuesFor(t, "gateway-helm", "ha")
	want(t, ha, "deployment.replicas", 2)
	want(t, ha, "podDisruptionBudget.minAvailable", 1)
}

func TestCloudNativePGValues(t *testing.T) {
	vals, v := valuesFor(t, "cloudnative-pg", "single-small")
	want(t, vals, "crds.create", true)
	want(t, vals, "image.repository", "ghcr.io/cloudnative-pg/cloudnative-pg")
	want(t, vals, "image.tag", "1.30.0@"+digestOf(t, v, "cloudnative-pg/cloudnative-pg"))
	want(t, vals, "config.data.POSTGRES_IMAGE_NAME", "ghcr.io/cloudnative-pg/postgresql:17.6-standard-bookworm@"+digestOf(t, v, "cloudnative-pg/postgresql"))
	want(t, vals, "monitoring.podMonitorEnabled", false)
	obs, _ := valuesFor(t, "cloudnative-pg", "single")
	want(t, obs, "monitoring.podMonitorEnabled", true)
}

func TestBarmanCloudValues(t *testing.T) {
	vals, v := valuesFor(t, "plugin-barman-cloud", "single")
	want(t, vals, "image.registry", "ghcr.io")
	want(t, vals, "image.repository", "cloudnative-pg/plugin-barman-cloud")
	want(t, vals, "image.tag", "v0.14.0@"+digestOf(t, v, "cloudnative-pg/plugin-barman-cloud"))
	// The sidecar injected into PostgreSQL pods is pinned too.
	want(t, vals, "sidecarImage.repository", "cloudnative-pg/plugin-barman-cloud-sidecar")
	want(t, vals, "sidecarImage.tag", "v0.14.0@"+digestOf(t, v, "cloudnative-pg/plugin-barman-cloud-sidecar"))
}

func TestRedisOperatorValues(t *testing.T) {
	vals, v := valuesFor(t, "redis-operator", "single")
	want(t, vals, "redisOperator.imageName", "quay.io/opstree/redis-operator")
	want(t, vals, "redisOperator.imageTag", "v0.26.0@"+digestOf(t, v, "opstree/redis-operator"))
	want(t, vals, "redisOperator.webhook", false)
	want(t, vals, "redisOperator.imagePullPolicy", "IfNotPresent")
	want(t, vals, "resources.requests.cpu", "50m")
}

func TestKubePrometheusStackValues(t *testing.T) {
	vals, v := valuesFor(t, "kube-prometheus-stack", "single")
	// k3s runs these inside one process: scraping them separately would
	// report them down forever.
	for _, c := range []string{"kubeControllerManager", "kubeScheduler", "kubeProxy", "kubeEtcd"} {
		want(t, vals, c+".enabled", false)
	}
	for _, r := range []string{"etcd", "kubeControllerManager", "kubeSchedulerAlerting", "kubeProxy"} {
		want(t, vals, "defaultRules.rules."+r, false)
	}
	// One server: "cannot tolerate node failure" is not an incident.
	want(t, vals, "defaultRules.disabled.KubeCPUOvercommit", true)
	want(t, vals, "defaultRules.disabled.KubeMemoryOvercommit", true)
	// The appliance's PodMonitors, Probes and rules are picked up whatever their labels.
	for _, k := range []string{"serviceMonitor", "podMonitor", "probe", "rule"} {
		want(t, vals, "prometheus.prometheusSpec."+k+"SelectorNilUsesHelmValues", false)
	}
	want(t, vals, "prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage", "20Gi")
	// 85% of 20Gi in MiB: Prometheus deletes old data before the volume fills.
	want(t, vals, "prometheus.prometheusSpec.retentionSize", "17408MB")
	want(t, vals, "prometheus.prometheusSpec.resources.limits.memory", "3Gi")
	want(t, vals, "prometheus.prometheusSpec.image.registry", "quay.io")
	want(t, vals, "prometheus.prometheusSpec.image.repository", "prometheus/prometheus")
	// The prometheus-community charts take the digest's hex alone.
	want(t, vals, "prometheus.prometheusSpec.image.sha", strings.TrimPrefix(digestOf(t, v, "prometheus/prometheus"), "sha256:"))
	want(t, vals, "grafana.image.sha", strings.TrimPrefix(digestOf(t, v, "grafana/grafana"), "sha256:"))
	want(t, vals, "prometheus-node-exporter.image.digest", digestOf(t, v, "prometheus/node-exporter"))
	// Else the chart renders :v1.10.2-distroless, which the train does not pin.
	want(t, vals, "prometheus-node-exporter.image.distroless", false)
	want(t, vals, "prometheusOperator.admissionWebhooks.enabled", false)
	want(t, vals, "grafana.admin.existingSecret", "grafana-admin")
	want(t, vals, "grafana.sidecar.dashboards.searchNamespace", "ALL")
	// Flux readiness as metrics.
	want(t, vals, "kube-state-metrics.customResourceState.enabled", true)
	want(t, vals, "kube-state-metrics.customResourceState.config.spec.resources[0].groupVersionKind.kind", "Kustomization")
	// Without a relay, alerts stay in Alertmanager (and doctor).
	want(t, vals, "alertmanager.config.route.receiver", "null")

	ha, _ := valuesFor(t, "kube-prometheus-stack", "ha")
	if d := dig(t, ha, "defaultRules.disabled").(m); d["KubeCPUOvercommit"] != nil {
		t.Error("three servers must keep the overcommit alerts: losing one is a real risk there")
	}
}

// dig cannot read a key with a dot; grafana.ini is checked here.
func TestGrafanaDoesNotPhoneHome(t *testing.T) {
	vals, _ := valuesFor(t, "kube-prometheus-stack", "single")
	ini := dig(t, vals, "grafana").(m)["grafana.ini"].(m)
	if ini["analytics"].(m)["check_for_updates"] != false || ini["analytics"].(m)["reporting_enabled"] != false {
		t.Errorf("grafana.ini analytics = %v", ini["analytics"])
	}
}

func TestAlertmanagerMailsTheAdministrator(t *testing.T) {
	vals, _ := valuesFor(t, "kube-prometheus-stack", "single",
		"smtp.host=smtp.example.org", "smtp.username=docs", "smtp.from=docs@example.org")
	want(t, vals, "alertmanager.config.route.receiver", "admin")
	want(t, vals, "alertmanager.config.receivers[1].email_configs[0].to", "admin@example.org")
	want(t, vals, "alertmanager.config.global.smtp_smarthost", "smtp.example.org:587")
	want(t, vals, "alertmanager.config.global.smtp_require_tls", true)
	// The password is a mounted file, never a value.
	want(t, vals, "alertmanager.config.global.smtp_auth_password_file", "/etc/alertmanager/secrets/alertmanager-smtp/password")
	want(t, vals, "alertmanager.alertmanagerSpec.secrets[0]", "alertmanager-smtp")
	// Watchdog proves the pipeline and always fires: never mailed.
	want(t, vals, "alertmanager.config.route.routes[0].receiver", "null")
}

func TestBlackboxExporterValues(t *testing.T) {
	vals, v := valuesFor(t, "prometheus-blackbox-exporter", "single")
	want(t, vals, "fullnameOverride", blackboxName)
	want(t, vals, "image.digest", digestOf(t, v, "prometheus/blackbox-exporter"))
	want(t, vals, "config.modules.docs_public.http.fail_if_not_ssl", true)
	// The heartbeat is asked the way a proxied request asks.
	want(t, vals, "config.modules.docs_internal.http.headers.Host", "docs.example.org")
	want(t, vals, "config.modules.docs_internal.http.headers.X-Forwarded-Proto", "https")

	ca, _ := valuesFor(t, "prometheus-blackbox-exporter", "single", "tls.mode=appliance-ca")
	want(t, ca, "config.modules.docs_public.http.tls_config.ca_file", "/etc/appliance-ca/ca.crt")
	want(t, ca, "extraConfigmapMounts[0].configMap", caExport)
	provided, _ := valuesFor(t, "prometheus-blackbox-exporter", "single", "tls.mode=provided")
	want(t, provided, "config.modules.docs_public.http.tls_config.insecure_skip_verify", true)
}

func TestKyvernoValues(t *testing.T) {
	vals, v := valuesFor(t, "kyverno", "single")
	want(t, vals, "admissionController.container.image.registry", "reg.kyverno.io")
	want(t, vals, "admissionController.container.image.repository", "kyverno/kyverno")
	want(t, vals, "admissionController.container.image.tag", "v1.19.0@"+digestOf(t, v, "kyverno/kyverno"))
	want(t, vals, "admissionController.initContainer.image.repository", "kyverno/kyvernopre")
	// Report cleanup CronJobs run the train's kubectl, not an unpinned default.
	want(t, vals, "cleanupJobs.admissionReports.image.registry", "registry.k8s.io")
	want(t, vals, "cleanupJobs.admissionReports.image.repository", "kubectl")
	// Pre-delete hooks would run at install once rendered as plain objects.
	want(t, vals, "webhooksCleanup.enabled", false)
	want(t, vals, "policyReportsCleanup.enabled", false)
	ha, _ := valuesFor(t, "kyverno", "ha")
	want(t, ha, "admissionController.replicas", 3)
}

func TestDocsValuesFollowTheProfile(t *testing.T) {
	for _, name := range []string{"single-small", "single", "ha"} {
		p, err := profiles.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		vals, _ := valuesFor(t, "docs", name)
		want(t, vals, "backend.replicas", p.Workload("docs-backend").Replicas)
		want(t, vals, "yProvider.replicas", p.Workload("docs-y-provider").Replicas)
		want(t, vals, "frontend.replicas", p.Workload("docs-frontend").Replicas)
		want(t, vals, "backend.celery.replicas", p.Workload("docs-celery").Replicas)
		want(t, vals, "backend.resources.limits.memory", string(p.Workload("docs-backend").Limits["memory"]))
		// A PDB over one pod blocks every drain.
		want(t, vals, "backend.pdb.enabled", p.Workload("docs-backend").Replicas > 1)
	}
}
