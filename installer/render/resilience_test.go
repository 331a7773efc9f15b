package render

import (
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// TestEveryRouteRidesOverALostPod reads every combination's render: each
// HTTPRoute that sends users to a backend has exactly one
// BackendTrafficPolicy (Envoy Gateway merges none: a second one is
// ignored), which retries only requests that were never sent, fails a
// connection fast, and ejects a failing pod without ever ejecting the
// last one.
func TestEveryRouteRidesOverALostPod(t *testing.T) {
	for _, c := range combos {
		files := fileMap(comboFixture(t, c).render(t))
		routes := map[string]bool{}
		policies := map[string]map[string]map[string]any{} // route → policy → spec (the same object may be in several files)
		for _, f := range files {
			var o map[string]any
			if err := yaml.Unmarshal(f.Content, &o); err != nil || o == nil {
				continue
			}
			spec, _ := o["spec"].(map[string]any)
			switch o["kind"] {
			case "HTTPRoute":
				if hasBackend(spec) {
					routes[namespaced(o)] = true
				}
			case "BackendTrafficPolicy":
				ns := namespaced(o)[:len(namespaced(o))-len(o["metadata"].(map[string]any)["name"].(string))]
				for _, r := range spec["targetRefs"].([]any) {
					ref := r.(map[string]any)
					if ref["kind"] == "HTTPRoute" {
						route := ns + ref["name"].(string)
						if policies[route] == nil {
							policies[route] = map[string]map[string]any{}
						}
						policies[route][namespaced(o)] = spec
					}
				}
			}
		}
		if len(routes) == 0 {
			t.Fatalf("%s: no routes rendered", c.name)
		}
		for route := range routes {
			ps := policies[route]
			if len(ps) != 1 {
				t.Errorf("%s: route %s has %d BackendTrafficPolicies, want 1", c.name, route, len(ps))
				continue
			}
			for _, spec := range ps {
				checkResilience(t, c.name+" "+route, spec)
			}
		}
	}
}

func checkResilience(t *testing.T, what string, spec map[string]any) {
	t.Helper()
	retry, _ := spec["retry"].(map[string]any)
	triggers, _ := retry["retryOn"].(map[string]any)["triggers"].([]any)
	unsent := map[any]bool{"connect-failure": true, "reset-before-request": true, "refused-stream": true}
	sawConnect := false
	for _, tr := range triggers {
		if !unsent[tr] {
			t.Errorf("%s retries on %v: a request the backend may have run would run twice", what, tr)
		}
		sawConnect = sawConnect || tr == "connect-failure"
	}
	if !sawConnect || retry["numRetries"].(float64) < 1 {
		t.Errorf("%s does not retry a failed connection: %v", what, retry)
	}
	ct, _ := spec["timeout"].(map[string]any)["tcp"].(map[string]any)["connectTimeout"].(string)
	if d, err := time.ParseDuration(ct); err != nil || d > 2*time.Second {
		t.Errorf("%s connect timeout %q: a dead pod would hold the user longer than 2s", what, ct)
	}
	passive, _ := spec["healthCheck"].(map[string]any)["passive"].(map[string]any)
	if passive["splitExternalLocalOriginErrors"] != true || passive["consecutiveLocalOriginFailures"] == nil {
		t.Errorf("%s does not eject a pod it cannot connect to: %v", what, passive)
	}
	if p, _ := passive["maxEjectionPercent"].(float64); p <= 0 || p > 50 || passive["alwaysEjectOneEndpoint"] == true {
		t.Errorf("%s may eject every pod (maxEjectionPercent %v): a lone replica's failures would become 503s of its own", what, passive["maxEjectionPercent"])
	}
}

func hasBackend(spec map[string]any) bool {
	rules, _ := spec["rules"].([]any)
	for _, r := range rules {
		if refs, _ := r.(map[string]any)["backendRefs"].([]any); len(refs) > 0 {
			return true
		}
	}
	return false
}

func namespaced(o map[string]any) string {
	md := o["metadata"].(map[string]any)
	ns, _ := md["namespace"].(string)
	return ns + "/" + md["name"].(string)
}
