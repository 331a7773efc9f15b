package render

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// Names the monitoring objects agree on.
const (
	blackboxName = "blackbox-exporter"
	blackboxPort = 9115
	// gatewayServiceName names the Envoy proxies' LoadBalancer Service
	// (EnvoyProxy envoyService.name) so dashboards and probes can find it.
	gatewayServiceName = "docs-gateway"
)

// kubePrometheusStackValues size Prometheus, Alertmanager and Grafana for
// one node, pick up every PodMonitor, Probe and rule of the appliance
// whatever their labels, and turn off what k3s does not have: k3s runs the
// scheduler, controller-manager, proxy and etcd inside one process, so
// their scrape jobs and alerts would report them down forever.
func kubePrometheusStackValues(v *valuesContext) (map[string]any, error) {
	cfg, p := v.Config, v.Profile
	img := func(repo, digestKey string) (m, error) { return v.imageValues(repo, true, digestKey) }
	operator, err := img("prometheus-operator/prometheus-operator", "sha")
	if err != nil {
		return nil, err
	}
	reloader, err := img("prometheus-operator/prometheus-config-reloader", "sha")
	if err != nil {
		return nil, err
	}
	prometheus, err := img("prometheus/prometheus", "sha")
	if err != nil {
		return nil, err
	}
	alertmanager, err := img("prometheus/alertmanager", "sha")
	if err != nil {
		return nil, err
	}
	grafana, err := img("grafana/grafana", "sha")
	if err != nil {
		return nil, err
	}
	sidecar, err := img("kiwigrid/k8s-sidecar", "sha")
	if err != nil {
		return nil, err
	}
	ksm, err := img("kube-state-metrics/kube-state-metrics", "sha")
	if err != nil {
		return nil, err
	}
	nodeExporter, err := img("prometheus/node-exporter", "digest")
	if err != nil {
		return nil, err
	}
	size, err := resource.ParseQuantity(p.Storage.Metrics)
	if err != nil {
		return nil, fmt.Errorf("parsing the profile's metrics storage %q: %w", p.Storage.Metrics, err)
	}
	// Prometheus deletes old blocks before the volume fills: keep 15% for
	// the write-ahead log and compaction. Its MB are MiB.
	retentionSize := fmt.Sprintf("%dMB", size.Value()*85/100/(1<<20))

	disabled := m{
		// Informational; throttling of limited pods is expected.
		"CPUThrottlingHigh": true,
	}
	if p.Servers == 1 {
		// "Cannot tolerate node failure" is a fact on one server, not an incident.
		disabled["KubeCPUOvercommit"] = true
		disabled["KubeMemoryOvercommit"] = true
	}
	values := map[string]any{
		"crds":                               m{"enabled": true, "upgradeJob": m{"enabled": false}},
		"cleanPrometheusOperatorObjectNames": true,
		"defaultRules": m{
			"create": true,
			"rules": m{
				"etcd": false, "kubeControllerManager": false, "kubeSchedulerAlerting": false,
				"kubeSchedulerRecording": false, "kubeProxy": false, "windows": false,
			},
			"disabled": disabled,
		},
		"kubeControllerManager": m{"enabled": false},
		"kubeScheduler":         m{"enabled": false},
		"kubeProxy":             m{"enabled": false},
		"kubeEtcd":              m{"enabled": false},
		"windowsMonitoring":     m{"enabled": false},
		"prometheusOperator": m{
			"image":                    operator,
			"prometheusConfigReloader": m{"image": reloader},
			// The admission webhook needs kube-webhook-certgen, one more
			// image for a check the CRD schemas already make.
			"admissionWebhooks": m{"enabled": false, "patch": m{"enabled": false}},
			"tls":               m{"enabled": false},
			"resources":         resources(p, "operator"),
		},
		"prometheus": m{"prometheusSpec": m{
			"image":         prometheus,
			"replicas":      1,
			"resources":     resources(p, "prometheus"),
			"retention":     "15d",
			"retentionSize": retentionSize,
			"storageSpec": m{"volumeClaimTemplate": m{"spec": m{
				"accessModes": list{"ReadWriteOnce"},
				"resources":   m{"requests": m{"storage": p.Storage.Metrics}},
			}}},
			"serviceMonitorSelectorNilUsesHelmValues": false,
			"podMonitorSelectorNilUsesHelmValues":     false,
			"probeSelectorNilUsesHelmValues":          false,
			"ruleSelectorNilUsesHelmValues":           false,
			"scrapeConfigSelectorNilUsesHelmValues":   false,
		}},
		"alertmanager": m{
			"alertmanagerSpec": alertmanagerSpec(cfg, alertmanager, p.Workload("alertmanager").Replicas, resources(p, "alertmanager")),
			"config":           alertmanagerConfig(cfg),
		},
		"grafana": m{
			"image":     grafana,
			"resources": resources(p, "grafana"),
			"admin":     m{"existingSecret": "grafana-admin", "userKey": "admin-user", "passwordKey": "admin-password"},
			"sidecar": m{
				"image": sidecar,
				"dashboards": m{
					"enabled": true, "label": "grafana_dashboard", "labelValue": "1",
					"searchNamespace": "ALL", "folderAnnotation": "grafana_folder",
					"provider": m{"foldersFromFilesStructure": true},
				},
				"datasources": m{"enabled": true},
			},
			// Both pull images the train does not carry, for nothing needed here.
			"testFramework": m{"enabled": false},
			"initChownData": m{"enabled": false},
			"persistence":   m{"enabled": false},
			"grafana.ini": m{
				// An appliance does not phone home.
				"analytics": m{"check_for_updates": false, "check_for_plugin_updates": false, "reporting_enabled": false},
				"users":     m{"allow_sign_up": false},
			},
		},
		"kube-state-metrics": m{
			"image":     ksm,
			"resources": resources(p, "exporter"),
			// Flux's own readiness as metrics (gotk_resource_info): Flux 2
			// exports none itself; this is its documented setup.
			"rbac": m{"extraRules": list{
				rule([]string{"kustomize.toolkit.fluxcd.io"}, []string{"kustomizations"}, []string{"list", "watch"}),
				rule([]string{"source.toolkit.fluxcd.io"}, []string{"gitrepositories"}, []string{"list", "watch"}),
			}},
			"customResourceState": m{"enabled": true, "config": fluxStateMetrics()},
		},
		"prometheus-node-exporter": m{
			// The chart appends -distroless to the tag unless told not to:
			// the image would not be the one the train pins.
			"image":     withKey(nodeExporter, "distroless", false),
			"resources": resources(p, "exporter"),
		},
	}
	return values, nil
}

