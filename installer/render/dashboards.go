package render

import (
	"encoding/json"
	"fmt"
)

// panel is one Grafana panel: a time series or a single stat of PromQL
// queries, each with its legend.
type panel struct {
	title, unit, kind string // kind: timeseries or stat
	queries           [][2]string
	// thresholds for stats: [green-until, red-from]; nil for none.
	thresholds []float64
}

// dashboard is the Grafana JSON model (schema 39) of panels laid out two
// per row, reading the Prometheus datasource the chart provisions.
func dashboard(uid, title string, panels []panel) map[string]any {
	ds := map[string]any{"type": "prometheus", "uid": "${datasource}"}
	var out []any
	for i, p := range panels {
		var targets []any
		for j, q := range p.queries {
			targets = append(targets, map[string]any{
				"datasource": ds, "expr": q[0], "legendFormat": q[1], "refId": string(rune('A' + j)),
			})
		}
		w, h := 12, 8
		if p.kind == "stat" {
			w, h = 6, 4
		}
		defaults := map[string]any{"unit": p.unit}
		if p.thresholds != nil {
			defaults["thresholds"] = map[string]any{"mode": "absolute", "steps": []any{
				map[string]any{"color": "green", "value": nil},
				map[string]any{"color": "orange", "value": p.thresholds[0]},
				map[string]any{"color": "red", "value": p.thresholds[1]},
			}}
		}
		out = append(out, map[string]any{
			"id": i + 1, "type": p.kind, "title": p.title, "datasource": ds, "targets": targets,
			"gridPos":     map[string]any{"x": (i % 2) * 12, "y": (i / 2) * 8, "w": w, "h": h},
			"fieldConfig": map[string]any{"defaults": defaults, "overrides": []any{}},
			"options":     map[string]any{"legend": map[string]any{"displayMode": "list", "placement": "bottom"}},
		})
	}
	return map[string]any{
		"uid": uid, "title": title, "tags": []any{"docs-appliance"}, "schemaVersion": 39,
		"editable": false, "refresh": "1m", "time": map[string]any{"from": "now-6h", "to": "now"},
		"templating": map[string]any{"list": []any{map[string]any{
			"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source",
		}}},
		"panels": out,
	}
}

