package render

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

func layerByName(res *Result, name string) (Layer, bool) {
	for _, l := range res.Layers {
		if l.Name == name {
			return l, true
		}
	}
	return Layer{}, false
}

func healthNames(l Layer) string {
	var out []string
	for _, h := range l.HealthChecks {
		out = append(out, h.Kind+" "+h.Namespace+"/"+h.Name)
	}
	return strings.Join(out, ", ")
}

func TestLayerOrderAndHealth(t *testing.T) {
	for _, cb := range combos {
		t.Run(cb.name, func(t *testing.T) {
			f := comboFixture(t, cb)
			res := f.render(t)
			files := fileMap(res)
			deps := map[string]string{}
			for _, l := range res.Layers {
				deps[l.Name] = strings.Join(l.DependsOn, ",")
			}
			for name, want := range map[string]string{
				"crds": "", "secrets": "crds", "operators": "crds,secrets",
				"platform": "crds,secrets,operators", "apps": "secrets,platform,operators", "policy": "crds,secrets,operators",
			} {
				if deps[name] != want {
					t.Errorf("layer %s depends on %q, want %q", name, deps[name], want)
				}
			}
			if f.opts.Profile.Components.Observability && deps["observability"] != "crds,secrets,operators" {
				t.Errorf("observability depends on %q: it must never wait for, nor hold back, the app", deps["observability"])
			}

			platform, _ := layerByName(res, "platform")
			health := healthNames(platform)
			for _, w := range []string{"Cluster database/postgres", "Database database/docs", "StatefulSet cache/redis", "Gateway edge/docs", "GatewayClass /docs-appliance"} {
				if !strings.Contains(health, w) {
					t.Errorf("platform does not wait for %s (waits for %s)", w, health)
				}
			}
			pk := string(files["clusters/production/platform.yaml"].Content)
			if !strings.Contains(pk, "wait: false") || !strings.Contains(pk, "healthChecks:") {
				t.Errorf("platform Kustomization must wait for its health checks only:\n%s", pk)
			}
			// kstatus cannot read these kinds' readiness: they carry expressions.
			for _, w := range []string{"kind: Gateway\n", "status.conditions.exists(c, c.type == 'Programmed'", "kind: Database\n"} {
				if !strings.Contains(pk, w) {
					t.Errorf("platform Kustomization lacks %q", w)
				}
			}
			cfg := f.opts.Config
			switch cfg.TLS.Mode {
			case "acme":
				// An ACME order waits on DNS and the internet: it must not hold back Docs.
				if strings.Contains(health, "Certificate") || !strings.Contains(health, "ClusterIssuer /acme") {
					t.Errorf("acme: platform waits for %s", health)
				}
			case "appliance-ca":
				for _, w := range []string{"Certificate edge/docs-tls", "Certificate cert-manager/appliance-ca", "Job cert-manager/appliance-ca"} {
					if !strings.Contains(health, w) {
						t.Errorf("appliance-ca: platform does not wait for %s", w)
					}
				}
			}
			if cfg.Storage.Mode == "embedded" {
				if !strings.Contains(health, "Job object-store/buckets") {
					t.Errorf("the platform does not wait for the buckets (%s)", health)
				}
				if _, ok := files["infrastructure/object-store/statefulset-objectstore.yaml"]; !ok {
					t.Error("embedded storage without the object store")
				}
				if !strings.Contains(string(files["environments/production/operators/kustomization.yaml"].Content), "object-store") {
					t.Error("the object store must be up before the platform's buckets and backups: operators layer")
				}
			} else if !strings.Contains(health, "Job docs/buckets") {
				t.Errorf("the operator's bucket is not checked before Docs starts (%s)", health)
			}
			_, kc := files["infrastructure/keycloak-operator/crds/customresourcedefinition-keycloaks.k8s.keycloak.org.yaml"]
			if embedded := cfg.Identity.Mode == "embedded"; kc != embedded || strings.Contains(health, "Keycloak keycloak/keycloak") != embedded {
				t.Errorf("identity %s: Keycloak CRDs rendered %v, waited for: %s", cfg.Identity.Mode, kc, health)
			}
			for _, l := range []string{"operators", "apps", "policy"} {
				if c := string(files["clusters/production/"+l+".yaml"].Content); !strings.Contains(c, "wait: true") {
					t.Errorf("layer %s does not wait for what it applies", l)
				}
			}
		})
	}
}