func alertmanagerSpec(cfg *config.Config, image m, replicas int, res m) m {
	spec := m{
		"image":     image,
		"replicas":  replicas,
		"resources": res,
		// Silences and notification state survive a restart.
		"storage": m{"volumeClaimTemplate": m{"spec": m{
			"accessModes": list{"ReadWriteOnce"},
			"resources":   m{"requests": m{"storage": "1Gi"}},
		}}},
	}
	if cfg.SMTP.Enabled() && cfg.SMTP.Username != "" {
		spec["secrets"] = list{"alertmanager-smtp"}
	}
	return spec
}

// alertmanagerConfig mails alerts to the administrator when a relay is
// configured; otherwise alerts stay visible in Alertmanager and doctor.
func alertmanagerConfig(cfg *config.Config) m {
	route := m{
		"receiver": "null", "group_by": list{"alertname", "namespace"},
		"group_wait": "30s", "group_interval": "5m", "repeat_interval": "12h",
		"routes": list{
			// Watchdog always fires (it proves the pipeline works); InfoInhibitor
			// only mutes info alerts.
			m{"receiver": "null", "matchers": list{`alertname = "Watchdog"`}},
			m{"receiver": "null", "matchers": list{`alertname = "InfoInhibitor"`}},
		},
	}
	receivers := list{m{"name": "null"}}
	out := m{"route": route, "receivers": receivers, "inhibit_rules": list{
		m{
			"source_matchers": list{`severity = "critical"`}, "target_matchers": list{`severity =~ "warning|info"`},
			"equal": list{"namespace", "alertname"},
		},
		m{
			"source_matchers": list{`alertname = "InfoInhibitor"`}, "target_matchers": list{`severity = "info"`},
			"equal": list{"namespace"},
		},
	}}
	if !cfg.SMTP.Enabled() {
		return out
	}
	global := m{
		"smtp_smarthost":   fmt.Sprintf("%s:%d", cfg.SMTP.Host, cfg.SMTP.Port),
		"smtp_from":        cfg.SMTP.From,
		"smtp_require_tls": cfg.SMTP.Security == config.SMTPStartTLS,
	}
	if cfg.SMTP.Username != "" {
		global["smtp_auth_username"] = cfg.SMTP.Username
		// A file, not the value: the config is a plain Helm value.
		global["smtp_auth_password_file"] = "/etc/alertmanager/secrets/alertmanager-smtp/password"
	}
	out["global"] = global
	route["receiver"] = "admin"
	out["receivers"] = append(receivers, m{"name": "admin", "email_configs": list{m{"to": cfg.AdminEmail, "send_resolved": true}}})
	return out
}

