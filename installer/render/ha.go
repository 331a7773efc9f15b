package render

import (
	"fmt"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/profiles"
)

// TopologyKey spreads the replicas of a workload over servers: the label the kubelet gives every
// node (its host name).
const TopologyKey = "kubernetes.io/hostname"

// HAEmbeddedStorageWarning is said by render, install and configure when a multi-server profile
// keeps the documents' files in the embedded object store: it runs on one server, so losing that
// server loses every file whatever the other servers do.
const HAEmbeddedStorageWarning = "ha with embedded storage is a single point of failure: use external S3 (storage.mode external with storage.endpoint and storage.bucket): the embedded object store runs on one server, and the documents' files go down with it"

// HAWarnings are the warnings a profile and config earn together.
func HAWarnings(p *profiles.Profile, cfg *config.Config) []string {
	if p == nil || cfg == nil || p.Servers <= 1 || cfg.Storage.Mode == config.External {
		return nil
	}
	return []string{HAEmbeddedStorageWarning}
}

// spreadWorkloads are the Docs chart's Deployments that must run one replica per server under
// a multi-server profile: a lost server then takes one replica of each, never all.
var spreadWorkloads = []string{"-backend", "-frontend", "-y-provider"}

// spreadAcrossServers gives a Deployment required pod anti-affinity on TopologyKey over its own
// pods (its selector), so no two replicas share a server, and a rolling update that replaces a
// pod before starting the next: with one replica per server and as many replicas as servers, a
// surge pod has nowhere to go, and a default rollout (maxSurge 25%, maxUnavailable 0 at three
// replicas) would wait forever. The PodDisruptionBudgets (maxUnavailable 1) keep a drain to one
// replica at a time.
func spreadAcrossServers(o Object) error {
	spec, _ := o["spec"].(map[string]any)
	sel, _ := spec["selector"].(map[string]any)
	labels, ok := sel["matchLabels"].(map[string]any)
	if !ok || len(labels) == 0 {
		return fmt.Errorf("%s %s has no selector labels to spread its replicas by", o.Kind(), o.Name())
	}
	ps, err := podSpec(o)
	if err != nil {
		return err
	}
	ps["affinity"] = m{"podAntiAffinity": m{"requiredDuringSchedulingIgnoredDuringExecution": list{
		m{"labelSelector": m{"matchLabels": labels}, "topologyKey": TopologyKey},
	}}}
	spec["strategy"] = m{"type": "RollingUpdate", "rollingUpdate": m{"maxSurge": 0, "maxUnavailable": 1}}
	return nil
}

// spreadDocs spreads the Docs chart's web workloads when the profile has several servers.
func spreadDocs(v *valuesContext, find func(kind, name string) (Object, error)) error {
	if v.Profile.Servers <= 1 {
		return nil
	}
	for _, suffix := range spreadWorkloads {
		o, err := find("Deployment", docsFullname+suffix)
		if err != nil {
			return err
		}
		if err := spreadAcrossServers(o); err != nil {
			return err
		}
	}
	return nil
}

// haFacts are the appliance values a stand-in or appliance-aware chart reads to follow the
// profile's topology: appliance.servers, appliance.ha, appliance.topologyKey and
// appliance.replicas.<workload> (the profile's workload names: docs-backend, docs-frontend, ...).
func haFacts(p *profiles.Profile) map[string]any {
	replicas := map[string]any{}
	for name, w := range p.Workloads {
		replicas[name] = w.Replicas
	}
	return map[string]any{"servers": p.Servers, "ha": p.Servers > 1, "topologyKey": TopologyKey, "replicas": replicas}
}
