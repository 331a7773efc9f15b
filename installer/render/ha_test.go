package render

import (
	"fmt"
	"strings"
	"testing"
)

// spreadOf reads a rendered Deployment's required anti-affinity and rolling update.
func spreadOf(t *testing.T, d Object) (selector map[string]any, topologyKey string, strategy map[string]any) {
	t.Helper()
	if d == nil {
		t.Fatal("no such Deployment")
	}
	spec := d["spec"].(map[string]any)
	strategy, _ = spec["strategy"].(map[string]any)
	ps := spec["template"].(map[string]any)["spec"].(map[string]any)
	aff, _ := ps["affinity"].(map[string]any)
	anti, _ := aff["podAntiAffinity"].(map[string]any)
	terms, _ := anti["requiredDuringSchedulingIgnoredDuringExecution"].([]any)
	if len(terms) != 1 {
		return nil, "", strategy
	}
	term := terms[0].(map[string]any)
	selector, _ = term["labelSelector"].(map[string]any)["matchLabels"].(map[string]any)
	topologyKey, _ = term["topologyKey"].(string)
	return selector, topologyKey, strategy
}

// Under profile ha each of Docs' web workloads runs one replica per server: the required
// anti-affinity selects the Deployment's own pods, and the rollout replaces before it starts.
func TestHASpreadsDocsOnePerServer(t *testing.T) {
	ha := objectsByID(t, newFixture(t, "ha").render(t))
	for _, name := range []string{"docs-backend", "docs-frontend", "docs-y-provider", "docs-proxy"} {
		d := ha["Deployment/docs/"+name]
		sel, key, strategy := spreadOf(t, d)
		own := d["spec"].(map[string]any)["selector"].(map[string]any)["matchLabels"].(map[string]any)
		if key != "kubernetes.io/hostname" || len(sel) == 0 || fmt.Sprint(sel) != fmt.Sprint(own) {
			t.Errorf("%s: anti-affinity on %q over %v, want kubernetes.io/hostname over its own pods %v", name, key, sel, own)
		}
		ru, _ := strategy["rollingUpdate"].(map[string]any)
		if fmt.Sprint(ru["maxSurge"]) != "0" || fmt.Sprint(ru["maxUnavailable"]) != "1" {
			t.Errorf("%s: rolling update %v would wait for a fourth server", name, strategy)
		}
		if r := fmt.Sprint(d["spec"].(map[string]any)["replicas"]); r != "3" {
			t.Errorf("%s: %s replicas", name, r)
		}
	}
	// Each has a PodDisruptionBudget so a drain takes one replica at a time: the proxy's is the
	// appliance's own, the chart's are switched on by its values (the test chart renders none).
	if ha["PodDisruptionBudget/docs/docs-proxy"] == nil {
		t.Error("docs-proxy has no PodDisruptionBudget")
	}
	vals, _ := valuesFor(t, "docs", "ha")
	for _, w := range []string{"backend", "frontend", "yProvider"} {
		want(t, vals, w+".pdb.enabled", true)
	}
	// PostgreSQL: three instances, one per server.
	pg := ha["Cluster/"+DatabaseNamespace+"/postgres"]
	spec := pg["spec"].(map[string]any)
	aff := spec["affinity"].(map[string]any)
	if fmt.Sprint(spec["instances"]) != "3" || aff["enablePodAntiAffinity"] != true || aff["podAntiAffinityType"] != "required" || aff["topologyKey"] != "kubernetes.io/hostname" {
		t.Errorf("postgres %v %v", spec["instances"], aff)
	}

	single := objectsByID(t, newFixture(t, "single").render(t))
	if sel, _, strategy := spreadOf(t, single["Deployment/docs/docs-backend"]); sel != nil || strategy["rollingUpdate"] != nil {
		t.Errorf("one server: the backend is spread anyway (%v, %v)", sel, strategy)
	}
}

// A stand-in chart follows the profile through the appliance values block.
func TestApplianceValuesCarryTheTopology(t *testing.T) {
	for profile, want := range map[string]map[string]string{
		"ha":     {"servers": "3", "ha": "true", "topologyKey": "kubernetes.io/hostname", "backendReplicas": "3"},
		"single": {"servers": "1", "ha": "false", "topologyKey": "kubernetes.io/hostname", "backendReplicas": "2"},
	} {
		objs := objectsByID(t, newFixture(t, profile).render(t))
		var facts map[string]any
		for id, o := range objs {
			if strings.HasPrefix(id, "ConfigMap/") && strings.HasSuffix(id, "standin-facts") {
				facts, _ = o["data"].(map[string]any)
			}
		}
		if facts == nil {
			t.Fatalf("%s: the stand-in chart's facts ConfigMap is not rendered", profile)
		}
		for k, v := range want {
			if facts[k] != v {
				t.Errorf("%s: appliance.%s reached the chart as %v, want %s", profile, k, facts[k], v)
			}
		}
	}
}