func TestTLSModes(t *testing.T) {
	acme := fileMap(comboFixture(t, combos[0]).render(t))
	issuer := string(acme["infrastructure/certificates/clusterissuer-acme.yaml"].Content)
	for _, w := range []string{"server: https://acme-v02.api.letsencrypt.org/directory", "email: admin@example.org", "gatewayHTTPRoute:", "name: docs", "sectionName: http"} {
		if !strings.Contains(issuer, w) {
			t.Errorf("ACME issuer lacks %q:\n%s", w, issuer)
		}
	}
	if strings.Contains(issuer, "namespace: edge\nspec") {
		t.Error("a ClusterIssuer got a namespace")
	}

	caRes := comboFixture(t, combos[1]).render(t)
	ca := fileMap(caRes)
	root := string(ca["infrastructure/certificates/certificate-appliance-ca.yaml"].Content)
	if !strings.Contains(root, "isCA: true") || !strings.Contains(root, "name: selfsigned") || !strings.Contains(root, "namespace: cert-manager") {
		t.Errorf("CA root:\n%s", root)
	}
	if c := string(ca["infrastructure/certificates/clusterissuer-appliance-ca.yaml"].Content); !strings.Contains(c, "secretName: appliance-ca") {
		t.Errorf("CA issuer:\n%s", c)
	}
	export := string(ca["infrastructure/certificates/job-appliance-ca.yaml"].Content)
	for _, w := range []string{"value: kube-public monitoring", "tls\\.crt", "kustomize.toolkit.fluxcd.io/force: enabled"} {
		if !strings.Contains(export, w) {
			t.Errorf("CA export Job lacks %q:\n%s", w, export)
		}
	}
	// The export reads one Secret, the CA's, and writes one ConfigMap name.
	if r := string(ca["infrastructure/certificates/cert-manager-role-appliance-ca.yaml"].Content); !strings.Contains(r, "- appliance-ca") {
		t.Errorf("CA export Role:\n%s", r)
	}
	for p := range effectiveMap(t, caRes) {
		if strings.Contains(p, "clusterissuer-acme") {
			t.Error("appliance-ca mode rendered the ACME issuer")
		}
	}

	f := comboFixture(t, combos[2])
	res := f.render(t)
	provided := fileMap(res)
	sec, ok := provided["environments/production/secrets/edge/docs-tls.yaml"]
	if !ok || !sec.Secret {
		t.Fatal("provided: the certificate is not a SOPS Secret")
	}
	s := string(sec.Content)
	store := f.opts.Secrets.(fixedSecrets)
	if !strings.Contains(s, "type: kubernetes.io/tls") || !strings.Contains(s, "tls.crt: "+store["tls.certificate"]) || !strings.Contains(s, "tls.key: "+store["tls.privateKey"]) {
		t.Errorf("provided certificate Secret:\n%s", s)
	}
	for p := range effectiveMap(t, res) {
		if strings.Contains(p, "clusterissuer") || strings.Contains(p, "certificate-docs-tls") {
			t.Errorf("provided mode rendered %s", p)
		}
	}
}

// balanced catches a broken PromQL expression's commonest typos: a label
// selector without its closing brace, unbalanced parentheses or quotes.
func balanced(s string) bool {
	depth := map[rune]int{}
	pairs := map[rune]rune{')': '(', '}': '{', ']': '['}
	inQuote := false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote = !inQuote
		case inQuote:
		case r == '(' || r == '{' || r == '[':
			depth[r]++
		case pairs[r] != 0:
			depth[pairs[r]]--
			if depth[pairs[r]] < 0 {
				return false
			}
		}
	}
	return !inQuote && depth['('] == 0 && depth['{'] == 0 && depth['['] == 0
}