// applianceDashboards: one per moving part the operator asks about.
func applianceDashboards() map[string]map[string]any {
	return map[string]map[string]any{
		"flux": dashboard("docs-appliance-flux", "Appliance / GitOps (Flux)", []panel{
			{title: "Layers not ready", kind: "stat", unit: "none", thresholds: []float64{1, 1},
				queries: [][2]string{{`count(gotk_resource_info{customresource_kind="Kustomization", ready="False"}) or vector(0)`, "not ready"}}},
			{title: "Source not ready", kind: "stat", unit: "none", thresholds: []float64{1, 1},
				queries: [][2]string{{`count(gotk_resource_info{customresource_kind="GitRepository", ready="False"}) or vector(0)`, "not ready"}}},
			{title: "Layer readiness", kind: "timeseries", unit: "none",
				queries: [][2]string{{`max by (name, ready) (gotk_resource_info{customresource_kind="Kustomization"})`, "{{name}} ready={{ready}}"}}},
			{title: "Reconciliation time (p95)", kind: "timeseries", unit: "s",
				queries: [][2]string{{`histogram_quantile(0.95, sum by (le, kind) (rate(gotk_reconcile_duration_seconds_bucket[5m])))`, "{{kind}}"}}},
			{title: "Reconciliation errors", kind: "timeseries", unit: "ops",
				queries: [][2]string{{`sum by (controller) (rate(controller_runtime_reconcile_errors_total{namespace="flux-system"}[5m]))`, "{{controller}}"}}},
			{title: "Controller memory", kind: "timeseries", unit: "bytes",
				queries: [][2]string{{`sum by (pod) (container_memory_working_set_bytes{namespace="flux-system", container!=""})`, "{{pod}}"}}},
		}),
		"postgres": dashboard("docs-appliance-postgres", "Appliance / PostgreSQL (CloudNativePG)", []panel{
			{title: "Instances up", kind: "stat", unit: "none",
				queries: [][2]string{{`sum(cnpg_collector_up{namespace="database", pod=~"postgres-[0-9]+"})`, "up"}}},
			{title: "Newest backup age", kind: "stat", unit: "s", thresholds: []float64{26 * 3600, 30 * 3600},
				queries: [][2]string{{`time() - max(barman_cloud_cloudnative_pg_io_last_available_backup_timestamp{namespace="database"})`, "age"}}},
			{title: "Connections", kind: "timeseries", unit: "none",
				queries: [][2]string{{`sum by (pod, state) (cnpg_backends_total{namespace="database"})`, "{{pod}} {{state}}"}}},
			{title: "Replication lag", kind: "timeseries", unit: "s",
				queries: [][2]string{{`max by (pod) (cnpg_pg_replication_lag{namespace="database"})`, "{{pod}}"}}},
			{title: "Database size", kind: "timeseries", unit: "bytes",
				queries: [][2]string{{`max by (datname) (cnpg_pg_database_size_bytes{namespace="database"})`, "{{datname}}"}}},
			{title: "Commits and rollbacks", kind: "timeseries", unit: "ops",
				queries: [][2]string{
					{`sum by (datname) (rate(cnpg_pg_stat_database_xact_commit{namespace="database"}[5m]))`, "{{datname}} commit"},
					{`sum by (datname) (rate(cnpg_pg_stat_database_xact_rollback{namespace="database"}[5m]))`, "{{datname}} rollback"},
				}},
			{title: "WAL archiving failures", kind: "timeseries", unit: "ops",
				queries: [][2]string{{`sum by (pod) (rate(cnpg_pg_stat_archiver_failed_count{namespace="database"}[5m]))`, "{{pod}}"}}},
			{title: "Recoverability window", kind: "timeseries", unit: "s",
				queries: [][2]string{{`time() - min(barman_cloud_cloudnative_pg_io_first_recoverability_point{namespace="database"})`, "oldest restorable point"}}},
		}),
		"envoy": dashboard("docs-appliance-envoy", "Appliance / Edge (Envoy Gateway)", []panel{
			{title: "Public URL check", kind: "stat", unit: "none",
				queries: [][2]string{{`min(probe_success{job="docs-public"})`, "success"}}},
			{title: "Certificate expires in", kind: "stat", unit: "s", thresholds: []float64{30 * 86400, 14 * 86400},
				queries: [][2]string{{`min(probe_ssl_earliest_cert_expiry{job="docs-public"}) - time()`, "expiry"}}},
			{title: "Requests by status class", kind: "timeseries", unit: "reqps",
				queries: [][2]string{{`sum by (envoy_response_code_class) (rate(envoy_http_downstream_rq_xx[5m]))`, "{{envoy_response_code_class}}xx"}}},
			{title: "Upstream time (p95) by backend", kind: "timeseries", unit: "ms",
				queries: [][2]string{{`histogram_quantile(0.95, sum by (le, envoy_cluster_name) (rate(envoy_cluster_upstream_rq_time_bucket[5m])))`, "{{envoy_cluster_name}}"}}},
			{title: "Upstream 5xx by backend", kind: "timeseries", unit: "reqps",
				queries: [][2]string{{`sum by (envoy_cluster_name) (rate(envoy_cluster_upstream_rq_xx{envoy_response_code_class="5"}[5m]))`, "{{envoy_cluster_name}}"}}},
			{title: "Open connections (websockets included)", kind: "timeseries", unit: "none",
				queries: [][2]string{
					{`sum(envoy_http_downstream_cx_active)`, "downstream"},
					{`sum by (envoy_cluster_name) (envoy_cluster_upstream_cx_active)`, "{{envoy_cluster_name}}"},
				}},
			{title: "Check duration", kind: "timeseries", unit: "s",
				queries: [][2]string{{`max by (job, instance) (probe_duration_seconds)`, "{{job}} {{instance}}"}}},
		}),
		"redis": dashboard("docs-appliance-redis", "Appliance / Cache (Redis)", []panel{
			{title: "Up", kind: "stat", unit: "none", queries: [][2]string{{`max(redis_up{namespace="cache"})`, "up"}}},
			{title: "Connected clients", kind: "stat", unit: "none", queries: [][2]string{{`sum(redis_connected_clients{namespace="cache"})`, "clients"}}},
			{title: "Memory used / limit", kind: "timeseries", unit: "bytes",
				queries: [][2]string{
					{`max(redis_memory_used_bytes{namespace="cache"})`, "used"},
					{`max(redis_memory_max_bytes{namespace="cache"})`, "maxmemory"},
				}},
			{title: "Commands", kind: "timeseries", unit: "ops",
				queries: [][2]string{{`sum(rate(redis_commands_processed_total{namespace="cache"}[5m]))`, "commands"}}},
			{title: "Cache hit ratio", kind: "timeseries", unit: "percentunit",
				queries: [][2]string{{`sum(rate(redis_keyspace_hits_total{namespace="cache"}[5m])) / (sum(rate(redis_keyspace_hits_total{namespace="cache"}[5m])) + sum(rate(redis_keyspace_misses_total{namespace="cache"}[5m])))`, "hits"}}},
			{title: "Keys and evictions", kind: "timeseries", unit: "none",
				queries: [][2]string{
					{`sum by (db) (redis_db_keys{namespace="cache"})`, "{{db}} keys"},
					{`sum(rate(redis_evicted_keys_total{namespace="cache"}[5m]))`, "evicted/s"},
				}},
		}),
	}
}

// dashboardConfigMaps ship the dashboards the way Grafana's sidecar finds
// them (label grafana_dashboard=1, any namespace), in one folder.
func dashboardConfigMaps() ([]Object, error) {
	var out []Object
	for name, d := range applianceDashboards() {
		data, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encoding dashboard %s: %w", name, err)
		}
		cm := configMap(nsMonitoring, "dashboard-"+name, "monitoring", map[string]string{name + ".json": string(data)})
		labels := cm.metadata()["labels"].(m)
		labels["grafana_dashboard"] = "1"
		cm.Annotations()["grafana_folder"] = "Docs appliance"
		out = append(out, cm)
	}
	return out, nil
}
