package render

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// The Docs contract, asserted as relationships between rendered objects.

// objectsUnder reads every object rendered under a folder, by file.
func objectsUnder(t *testing.T, res *Result, dir string) map[string]Object {
	t.Helper()
	out := map[string]Object{}
	for _, f := range append(append([]File(nil), res.Files...), effectiveFiles(t, res)...) {
		if !strings.HasPrefix(f.Path, dir+"/") || f.Secret || strings.HasSuffix(f.Path, "kustomization.yaml") {
			continue
		}
		var o Object
		if err := yaml.Unmarshal(f.Content, &o); err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		out[f.Path] = o
	}
	return out
}

func mustObject(t *testing.T, objs map[string]Object, path string) Object {
	t.Helper()
	o, ok := objs[path]
	if !ok {
		t.Fatalf("%s is not rendered", path)
	}
	return o
}

func mustPodSpec(t *testing.T, o Object) m {
	t.Helper()
	s, err := podSpec(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// envOf is a container's env by name.
func envOf(c m) map[string]m {
	out := map[string]m{}
	for _, e := range asList(c["env"]) {
		em := e.(map[string]any)
		out[em["name"].(string)] = em
	}
	return out
}

func literal(e m) string { s, _ := e["value"].(string); return s }

// serviceFor finds the rendered Service a cluster URL names, and the
// container port its port leads to.
func serviceFor(t *testing.T, objs map[string]Object, raw string) (svc Object, port m) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	name, ns, ok := strings.Cut(strings.TrimSuffix(u.Hostname(), ".svc.cluster.local"), ".")
	if !ok || !strings.HasSuffix(u.Hostname(), ".svc.cluster.local") {
		t.Fatalf("%s is not a cluster Service URL", raw)
	}
	for _, o := range objs {
		if o.Kind() == "Service" && o.Name() == name && o.Namespace() == ns {
			for _, p := range asList(o["spec"].(map[string]any)["ports"]) {
				pm := p.(map[string]any)
				if fmt.Sprint(pm["port"]) == u.Port() {
					return o, pm
				}
			}
			t.Fatalf("%s: Service %s/%s has no port %s", raw, ns, name, u.Port())
		}
	}
	t.Fatalf("%s: no Service %s/%s is rendered", raw, ns, name)
	return nil, nil
}

// TestBackendCallsYProviderInCluster: the backend's two y-provider URLs
// resolve to the y-provider Service the chart renders, on the port that
// leads to the port y-provider listens on (its PORT), over plain HTTP (no
// certificate to trust); the collaboration API path is the one browsers
// reach y-provider at through the public route.
func TestBackendCallsYProviderInCluster(t *testing.T) {
	for _, cb := range combos {
		t.Run(cb.name, func(t *testing.T) {
			res := comboFixture(t, cb).render(t)
			objs := objectsUnder(t, res, "apps/docs")
			backend := envOf(containers(mustPodSpec(t, mustObject(t, objs, "apps/docs/deployment-docs-backend.yaml")), "containers")[0])
			ypDeploy := mustObject(t, objs, "apps/docs/deployment-docs-y-provider.yaml")
			yp := containers(mustPodSpec(t, ypDeploy), "containers")[0]
			listens := literal(envOf(yp)["PORT"])
			for _, name := range []string{"COLLABORATION_API_URL", "Y_PROVIDER_API_BASE_URL"} {
				raw := literal(backend[name])
				if !strings.HasPrefix(raw, "http://") {
					t.Errorf("%s = %q: not plain HTTP inside the cluster", name, raw)
					continue
				}
				svc, port := serviceFor(t, objs, raw)
				sel := svc["spec"].(map[string]any)["selector"].(map[string]any)
				podLabels := ypDeploy["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)["labels"].(map[string]any)
				for k, v := range sel {
					if podLabels[k] != v {
						t.Errorf("%s: Service %s does not select the y-provider pods (%s=%v)", name, svc.Name(), k, v)
					}
				}
				if target := fmt.Sprint(port["targetPort"]); target != listens {
					t.Errorf("%s: Service port %v leads to %s, y-provider listens on %s", name, port["port"], target, listens)
				}
			}
			// The path browsers use for the collaboration API, through the route.
			var publicPath string
			for path, rule := range routeRules(t, fileMap(res)["apps/docs/httproute-docs-collaboration.yaml"].Content) {
				if strings.Contains(path, "api") && rule["backendRefs"].([]any)[0].(map[string]any)["name"] == "docs-y-provider" {
					publicPath = path
				}
			}
			u, _ := url.Parse(literal(backend["COLLABORATION_API_URL"]))
			if publicPath == "" || u.Path != publicPath {
				t.Errorf("COLLABORATION_API_URL path %q, want the collaboration route's %q", u.Path, publicPath)
			}
		})
	}
}

// TestSuperuserPasswordOnlyInItsJob: of every rendered object, only the
// createsuperuser Job reads the first admin's password, from a Secret
// holding the store's value, and its command never expands it.
func TestSuperuserPasswordOnlyInItsJob(t *testing.T) {
	for _, cb := range combos {
		t.Run(cb.name, func(t *testing.T) {
			f := comboFixture(t, cb)
			res := f.render(t)
			job := "apps/docs/job-docs-backend-createsuperuser.yaml"
			for path, content := range effectiveMap(t, res) {
				if content.Secret {
					continue
				}
				mentions := bytes.Contains(content.Content, []byte("DJANGO_SUPERUSER_PASSWORD")) || bytes.Contains(content.Content, []byte(docsSuperuserSecret))
				if mentions && path != job {
					t.Errorf("%s refers to the superuser password: only the createsuperuser Job may", path)
				}
			}
			c := containers(mustPodSpec(t, mustObject(t, objectsUnder(t, res, "apps/docs"), job)), "containers")[0]
			from, _ := envOf(c)["DJANGO_SUPERUSER_PASSWORD"]["valueFrom"].(map[string]any)
			ref, _ := from["secretKeyRef"].(map[string]any)
			if ref == nil {
				t.Fatalf("the createsuperuser Job does not read DJANGO_SUPERUSER_PASSWORD from a Secret: %v", envOf(c)["DJANGO_SUPERUSER_PASSWORD"])
			}
			if got := plainSecrets(t, res)[docsNamespace+"/"+ref["name"].(string)][ref["key"].(string)]; got != f.opts.Secrets.(fixedSecrets)["django.superuserPassword"] {
				t.Errorf("Secret %s key %s holds %q, not the store's superuser password", ref["name"], ref["key"], got)
			}
			argv, _ := yaml.Marshal(m{"command": c["command"], "args": c["args"]})
			if bytes.Contains(argv, []byte("$DJANGO_SUPERUSER_PASSWORD")) || bytes.Contains(argv, []byte("${DJANGO_SUPERUSER_PASSWORD}")) {
				t.Errorf("the Job's command expands the password onto a command line:\n%s", argv)
			}
		})
	}
}

// fakePython stands for the backend image's python: it logs its command
// line; `manage.py check` succeeds, `manage.py shell -c CODE` runs CODE
// in the real python3 against a stand-in for Django that records the
// management command called and its options.
const fakePython = `#!/bin/sh
echo "$*" >> "$ARGV_LOG"
if [ "$1 $2" = "manage.py check" ]; then exit 0; fi
if [ "$1 $2 $3" = "manage.py shell -c" ]; then exec python3 -c "$4"; fi
echo "unexpected: $*" >&2; exit 1
`

const fakeDjango = `import json, os
def call_command(name, **options):
    with open(os.environ["CALL_LOG"], "w") as f:
        json.dump({"command": name, "options": options}, f)
`

// TestCreateSuperuserCommandReadsTheEnvironment runs the Job's rendered
// command in a real shell, the real python3 running its code: the
// password reaches Docs' createsuperuser, and no command line holds it.
func TestCreateSuperuserCommandReadsTheEnvironment(t *testing.T) {
	res := comboFixture(t, combos[0]).render(t)
	c := containers(mustPodSpec(t, mustObject(t, objectsUnder(t, res, "apps/docs"), "apps/docs/job-docs-backend-createsuperuser.yaml")), "containers")[0]
	var command []string
	for _, a := range append(asList(c["command"]), asList(c["args"])...) {
		command = append(command, a.(string))
	}
	if len(command) < 3 || command[0] != "/bin/sh" || command[1] != "-c" {
		t.Fatalf("the Job's command is not a shell script: %q", command)
	}
	dir := t.TempDir()
	bin, pkg := filepath.Join(dir, "bin"), filepath.Join(dir, "py", "django", "core")
	for _, d := range []string{bin, pkg} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(bin, "python"), []byte(fakePython), 0o755)
	os.WriteFile(filepath.Join(dir, "py", "django", "__init__.py"), nil, 0o644)
	os.WriteFile(filepath.Join(pkg, "__init__.py"), nil, 0o644)
	os.WriteFile(filepath.Join(pkg, "management.py"), []byte(fakeDjango), 0o644)
	argvLog, callLog := filepath.Join(dir, "argv.log"), filepath.Join(dir, "call.json")
	const password = "pw with spaces; $(rm -rf /) 'quotes' \"too\""
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Env = append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "PYTHONPATH="+filepath.Join(dir, "py"),
		"ARGV_LOG="+argvLog, "CALL_LOG="+callLog,
		"DJANGO_SUPERUSER_EMAIL=admin@example.org", "DJANGO_SUPERUSER_PASSWORD="+password)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("running the Job's command: %v\n%s", err, out)
	}
	argv, _ := os.ReadFile(argvLog)
	if bytes.Contains(argv, []byte("pw with spaces")) {
		t.Errorf("the password was on a command line:\n%s", argv)
	}
	var call struct {
		Command string            `json:"command"`
		Options map[string]string `json:"options"`
	}
	data, err := os.ReadFile(callLog)
	if err != nil || yaml.Unmarshal(data, &call) != nil {
		t.Fatalf("createsuperuser was not called (%v); command lines:\n%s", err, argv)
	}
	if call.Command != "createsuperuser" || call.Options["email"] != "admin@example.org" || call.Options["password"] != password {
		t.Errorf("called %s with %v", call.Command, call.Options)
	}
}

