package profiles

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

//go:embed *.yaml
var embedded embed.FS

// Profile is one sizing preset.
type Profile struct {
	Name        string              `json:"name"`
	Description string              `json:"description"`
	Servers     int                 `json:"servers"`
	Host        HostMinimums        `json:"host"`
	Components  Components          `json:"components"`
	Storage     Storage             `json:"storage"`
	Database    Database            `json:"database"`
	Workloads   map[string]Workload `json:"workloads"`
}

// HostMinimums are what preflight requires of each server.
type HostMinimums struct {
	MinCPU       int `json:"minCPU"`
	MinMemoryGiB int `json:"minMemoryGiB"`
	MinDiskGiB   int `json:"minDiskGiB"`
}

// Components switches the optional parts of the appliance.
type Components struct {
	Observability bool `json:"observability"`
	Policy        bool `json:"policy"`
}

// Storage sizes the persistent volumes.
type Storage struct {
	Database string `json:"database"`
	Objects  string `json:"objects"`
	// Backups is the embedded object store's backups volume (backup.mode
	// embedded): the database archive and the media copies, kept apart from
	// the media volume so filling or losing one is not losing the other.
	Backups string `json:"backups"`
	Git     string `json:"git"`
	Cache   string `json:"cache"`
	Metrics string `json:"metrics"`
}

// Database sizes the PostgreSQL cluster.
type Database struct {
	Instances int `json:"instances"`
}

// Workload is the replicas and resources of one workload.
type Workload struct {
	Replicas int                 `json:"replicas"`
	Requests map[string]Quantity `json:"requests"`
	Limits   map[string]Quantity `json:"limits"`
}

// Quantity is a resource amount as written in YAML: "500m", "1Gi", or a
// bare number such as 1 (one CPU).
type Quantity string

// UnmarshalJSON accepts both strings and numbers.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*q = Quantity(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("quantity %s: want a string like 500m or a number", b)
	}
	*q = Quantity(n.String())
	return nil
}

// Resources returns the workload's resources in the shape Kubernetes and
// most charts take: {requests: {...}, limits: {...}}.
func (w Workload) Resources() map[string]any {
	out := map[string]any{}
	if len(w.Requests) > 0 {
		out["requests"] = toAny(w.Requests)
	}
	if len(w.Limits) > 0 {
		out["limits"] = toAny(w.Limits)
	}
	return out
}

func toAny(m map[string]Quantity) map[string]any {
	o := make(map[string]any, len(m))
	for k, v := range m {
		o[k] = string(v)
	}
	return o
}

// RequiredWorkloads are the workloads every profile must size.
var RequiredWorkloads = []string{
	"docs-backend", "docs-celery", "docs-frontend", "docs-y-provider", "media-proxy",
	"postgres", "redis", "object-store", "keycloak", "git-server", "envoy", "operator",
	"prometheus", "grafana", "kyverno", "alertmanager", "exporter", "job", "restore-check",
}

// Workload returns the named workload's sizing; every required workload is
// guaranteed present by validation.
func (p *Profile) Workload(name string) Workload { return p.Workloads[name] }

// Validate checks the profile's fields.
func (p *Profile) Validate() error {
	var errs []string
	if p.Servers != 1 && p.Servers != 3 {
		errs = append(errs, fmt.Sprintf("servers: %d (use 1, or 3 for embedded-etcd HA)", p.Servers))
	}
	if p.Host.MinCPU < 1 || p.Host.MinMemoryGiB < 1 || p.Host.MinDiskGiB < 1 {
		errs = append(errs, "host: minCPU, minMemoryGiB and minDiskGiB must be positive")
	}
	for _, q := range []struct{ path, v string }{
		{"storage.database", p.Storage.Database}, {"storage.objects", p.Storage.Objects}, {"storage.backups", p.Storage.Backups},
		{"storage.git", p.Storage.Git}, {"storage.cache", p.Storage.Cache}, {"storage.metrics", p.Storage.Metrics},
	} {
		if _, err := resource.ParseQuantity(q.v); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %q is not a quantity", q.path, q.v))
		}
	}
	if p.Database.Instances < 1 {
		errs = append(errs, "database.instances: must be at least 1")
	}
	for _, w := range RequiredWorkloads {
		wl, ok := p.Workloads[w]
		if !ok {
			errs = append(errs, fmt.Sprintf("workloads.%s: missing", w))
			continue
		}
		if wl.Replicas < 1 {
			errs = append(errs, fmt.Sprintf("workloads.%s.replicas: must be at least 1", w))
		}
		for kind, m := range map[string]map[string]Quantity{"requests": wl.Requests, "limits": wl.Limits} {
			if kind == "requests" && (m["cpu"] == "" || m["memory"] == "") {
				errs = append(errs, fmt.Sprintf("workloads.%s.requests: cpu and memory are required", w))
			}
			if kind == "limits" && m["memory"] == "" {
				errs = append(errs, fmt.Sprintf("workloads.%s.limits.memory: required", w))
			}
			for r, v := range m {
				if _, err := resource.ParseQuantity(string(v)); err != nil {
					errs = append(errs, fmt.Sprintf("workloads.%s.%s.%s: %q is not a quantity", w, kind, r, v))
				}
			}
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("profile %s is invalid:\n  - %s", p.Name, strings.Join(errs, "\n  - "))
	}
	return nil
}

// Names lists the embedded profiles.
func Names() []string {
	entries, _ := embedded.ReadDir(".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Get loads and validates the named embedded profile.
func Get(name string) (*Profile, error) {
	data, err := embedded.ReadFile(name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("profile %q is not known (known: %s)", name, strings.Join(Names(), ", "))
	}
	return Parse(data)
}

// Parse decodes and validates a profile; unknown fields are errors.
func Parse(data []byte) (*Profile, error) {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("parsing profile YAML: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	var p Profile
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("decoding profile: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}
