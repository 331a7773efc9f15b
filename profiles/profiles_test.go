package profiles

import (
	"strings"
	"testing"
)

func TestEmbeddedProfiles(t *testing.T) {
	want := []string{"ha", "single", "single-small"}
	if got := Names(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("profiles = %v, want %v", got, want)
	}
	for _, n := range want {
		p, err := Get(n)
		if err != nil {
			t.Fatalf("profile %s: %v", n, err)
		}
		if p.Name != n {
			t.Errorf("profile file %s names itself %s", n, p.Name)
		}
	}
	small, _ := Get("single-small")
	if small.Host.MinCPU != 4 || small.Host.MinMemoryGiB != 8 || small.Components.Observability {
		t.Errorf("single-small = %+v", small)
	}
	ha, _ := Get("ha")
	if ha.Servers != 3 || ha.Database.Instances != 3 || ha.Workload("docs-y-provider").Replicas < 2 {
		t.Errorf("ha must run 3 servers, 3 database instances and several y-providers: %+v", ha)
	}
}

func TestUnknownProfile(t *testing.T) {
	_, err := Get("huge")
	if err == nil || !strings.Contains(err.Error(), "single-small") {
		t.Fatalf("error should list known profiles, got %v", err)
	}
}

func TestProfileValidation(t *testing.T) {
	_, err := Parse([]byte(`
name: broken
servers: 2
host: {minCPU: 4, minMemoryGiB: 8, minDiskGiB: 60}
storage: {database: ten, objects: 1Gi, backups: 1Gi, git: 1Gi, cache: 1Gi, metrics: 1Gi}
database: {instances: 1}
workloads:
  docs-backend: {replicas: 0, requests: {cpu: 1}, limits: {memory: lots}}
`))
	if err == nil {
		t.Fatal("broken profile accepted")
	}
	for _, want := range []string{"servers: 2", "storage.database", "workloads.docs-backend.replicas", "workloads.docs-backend.requests: cpu and memory", `workloads.docs-backend.limits.memory: "lots"`, "workloads.redis: missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := Parse([]byte("name: x\nbogus: 1\n")); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown field not reported: %v", err)
	}
}