// memoryLimit reads a rendered container's memory limit.
func memoryLimit(t *testing.T, c m) resource.Quantity {
	t.Helper()
	res, _ := c["resources"].(map[string]any)
	limits, _ := res["limits"].(map[string]any)
	lim, _ := limits["memory"].(string)
	q, err := resource.ParseQuantity(lim)
	if err != nil {
		t.Fatalf("container %s has no memory limit: %v", c["name"], err)
	}
	return q
}

// fits checks n processes of each size fit in limit beside fixed, and one
// more would not (or n is the minimum of one).
func fits(t *testing.T, what string, n int, each, fixed, limit resource.Quantity) {
	t.Helper()
	need := func(k int) int64 { return int64(k)*each.Value() + fixed.Value() }
	if n < 1 || (n > 1 && need(n) > limit.Value()) || need(n+1) <= limit.Value() {
		t.Errorf("%s: %d processes of %s beside %s in a %s limit: not the most that fit", what, n, each.String(), fixed.String(), limit.String())
	}
}

// TestServerProcessesFitTheLimit: the web pods run as many uvicorn
// workers, and Celery as many children, as their memory limit holds; only
// the web pods get WEB_CONCURRENCY.
func TestServerProcessesFitTheLimit(t *testing.T) {
	for _, cb := range combos {
		t.Run(cb.name, func(t *testing.T) {
			objs := objectsUnder(t, comboFixture(t, cb).render(t), "apps/docs")
			web := containers(mustPodSpec(t, mustObject(t, objs, "apps/docs/deployment-docs-backend.yaml")), "containers")[0]
			n, err := strconv.Atoi(literal(envOf(web)["WEB_CONCURRENCY"]))
			if err != nil {
				t.Fatalf("WEB_CONCURRENCY: %v", err)
			}
			fits(t, "backend", n, backendWorkerMemory, backendServerMemory, memoryLimit(t, web))

			celery := containers(mustPodSpec(t, mustObject(t, objs, "apps/docs/deployment-docs-celery-worker.yaml")), "containers")[0]
			args := asList(celery["args"])
			var concurrency int
			for i, a := range args {
				if a == "--concurrency" && i+1 < len(args) {
					concurrency, _ = strconv.Atoi(args[i+1].(string))
				}
			}
			fits(t, "celery", concurrency, celeryChildMemory, celeryParentMemory, memoryLimit(t, celery))
			for _, p := range []string{"apps/docs/deployment-docs-celery-worker.yaml", "apps/docs/job-docs-backend-migrate.yaml"} {
				if _, ok := envOf(containers(mustPodSpec(t, mustObject(t, objs, p)), "containers")[0])["WEB_CONCURRENCY"]; ok {
					t.Errorf("%s gets WEB_CONCURRENCY: it runs no web server", p)
				}
			}
		})
	}
}