func TestAlertRules(t *testing.T) {
	f := comboFixture(t, combos[2])
	content := fileMap(f.render(t))["infrastructure/monitoring/prometheusrule-docs-appliance.yaml"].Content
	var o struct {
		Spec struct {
			Groups []struct {
				Name  string
				Rules []map[string]any
			}
		}
	}
	if err := yaml.Unmarshal(content, &o); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	exprs := map[string]string{}
	for _, g := range o.Spec.Groups {
		for _, r := range g.Rules {
			name := r["alert"].(string)
			names[name] = true
			exprs[name] = r["expr"].(string)
			d, err := time.ParseDuration(r["for"].(string))
			// A rollout, a restart or one lost scrape lasts less than five minutes.
			if err != nil || d < 5*time.Minute {
				t.Errorf("%s fires after %v: noise", name, r["for"])
			}
			if sev := r["labels"].(map[string]any)["severity"]; sev != "critical" && sev != "warning" {
				t.Errorf("%s severity %v", name, sev)
			}
			ann := r["annotations"].(map[string]any)
			if ann["summary"] == "" || ann["description"] == "" {
				t.Errorf("%s has no summary or description", name)
			}
			if expr := r["expr"].(string); !balanced(expr) {
				t.Errorf("%s: unbalanced expression %s", name, expr)
			}
		}
	}
	// The failures a user or the data would feel, each covered.
	for _, w := range []string{"DocsUnreachable", "DocsBackendUnhealthy", "DocsCertificateExpiresSoon", "PostgresInstancesDown",
		"PostgresBackupTooOld", "PostgresWALArchivingFailing", "RestoreCheckFailed", "RestoreCheckNeverPassed", "RedisDown",
		"GatewayNoProxy", "FluxLayerNotReady", "ObjectStoreDown", "KeycloakDown"} {
		if !names[w] {
			t.Errorf("no alert %s", w)
		}
	}
	// HA runs three database instances: fewer is an incident.
	if !strings.HasSuffix(exprs["PostgresInstancesDown"], "or vector(0)) < 3") {
		t.Error("PostgresInstancesDown does not follow the profile's instance count")
	}
	for _, d := range applianceDashboards() {
		for _, p := range d["panels"].([]any) {
			for _, tg := range p.(map[string]any)["targets"].([]any) {
				if e := tg.(map[string]any)["expr"].(string); !balanced(e) {
					t.Errorf("dashboard %s: unbalanced query %s", d["title"], e)
				}
			}
		}
	}
}

func TestPolicyDecisions(t *testing.T) {
	files := fileMap(comboFixture(t, combos[0]).render(t))
	read := func(name string) map[string]any {
		var o map[string]any
		if err := yaml.Unmarshal(files["infrastructure/policies/clusterpolicy-"+name+".yaml"].Content, &o); err != nil {
			t.Fatal(err)
		}
		return o["spec"].(map[string]any)
	}
	actions := func(spec map[string]any) (out []string) {
		for _, r := range spec["rules"].([]any) {
			out = append(out, r.(map[string]any)["validate"].(map[string]any)["failureAction"].(string))
		}
		return out
	}
	for name, want := range map[string]string{
		"disallow-latest-tag": "Enforce,Enforce", "require-pod-resources": "Audit", "restricted-pod-security": "Audit",
	} {
		spec := read(name)
		if got := strings.Join(actions(spec), ","); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
		// A Kyverno that is down must not stop Docs from rolling out.
		if spec["failurePolicy"] != "Ignore" {
			t.Errorf("%s: failurePolicy %v", name, spec["failurePolicy"])
		}
	}
	over, _ := yaml.Marshal(read("restricted-pod-security"))
	if !strings.Contains(string(over), "action: Enforce") || !strings.Contains(string(over), "- object-store") {
		t.Errorf("restricted is not enforced where every pod is the appliance's own:\n%s", over)
	}
	ns := string(files["infrastructure/namespaces/namespace-object-store.yaml"].Content)
	if !strings.Contains(ns, "pod-security.kubernetes.io/enforce: restricted") {
		t.Errorf("object-store namespace:\n%s", ns)
	}
}