// fluxStateMetrics is kube-state-metrics' custom resource state for Flux
// Kustomizations and GitRepositories (metric gotk_resource_info).
func fluxStateMetrics() m {
	res := func(group, version, kind string, revision list) m {
		return m{
			"groupVersionKind": m{"group": group, "version": version, "kind": kind},
			"metricNamePrefix": "gotk",
			"metrics": list{m{
				"name": "resource_info",
				"help": "The current state of a Flux " + kind + ".",
				"each": m{"type": "Info", "info": m{"labelsFromPath": m{"name": list{"metadata", "name"}}}},
				"labelsFromPath": m{
					"exported_namespace": list{"metadata", "namespace"},
					"ready":              list{"status", "conditions", "[type=Ready]", "status"},
					"suspended":          list{"spec", "suspend"},
					"revision":           revision,
				},
			}},
		}
	}
	return m{"spec": m{"resources": list{
		res("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", list{"status", "lastAppliedRevision"}),
		res("source.toolkit.fluxcd.io", "v1", "GitRepository", list{"status", "artifact", "revision"}),
	}}}
}

// blackboxExporterValues: two modules. docs_public goes the way users go
// (DNS, TLS, Gateway, backend); docs_internal asks the backend's
// /__heartbeat__ (database and migrations) directly, with the Host and
// scheme a proxied request carries.
func blackboxExporterValues(v *valuesContext) (map[string]any, error) {
	cfg := v.Config
	img, err := v.imageValues("prometheus/blackbox-exporter", true, "digest")
	if err != nil {
		return nil, err
	}
	public := m{
		"method": "GET", "valid_status_codes": list{200}, "fail_if_not_ssl": true,
		"preferred_ip_protocol": "ip4", "follow_redirects": false,
	}
	values := map[string]any{
		"fullnameOverride": blackboxName,
		"image":            img,
		"resources":        resources(v.Profile, "exporter"),
		"config": m{"modules": m{
			"docs_public": m{"prober": "http", "timeout": "10s", "http": public},
			"docs_internal": m{"prober": "http", "timeout": "10s", "http": m{
				"method": "GET", "valid_status_codes": list{200}, "preferred_ip_protocol": "ip4",
				"follow_redirects": false,
				"headers":          m{"Host": cfg.Domain, "X-Forwarded-Proto": "https"},
			}},
		}},
	}
	switch cfg.TLS.Mode {
	case config.TLSApplianceCA:
		// Trust the appliance CA the export Job publishes in this namespace.
		public["tls_config"] = m{"ca_file": "/etc/appliance-ca/ca.crt"}
		values["extraConfigmapMounts"] = list{m{
			"name": caExport, "mountPath": "/etc/appliance-ca", "configMap": caExport, "readOnly": true, "defaultMode": 0o444,
		}}
	case config.TLSProvided:
		// The operator's CA may be private and is not the appliance's to
		// know: the probe still checks the answer and the expiry date.
		public["tls_config"] = m{"insecure_skip_verify": true}
	}
	return values, nil
}