// standardClaims are the claims each standard scope releases (OpenID
// Connect Core 1.0, section 5.4).
var standardClaims = map[string][]string{
	"profile": {"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"},
	"email":   {"email", "email_verified"},
}

// TestOIDCNamesComeFromRequestedScopes: every claim Docs builds a user's
// names from is released by a scope Docs asks for; with the embedded
// Keycloak, the first user has the names its profile scope maps to them.
func TestOIDCNamesComeFromRequestedScopes(t *testing.T) {
	for _, cb := range combos {
		t.Run(cb.name, func(t *testing.T) {
			f := comboFixture(t, cb)
			res := f.render(t)
			env := envOf(containers(mustPodSpec(t, mustObject(t, objectsUnder(t, res, "apps/docs"), "apps/docs/deployment-docs-backend.yaml")), "containers")[0])
			released := map[string]bool{}
			scopes := strings.Fields(literal(env["OIDC_RP_SCOPES"]))
			for _, s := range scopes {
				for _, c := range standardClaims[s] {
					released[c] = true
				}
			}
			for _, s := range strings.Fields(f.opts.Config.Identity.Scopes) {
				if !strings.Contains(" "+literal(env["OIDC_RP_SCOPES"])+" ", " "+s+" ") {
					t.Errorf("the configured scope %s is not asked for (%v)", s, scopes)
				}
			}
			// Unset, Docs reads its defaults (settings.py at v5.4.1).
			full, short := literal(env["OIDC_USERINFO_FULLNAME_FIELDS"]), literal(env["OIDC_USERINFO_SHORTNAME_FIELD"])
			if full == "" {
				full = "first_name,last_name"
			}
			if short == "" {
				short = "first_name"
			}
			fields := append(strings.Split(full, ","), short)
			for _, field := range fields {
				if !released[field] {
					t.Errorf("Docs reads claim %q, which none of the scopes %v releases", field, scopes)
				}
			}
			if f.opts.Config.Identity.Mode != config.Embedded {
				return
			}
			var realm struct {
				Spec struct {
					Realm struct {
						Users []map[string]any `json:"users"`
					} `json:"realm"`
				} `json:"spec"`
			}
			if err := yaml.Unmarshal(fileMap(res)["infrastructure/identity/keycloakrealmimport-docs.yaml"].Content, &realm); err != nil {
				t.Fatal(err)
			}
			for _, u := range realm.Spec.Realm.Users {
				// Keycloak's profile scope maps firstName and lastName to given_name and family_name.
				if u["firstName"] == "" || u["lastName"] == "" || u["firstName"] == nil || u["lastName"] == nil {
					t.Errorf("realm user %v has no first or last name for Docs to show", u["username"])
				}
			}
		})
	}
}

