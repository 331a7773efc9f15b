package render

import (
	"fmt"
	"sort"
	"strings"
)

// layerTimeouts bound how long Flux waits for a layer to become healthy:
// the platform starts databases, the apps run migrations.
var layerTimeouts = map[string]string{
	"crds": "5m0s", "secrets": "2m0s", "operators": "10m0s", "platform": "20m0s",
	"apps": "15m0s", "observability": "15m0s", "policy": "10m0s",
}

// healthExpr is a Flux readiness expression (CEL over the object) for a
// kind whose status kstatus cannot read: without one, such an object
// counts as ready the moment it is created.
type healthExpr struct {
	apiVersion, kind, current, failed string
}

// healthExprs: Gateway API objects report Programmed/Accepted, not Ready;
// a realm import reports Done; a CloudNativePG Database reports applied.
var healthExprs = []healthExpr{
	{
		"gateway.networking.k8s.io/v1", "Gateway",
		"has(status.conditions) && status.conditions.exists(c, c.type == 'Programmed' && c.status == 'True')",
		"has(status.conditions) && status.conditions.exists(c, c.type == 'Accepted' && c.status == 'False')",
	},
	{
		"gateway.networking.k8s.io/v1", "GatewayClass",
		"has(status.conditions) && status.conditions.exists(c, c.type == 'Accepted' && c.status == 'True')",
		"has(status.conditions) && status.conditions.exists(c, c.type == 'Accepted' && c.status == 'False')",
	},
	{
		"gateway.networking.k8s.io/v1", "HTTPRoute",
		"has(status.parents) && size(status.parents) > 0 && status.parents.all(p, p.conditions.exists(c, c.type == 'Accepted' && c.status == 'True') && p.conditions.exists(c, c.type == 'ResolvedRefs' && c.status == 'True'))",
		"has(status.parents) && status.parents.exists(p, p.conditions.exists(c, (c.type == 'Accepted' || c.type == 'ResolvedRefs') && c.status == 'False'))",
	},
	{
		"k8s.keycloak.org/v2alpha1", "KeycloakRealmImport",
		"has(status.conditions) && status.conditions.exists(c, c.type == 'Done' && c.status == 'True')",
		"has(status.conditions) && status.conditions.exists(c, c.type == 'HasErrors' && c.status == 'True')",
	},
	{
		"postgresql.cnpg.io/v1", "Database",
		"has(status.applied) && status.applied == true",
		"has(status.applied) && status.applied == false && has(status.message) && status.message != ''",
	},
}

// fluxKustomization is the Flux Kustomization of one layer. Every layer
// prunes what left Git and waits until what it applied is ready, so
// dependsOn means "after it is healthy", not merely "after it was
// applied". A layer with explicit health checks waits for those instead
// (Flux ignores healthChecks under wait). kinds are the layer's object
// kinds, to carry the readiness expressions they need.
func fluxKustomization(l Layer, kinds map[string]bool) []byte {
	timeout := layerTimeouts[l.Name]
	if timeout == "" {
		timeout = "10m0s"
	}
	spec := m{
		"interval":      "10m0s",
		"retryInterval": "1m0s",
		"timeout":       timeout,
		"path":          "./" + l.Path,
		"prune":         true,
		"sourceRef":     m{"kind": "GitRepository", "name": "flux-system"},
	}
	if len(l.HealthChecks) > 0 {
		hc := list{}
		for _, h := range l.HealthChecks {
			e := m{"apiVersion": h.APIVersion, "kind": h.Kind, "name": h.Name}
			if h.Namespace != "" {
				e["namespace"] = h.Namespace
			}
			hc = append(hc, e)
			kinds[h.APIVersion+"/"+h.Kind] = true
		}
		spec["wait"] = false
		spec["healthChecks"] = hc
	} else {
		spec["wait"] = true
	}
	var exprs list
	for _, e := range healthExprs {
		if kinds[e.apiVersion+"/"+e.kind] {
			exprs = append(exprs, m{"apiVersion": e.apiVersion, "kind": e.kind, "current": e.current, "failed": e.failed})
		}
	}
	if len(exprs) > 0 {
		spec["healthCheckExprs"] = exprs
	}
	if len(l.DependsOn) > 0 {
		deps := list{}
		for _, d := range l.DependsOn {
			deps = append(deps, m{"name": d})
		}
		spec["dependsOn"] = deps
	}
	if l.Decrypt {
		spec["decryption"] = m{"provider": "sops", "secretRef": m{"name": "sops-age"}}
	}
	o := Object{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
		"kind":       "Kustomization",
		"metadata": m{
			"name": l.Name, "namespace": "flux-system",
			"labels": m{"app.kubernetes.io/managed-by": "docs-appliance"},
		},
		"spec": spec,
	}
	data, err := o.Marshal()
	if err != nil {
		// Plain maps of strings, bools and lists always encode.
		panic(fmt.Sprintf("encoding Kustomization %s: %v", l.Name, err))
	}
	return data
}

// repoReadme explains the repository to whoever opens it.
func repoReadme(o Options, env string, layers []Layer) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Desired state of %s (environment %s)\n\n", o.Config.Domain, env)
	fmt.Fprintf(&b, "Rendered by docs-appliance from release train %s (Docs %s), profile %s.\n", o.Train.Name, o.Train.Docs.Version, o.Profile.Name)
	b.WriteString("Flux applies this repository: a change here is a change on the appliance.\n")
	b.WriteString("Do not edit rendered files by hand; change the appliance's config and run\n`docs-appliance install` again, which renders and commits the difference.\n\n")
	b.WriteString("| Flux Kustomization | path | after | waits for |\n|---|---|---|---|\n")
	for _, l := range layers {
		waits := "every object"
		if len(l.HealthChecks) > 0 {
			var names []string
			for _, h := range l.HealthChecks {
				names = append(names, h.Kind+" "+h.Name)
			}
			sort.Strings(names)
			waits = strings.Join(names, ", ")
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", l.Name, l.Path, strings.Join(l.DependsOn, ", "), waits)
	}
	fmt.Fprintf(&b, "\nSecrets under `%s/secrets/` are SOPS-encrypted for the age keys of this environment's rule in `.sops.yaml`;\n", EnvironmentDir(env))
	b.WriteString("Flux decrypts them with the `flux-system/sops-age` key.\n")
	return []byte(b.String())
}

// rootReadme explains the layout; every environment writes the same one.
func rootReadme() []byte {
	return []byte(`# Desired state of docs-appliance environments

Each appliance renders into this repository and Flux, on each appliance, applies only its
own environment's folder. Do not edit rendered files by hand: change an appliance's config
and run ` + "`docs-appliance install`" + ` again, which renders and commits the difference.

    clusters/<env>/              Flux syncs this folder: one Flux Kustomization per layer
    clusters/<env>/flux-system/  Flux's own components and sync (written by bootstrap)
    environments/<env>/<layer>/  the layer as <env> applies it: folders of the base it shares,
                                 patches/ for what it changes, its own objects
    environments/<env>/secrets/  its Secrets, SOPS-encrypted for its appliance's key
    base/<layer>/<component>/    the shared base: the release train's reference render

The base is the same for every environment on the same release train: a change to it is a
change to every environment that builds on it, and the commit that makes one names them.
A change to one environment's config touches only environments/<env>/ and clusters/<env>/.
`)
}