// monitoringComponent is what the appliance adds to the monitoring stack:
// scrape targets for Flux, PostgreSQL, Envoy and Redis, the synthetic
// checks, the alert rules and the dashboards.
func (r *renderer) monitoringComponent(v *valuesContext) (*component, error) {
	cfg := v.Config
	if err := r.secretOf("monitoring", nsMonitoring, "grafana-admin", "",
		map[string]string{"admin-user": "admin"}, map[string]string{"admin-password": "grafana.adminPassword"}); err != nil {
		return nil, err
	}
	if cfg.SMTP.Enabled() && cfg.SMTP.Username != "" {
		if err := r.secretFromStore("monitoring", nsMonitoring, "alertmanager-smtp", map[string]string{"password": "smtp.password"}); err != nil {
			return nil, err
		}
	}
	egNS := v.chartNamespace("gateway-helm", "envoy-gateway-system")
	podMonitor := func(name, ns string, selector m, port, path string) Object {
		ep := m{"port": port, "interval": "30s"}
		if path != "" {
			ep["path"] = path
		}
		return newObject("monitoring.coreos.com/v1", "PodMonitor", nsMonitoring, name, "monitoring").with("spec", m{
			"namespaceSelector":   m{"matchNames": list{ns}},
			"selector":            selector,
			"podMetricsEndpoints": list{ep},
		})
	}
	objs := []Object{
		podMonitor("flux", "flux-system", m{"matchExpressions": list{m{
			"key": "app", "operator": "In", "values": list{"source-controller", "kustomize-controller", "notification-controller"},
		}}}, "http-prom", ""),
		podMonitor("postgres", nsDatabase, m{"matchLabels": m{"cnpg.io/cluster": postgresCluster, "cnpg.io/podRole": "instance"}}, "metrics", ""),
		podMonitor("envoy", egNS, m{"matchLabels": m{
			"app.kubernetes.io/managed-by": "envoy-gateway", "app.kubernetes.io/component": "proxy",
		}}, "metrics", "/stats/prometheus"),
		podMonitor("redis", nsCache, m{"matchLabels": m{"app": redisName}}, "redis-exporter", ""),
	}
	prober := m{"url": fmt.Sprintf("%s.%s.svc:%d", blackboxName, nsMonitoring, blackboxPort), "path": "/probe"}
	var public []string
	for _, h := range cfg.Hosts() {
		public = append(public, "https://"+h+"/api/v1.0/config/")
	}
	objs = append(objs,
		newObject("monitoring.coreos.com/v1", "Probe", nsMonitoring, "docs-public", "monitoring").with("spec", m{
			"jobName": "docs-public", "interval": "60s", "scrapeTimeout": "15s", "module": "docs_public", "prober": prober,
			"targets": m{"staticConfig": m{"static": strs(public)}},
		}),
		newObject("monitoring.coreos.com/v1", "Probe", nsMonitoring, "docs-heartbeat", "monitoring").with("spec", m{
			"jobName": "docs-heartbeat", "interval": "60s", "scrapeTimeout": "15s", "module": "docs_internal", "prober": prober,
			"targets": m{"staticConfig": m{"static": list{fmt.Sprintf("http://%s/__heartbeat__", svcHost(docsFullname+"-backend", docsNamespace))}}},
		}),
		alertRules(v),
	)
	dashboards, err := dashboardConfigMaps()
	if err != nil {
		return nil, err
	}
	objs = append(objs, dashboards...)
	return &component{
		Component: Component{Name: "monitoring", Layer: "observability", Namespace: nsMonitoring},
		dir:       "infrastructure/monitoring",
		objects:   objs,
	}, nil
}