// TestYProviderReadiness: y-provider is ready when it answers on the port
// it listens on, at the path its server serves (the chart's own liveness
// probe, /ping in servers/appServer.ts).
func TestYProviderReadiness(t *testing.T) {
	for _, cb := range combos {
		t.Run(cb.name, func(t *testing.T) {
			objs := objectsUnder(t, comboFixture(t, cb).render(t), "apps/docs")
			c := containers(mustPodSpec(t, mustObject(t, objs, "apps/docs/deployment-docs-y-provider.yaml")), "containers")[0]
			readiness, _ := c["readinessProbe"].(map[string]any)
			liveness, _ := c["livenessProbe"].(map[string]any)
			ready, _ := readiness["httpGet"].(map[string]any)
			live, _ := liveness["httpGet"].(map[string]any)
			if ready == nil || live == nil {
				t.Fatalf("y-provider probes: readiness %v, liveness %v", c["readinessProbe"], c["livenessProbe"])
			}
			if fmt.Sprint(ready["port"]) != literal(envOf(c)["PORT"]) {
				t.Errorf("readiness probes port %v, y-provider listens on %s", ready["port"], literal(envOf(c)["PORT"]))
			}
			if ready["path"] != "/ping" || ready["path"] != live["path"] {
				t.Errorf("readiness probes %v, want y-provider's /ping (liveness probes %v)", ready["path"], live["path"])
			}
		})
	}
}