// Under profile ha the cache is a RedisReplication: one Redis and one Sentinel per server, and
// Docs reaches whichever pod is master through the operator's <name>-master Service.
func TestHAReplicatesTheCache(t *testing.T) {
	ha := objectsByID(t, newFixture(t, "ha").render(t))
	rr := ha["RedisReplication/cache/redis"]
	if rr == nil {
		t.Fatal("no RedisReplication cache/redis")
	}
	if ha["Redis/cache/redis"] != nil {
		t.Error("the single-server Redis is rendered beside the replication")
	}
	spec := rr["spec"].(map[string]any)
	podAnti := func(aff any) (string, string) {
		terms := aff.(map[string]any)["podAntiAffinity"].(map[string]any)["requiredDuringSchedulingIgnoredDuringExecution"].([]any)
		term := terms[0].(map[string]any)
		return fmt.Sprint(term["labelSelector"].(map[string]any)["matchLabels"].(map[string]any)["app"]), fmt.Sprint(term["topologyKey"])
	}
	// The operator labels the Redis pods app=<name> and the Sentinel pods app=<name>-s.
	if app, key := podAnti(spec["affinity"]); app != "redis" || key != "kubernetes.io/hostname" || fmt.Sprint(spec["clusterSize"]) != "3" {
		t.Errorf("redis: %s %s size %v", app, key, spec["clusterSize"])
	}
	sentinel := spec["sentinel"].(map[string]any)
	if app, key := podAnti(sentinel["affinity"]); app != "redis-s" || key != "kubernetes.io/hostname" || fmt.Sprint(sentinel["size"]) != "3" ||
		!strings.HasPrefix(fmt.Sprint(sentinel["image"]), "quay.io/opstree/redis-sentinel:v7.0.15@sha256:") {
		t.Errorf("sentinel: %s %s %v", app, key, sentinel)
	}
	if pdb := spec["pdb"].(map[string]any); pdb["enabled"] != true {
		t.Errorf("pdb %v", pdb)
	}
	single := objectsByID(t, newFixture(t, "single").render(t))
	if single["Redis/cache/redis"] == nil || single["RedisReplication/cache/redis"] != nil {
		t.Error("one server: the cache is not the single Redis")
	}
}

// Every web workload of Docs, under every profile, keeps serving StopDelaySeconds after it is
// asked to stop (while kube-proxy and the gateway drop its endpoint), within a grace period
// that still leaves the process its 30 s; a preStop the chart sets is the chart's.
func TestDocsWebWorkloadsStopGracefully(t *testing.T) {
	for _, profile := range []string{"single", "ha"} {
		objs := objectsByID(t, newFixture(t, profile).render(t))
		for _, name := range []string{"docs-backend", "docs-frontend", "docs-y-provider", "docs-proxy"} {
			d := objs["Deployment/docs/"+name]
			if d == nil {
				t.Fatalf("%s: no Deployment %s", profile, name)
			}
			ps := d["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
			if g := fmt.Sprint(ps["terminationGracePeriodSeconds"]); g != fmt.Sprint(30+StopDelaySeconds) {
				t.Errorf("%s %s: grace period %s", profile, name, g)
			}
			for _, c := range ps["containers"].([]any) {
				lc, _ := c.(map[string]any)["lifecycle"].(map[string]any)
				pre, _ := lc["preStop"].(map[string]any)
				sleep, _ := pre["sleep"].(map[string]any)
				if fmt.Sprint(sleep["seconds"]) != fmt.Sprint(StopDelaySeconds) {
					t.Errorf("%s %s container %v: preStop %v", profile, name, c.(map[string]any)["name"], lc)
				}
			}
		}
	}
	own := Object{"kind": "Deployment", "metadata": map[string]any{"name": "x"}, "spec": map[string]any{"template": map[string]any{"spec": map[string]any{
		"terminationGracePeriodSeconds": 120,
		"containers":                    []any{map[string]any{"name": "c", "lifecycle": map[string]any{"preStop": map[string]any{"exec": map[string]any{"command": []any{"drain"}}}}}},
	}}}}
	if err := stopGracefully(own); err != nil {
		t.Fatal(err)
	}
	ps := own["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	pre := ps["containers"].([]any)[0].(map[string]any)["lifecycle"].(map[string]any)["preStop"].(map[string]any)
	if pre["exec"] == nil || pre["sleep"] != nil || fmt.Sprint(ps["terminationGracePeriodSeconds"]) != "120" {
		t.Errorf("a chart's own preStop and longer grace: %v, grace %v", pre, ps["terminationGracePeriodSeconds"])
	}
}