// alert is one alerting rule; every one waits (for:) long enough that a
// rollout, a restart or one lost scrape never pages anyone.
type alert struct {
	name, expr, forDuration, severity, summary, description string
}

func (a alert) rule() m {
	return m{
		"alert":  a.name,
		"expr":   a.expr,
		"for":    a.forDuration,
		"labels": m{"severity": a.severity, "appliance": "docs"},
		"annotations": m{
			"summary":     a.summary,
			"description": a.description,
		},
	}
}

// alertRules fire on failures a user or the data would feel.
func alertRules(v *valuesContext) Object {
	cfg, p := v.Config, v.Profile
	egNS := v.chartNamespace("gateway-helm", "envoy-gateway-system")
	groups := []struct {
		name   string
		alerts []alert
	}{
		{"docs", []alert{
			{"DocsUnreachable", `max by (instance) (probe_success{job="docs-public"}) == 0`, "5m", "critical",
				"Docs does not answer at {{ $labels.instance }}",
				"The public URL has failed every check for 5 minutes (DNS, TLS, the Gateway or the backend). Run `docs-appliance doctor`."},
			{"DocsBackendUnhealthy", `max(probe_success{job="docs-heartbeat"}) == 0`, "5m", "critical",
				"Docs' backend reports itself unhealthy",
				"/__heartbeat__ fails: the backend cannot reach its database or migrations are not applied."},
			{"DocsCertificateExpiresSoon", `min by (instance) (probe_ssl_earliest_cert_expiry{job="docs-public"} - time()) < 14 * 86400`, "1h", "warning",
				"The certificate of {{ $labels.instance }} expires in less than 14 days",
				"cert-manager renews 30 days ahead: renewal is failing (ACME reachability?), or the operator's certificate needs replacing."},
		}},
		{"database", []alert{
			{"PostgresInstancesDown", fmt.Sprintf(`(sum(cnpg_collector_up{namespace="%s", pod=~"%s-[0-9]+"}) or vector(0)) < %d`, nsDatabase, postgresCluster, p.Database.Instances), "10m", "critical",
				"PostgreSQL instances are down",
				"Fewer PostgreSQL instances answer than the profile runs. Docs and Keycloak stop when the primary is gone."},
			{"PostgresBackupTooOld", fmt.Sprintf(`time() - max(barman_cloud_cloudnative_pg_io_last_available_backup_timestamp{namespace="%s"}) > 30 * 3600`, nsDatabase), "1h", "critical",
				"The newest database backup is older than 30 hours",
				"The daily base backup did not complete: check the ScheduledBackup and the object store."},
			{"PostgresBackupFailed", fmt.Sprintf(`max(barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp{namespace="%[1]s"}) > max(barman_cloud_cloudnative_pg_io_last_available_backup_timestamp{namespace="%[1]s"})`, nsDatabase), "15m", "warning",
				"The last database backup failed", "A backup failed after the last good one: `kubectl -n database get backups`."},
			{"PostgresWALArchivingFailing", fmt.Sprintf(`rate(cnpg_pg_stat_archiver_failed_count{namespace="%s"}[10m]) > 0`, nsDatabase), "15m", "critical",
				"WAL archiving keeps failing",
				"PostgreSQL cannot copy its write-ahead log to the object store: point-in-time recovery is lost and the disk fills."},
			{"RestoreCheckFailed", fmt.Sprintf(`kube_cronjob_status_last_schedule_time{namespace="%[1]s", cronjob="%[2]s"} - kube_cronjob_status_last_successful_time{namespace="%[1]s", cronjob="%[2]s"} > 4 * 3600`, nsDatabase, restoreCheck), "10m", "critical",
				"The last restore check failed",
				"The latest backup could not be restored and read: see the restore-check-result ConfigMap in the database namespace."},
			{"RestoreCheckNeverPassed", fmt.Sprintf(`absent(kube_cronjob_status_last_successful_time{namespace="%[1]s", cronjob="%[2]s"}) and on() (time() - max(kube_cronjob_created{namespace="%[1]s", cronjob="%[2]s"}) > 2 * 86400)`, nsDatabase, restoreCheck), "1h", "warning",
				"No restore check has passed in two days", "Backups have not been proven restorable since the appliance was installed."},
		}},
		{"platform", []alert{
			{"RedisDown", fmt.Sprintf(`(max(redis_up{namespace="%s"}) or vector(0)) < 1`, nsCache), "5m", "critical",
				"Redis is down", "Docs' sessions, cache and task queue are unavailable: users are logged out and uploads stall."},
			{"GatewayNoProxy", fmt.Sprintf(`(sum(kube_deployment_status_replicas_available{namespace="%s", deployment=~"envoy-%s-%s-.*"}) or vector(0)) < 1`, egNS, nsEdge, gatewayName), "5m", "critical",
				"No Envoy proxy is running", "Nothing serves ports 80 and 443."},
			{"GatewayHighErrorRate", `sum(rate(envoy_http_downstream_rq_xx{envoy_response_code_class="5"}[5m])) / sum(rate(envoy_http_downstream_rq_xx[5m])) > 0.05 and sum(rate(envoy_http_downstream_rq_xx[5m])) > 0.2`, "10m", "warning",
				"More than 5% of requests fail with 5xx", "The Gateway answers errors for a sustained share of real traffic."},
			{"FluxLayerNotReady", `max by (exported_namespace, name) (gotk_resource_info{customresource_kind="Kustomization", ready="False", suspended!="true"}) > 0`, "30m", "critical",
				"Flux cannot apply layer {{ $labels.name }}",
				"The desired state is not converging: `docs-appliance doctor` shows the failing objects."},
			{"FluxSourceNotReady", `max by (exported_namespace, name) (gotk_resource_info{customresource_kind="GitRepository", ready="False"}) > 0`, "30m", "warning",
				"Flux cannot fetch the desired-state repository", "Changes pushed to Git are not reaching the appliance."},
		}},
	}
	if cfg.Storage.Mode == config.Embedded {
		groups[2].alerts = append(groups[2].alerts, alert{"ObjectStoreDown",
			fmt.Sprintf(`(max(kube_statefulset_status_replicas_ready{namespace="%s", statefulset="%s"}) or vector(0)) < 1`, nsObjectStore, objectStoreName), "5m", "critical",
			"The object store is down", "Documents' images and files cannot be read or written; backups stop."})
	}
	if cfg.Identity.Mode == config.Embedded {
		groups[2].alerts = append(groups[2].alerts, alert{"KeycloakDown",
			fmt.Sprintf(`(max(kube_statefulset_status_replicas_ready{namespace="%s", statefulset="%s"}) or vector(0)) < 1`, nsKeycloak, keycloakName), "10m", "critical",
			"Keycloak is down", "Nobody can log in to Docs."})
	}
	gs := list{}
	for _, g := range groups {
		rules := list{}
		for _, a := range g.alerts {
			rules = append(rules, a.rule())
		}
		gs = append(gs, m{"name": "docs-appliance." + g.name, "rules": rules})
	}
	return newObject("monitoring.coreos.com/v1", "PrometheusRule", nsMonitoring, "docs-appliance", "monitoring").with("spec", m{"groups": gs})
}