func TestDeleteHooksAreDropped(t *testing.T) {
	for p := range fileMap(comboFixture(t, combos[0]).render(t)) {
		if strings.Contains(p, "cleanup") {
			t.Errorf("a pre-delete hook was rendered as a plain object: %s", p)
		}
	}
}

// TestScriptsParse runs the real interpreters' syntax checks on the
// scripts the appliance ships inside ConfigMaps.
func TestScriptsParse(t *testing.T) {
	dir := t.TempDir()
	for _, s := range []struct {
		file, body string
		check      []string
		pkg        string // the Debian package of the interpreter
	}{
		{"restore-check.sh", mustScript(t, "restore-check.sh"), []string{"bash", "-n"}, "bash"},
		{"checks.sh", mustScript(t, "checks.sh"), []string{"bash", "-n"}, "bash"},
		{"accounts.sh", accountsScript, []string{"sh", "-n"}, "dash"},
		{"bucket.py", bucketScript, []string{"python3", "-m", "py_compile"}, "python3"},
	} {
		interpreter := kit.Program(t, s.check[0], "apt-get install "+s.pkg)
		p := filepath.Join(dir, s.file)
		if err := os.WriteFile(p, []byte(s.body), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(interpreter, append(s.check[1:], p)...).CombinedOutput()
		if err != nil {
			t.Errorf("%s does not parse: %v\n%s", s.file, err, out)
		}
	}
}

// TestRealTrainRenders renders every embedded release train (with stand-in
// charts of the same names and versions) in every combination: each train
// pins every image the appliance's own manifests use.
func TestRealTrainRenders(t *testing.T) {
	cat, err := bundles.LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range cat.Names() {
		t.Run(name, func(t *testing.T) { realTrainRenders(t, cat, name) })
	}
}

func realTrainRenders(t *testing.T, cat *bundles.Catalog, name string) {
	tr, err := cat.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	charts := packageCharts(t, tr)
	for _, cb := range combos {
		t.Run(cb.name, func(t *testing.T) {
			f := comboFixture(t, cb)
			f.opts.Train, f.opts.Charts = tr, bundles.DirStore(charts)
			res, err := Render(context.Background(), f.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Unpinned) > 0 {
				t.Errorf("images the train does not pin: %v", res.Unpinned)
			}
			// Wiring is rendered only for what the train carries: the real
			// train must carry everything, or a piece would silently vanish.
			files := fileMap(res)
			want := []string{
				"infrastructure/edge/gateway-docs.yaml", "infrastructure/database/cluster-postgres.yaml",
				"infrastructure/buckets/job-buckets.yaml",
				"apps/docs/httproute-docs.yaml", "infrastructure/policies/clusterpolicy-disallow-latest-tag.yaml",
			}
			if f.opts.Config.TLS.Mode != "provided" {
				want = append(want, "infrastructure/certificates/certificate-docs-tls.yaml")
			}
			if f.opts.Profile.Servers > 1 {
				want = append(want, "infrastructure/cache/redisreplication-redis.yaml")
			} else {
				want = append(want, "infrastructure/cache/redis-redis.yaml")
			}
			if f.opts.Config.Identity.Mode == "embedded" {
				want = append(want, "infrastructure/identity/keycloak-keycloak.yaml", "infrastructure/keycloak-operator/deployment-keycloak-operator.yaml")
			}
			if f.opts.Config.Storage.Mode == "embedded" {
				want = append(want, "infrastructure/object-store/statefulset-objectstore.yaml")
			}
			if f.opts.Profile.Components.Observability {
				want = append(want, "infrastructure/monitoring/prometheusrule-docs-appliance.yaml")
			}
			for _, p := range want {
				if _, ok := files[p]; !ok {
					t.Errorf("the real train renders no %s", p)
				}
			}
			pinned := regexp.MustCompile(`^[a-z0-9.-]+\.[a-z]+/`)
			for _, im := range res.Images {
				if !pinned.MatchString(im) {
					t.Errorf("image %q has no registry host: an air-gapped node's mirror config cannot match it", im)
				}
			}
		})
	}
}
