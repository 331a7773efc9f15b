package render

// kyvernoValues pins every Kyverno image (the report cleanup CronJobs use
// the train's kubectl), sizes the admission controller by the profile and
// turns off the pre-delete hooks: render turns hooks into plain objects,
// and a "pre-delete" cleanup would run at install.
func kyvernoValues(v *valuesContext) (map[string]any, error) {
	p := v.Profile
	images := map[string]string{
		"kyverno": "kyverno/kyverno", "kyvernopre": "kyverno/kyvernopre", "background": "kyverno/background-controller",
		"cleanup": "kyverno/cleanup-controller", "reports": "kyverno/reports-controller", "kubectl": "kubectl",
	}
	img := map[string]m{}
	for k, repo := range images {
		i, err := v.pinnedTagValues(repo)
		if err != nil {
			return nil, err
		}
		img[k] = i
	}
	crds := m{"install": true}
	// The CRD migration Job (upstream's post-upgrade hook, applied like any
	// object here) runs kyverno-cli: the train's when it pins one, else the
	// chart's default, which render then refuses as unpinned.
	if cli, err := v.pinnedTagValues("kyverno/kyverno-cli"); err == nil {
		crds["migration"] = m{"image": cli}
	}
	w := p.Workload("kyverno")
	small := resources(p, "operator")
	cleanupJob := func() m { return m{"image": img["kubectl"], "resources": resources(p, "job")} }
	return map[string]any{
		"crds": crds,
		"admissionController": m{
			"replicas":      w.Replicas,
			"container":     m{"image": img["kyverno"], "resources": w.Resources()},
			"initContainer": m{"image": img["kyvernopre"], "resources": resources(p, "job")},
		},
		"backgroundController": m{"replicas": 1, "image": img["background"], "resources": small},
		"cleanupController":    m{"replicas": 1, "image": img["cleanup"], "resources": small},
		"reportsController":    m{"replicas": 1, "image": img["reports"], "resources": small},
		"webhooksCleanup":      m{"enabled": false},
		"policyReportsCleanup": m{"enabled": false},
		"cleanupJobs": m{
			"admissionReports":        cleanupJob(),
			"clusterAdmissionReports": cleanupJob(),
			"updateRequests":          cleanupJob(),
			"ephemeralReports":        cleanupJob(),
			"clusterEphemeralReports": cleanupJob(),
		},
	}, nil
}

// policyComponent is the appliance's baseline, one ClusterPolicy per
// concern, each Audit or Enforce for a reason:
//
//   - disallow-latest-tag: Enforce. Every appliance image comes from the
//     train, which refuses untagged and :latest references, so this can
//     only stop something foreign to the release: a workload that would
//     change under the operator's feet online and can never be pulled on
//     an air-gapped node. kube-system (k3s' own add-ons) is left to k3s.
//   - require-pod-resources: Audit. Operators create pods the appliance
//     does not shape (CloudNativePG's init jobs, the Keycloak realm import,
//     cert-manager's ACME solver): enforcing would block the platform,
//     not improve it. The reports list what lacks requests or limits.
//   - restricted-pod-security: Audit everywhere, Enforce in the object
//     store's namespace, where every pod is the appliance's own and meets
//     the restricted level (its namespace enforces it through Pod Security
//     Admission too). Elsewhere upstream charts and operators decide their
//     pods' security context; Pod Security Admission already enforces
//     baseline there.
//
// Policies fail open (failurePolicy Ignore): on one server a Kyverno that
// is down must not stop Docs from rolling out; the train already
// guarantees what the Enforce policy checks.
func policyComponent() *component {
	matchPods := m{"any": list{m{"resources": m{"kinds": list{"Pod"}}}}}
	excludeSystem := func(extra ...string) m {
		ns := append([]string{"kube-system"}, extra...)
		return m{"any": list{m{"resources": m{"namespaces": strs(ns)}}}}
	}
	policy := func(name, title, description string, rules ...m) Object {
		rs := make(list, len(rules))
		for i, r := range rules {
			rs[i] = r
		}
		o := newObject("kyverno.io/v1", "ClusterPolicy", "", name, "policy").with("spec", m{
			"background":    true,
			"failurePolicy": "Ignore",
			"rules":         rs,
		})
		o.Annotations()["policies.kyverno.io/title"] = title
		o.Annotations()["policies.kyverno.io/description"] = description
		return o
	}
	imagePattern := func(pattern string) m {
		return m{"spec": m{
			"containers":             list{m{"image": pattern}},
			"=(initContainers)":      list{m{"image": pattern}},
			"=(ephemeralContainers)": list{m{"image": pattern}},
		}}
	}
	latest := policy("disallow-latest-tag", "Disallow latest and untagged images",
		"Images must name a release (a tag or a digest), never latest: an appliance runs what its release train pins.",
		m{
			"name": "require-image-tag", "match": matchPods, "exclude": excludeSystem(),
			"validate": m{"failureAction": "Enforce", "message": "Images must have a tag or a digest: {{ images }}.", "pattern": imagePattern("*:*")},
		},
		m{
			"name": "no-latest-tag", "match": matchPods, "exclude": excludeSystem(),
			"validate": m{"failureAction": "Enforce", "message": "The latest tag is not a release: pin the image.", "pattern": imagePattern("!*:latest")},
		},
	)
	requests := policy("require-pod-resources", "Require requests and memory limits",
		"Containers declare CPU and memory requests and a memory limit, so one workload cannot starve the server.",
		m{
			"name": "requests-and-memory-limit", "match": matchPods, "exclude": excludeSystem(),
			"validate": m{"failureAction": "Audit", "message": "CPU and memory requests and a memory limit are required.",
				"pattern": m{"spec": m{
					"containers": list{m{"resources": m{
						"requests": m{"cpu": "?*", "memory": "?*"},
						"limits":   m{"memory": "?*"},
					}}},
				}}},
		},
	)
	restricted := policy("restricted-pod-security", "Restricted Pod Security",
		"Pods meet the restricted Pod Security level where the appliance controls them; elsewhere deviations are reported.",
		m{
			// monitoring runs node-exporter, which reads the host on purpose.
			"name": "restricted", "match": matchPods, "exclude": excludeSystem(nsMonitoring),
			"validate": m{
				"failureAction":          "Audit",
				"failureActionOverrides": list{m{"action": "Enforce", "namespaces": list{nsObjectStore}}},
				"podSecurity":            m{"level": "restricted", "version": "latest"},
			},
		},
	)
	return &component{
		Component: Component{Name: "policies", Layer: "policy", Namespace: ""},
		dir:       "infrastructure/policies",
		objects:   []Object{latest, requests, restricted},
	}
}
