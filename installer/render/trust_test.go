package render

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// browserURLs are the Docs variables holding URLs that browsers open or
// that Docs only compares or hands out (settings.py at v5.4.1): the pods
// never call them.
var browserURLs = map[string]bool{
	"MEDIA_BASE_URL": true, "COLLABORATION_WS_URL": true, "LOGIN_REDIRECT_URL": true,
	"LOGIN_REDIRECT_URL_FAILURE": true, "LOGOUT_REDIRECT_URL": true, "OIDC_OP_AUTHORIZATION_ENDPOINT": true,
	"OIDC_OP_LOGOUT_ENDPOINT": true, "OIDC_REDIRECT_ALLOWED_HOSTS": true, "DJANGO_CSRF_TRUSTED_ORIGINS": true,
	"DJANGO_EMAIL_URL_APP": true, "COLLABORATION_SERVER_ORIGIN": true,
	// The issuer's identifier: fetched only by the resource server, which is off.
	"OIDC_OP_URL": true,
}

// caExportTargets reads, from the rendered CA export Job, which ConfigMap
// it writes and in which namespaces.
func caExportTargets(t *testing.T, res *Result) (name string, namespaces map[string]bool) {
	t.Helper()
	objs := objectsUnder(t, res, "infrastructure/certificates")
	job, ok := objs["infrastructure/certificates/job-appliance-ca.yaml"]
	if !ok {
		return "", nil
	}
	env := envOf(containers(mustPodSpec(t, job), "containers")[0])
	namespaces = map[string]bool{}
	for _, ns := range strings.Fields(literal(env["TARGET_NAMESPACES"])) {
		namespaces[ns] = true
	}
	return literal(env["EXPORT_NAME"]), namespaces
}

// volumeOf finds the pod volume a container mounts at (or above) path.
func volumeOf(spec, c m, path string) (mount, volume m) {
	for _, vm := range asList(c["volumeMounts"]) {
		mm := vm.(map[string]any)
		if p := mm["mountPath"].(string); path == p || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
			for _, v := range asList(spec["volumes"]) {
				if v.(map[string]any)["name"] == mm["name"] {
					return mm, v.(map[string]any)
				}
			}
		}
	}
	return nil, nil
}

// TestPodsTrustTheApplianceCA: with the appliance CA, no Docs pod calls
// the public host (it would need that CA: the backend and y-provider call
// each other inside the cluster), and still the Python and Node.js pods
// trust it, the backend fetching URLs it is given (its CORS proxy), the
// appliance's own included: Python through a bundle of the public roots
// and the CA that an init container writes from the CA export's
// ConfigMap, Node.js through NODE_EXTRA_CA_CERTS on that ConfigMap. In
// the other modes a public or the operator's certificate needs nothing.
func TestPodsTrustTheApplianceCA(t *testing.T) {
	python := []string{"deployment-docs-backend", "deployment-docs-celery-worker", "job-docs-backend-migrate", "job-docs-backend-createsuperuser"}
	for _, cb := range combos {
		t.Run(cb.name, func(t *testing.T) {
			f := comboFixture(t, cb)
			res := f.render(t)
			objs := objectsUnder(t, res, "apps/docs")
			hosts := map[string]bool{}
			for _, h := range f.opts.Config.Hosts() {
				hosts[h] = true
			}
			for _, w := range append(python, "deployment-docs-y-provider") {
				for name, e := range envOf(containers(mustPodSpec(t, mustObject(t, objs, "apps/docs/"+w+".yaml")), "containers")[0]) {
					u, err := url.Parse(literal(e))
					if err == nil && hosts[u.Hostname()] && !browserURLs[name] {
						t.Errorf("%s: %s = %s calls the public host from inside the cluster", w, name, literal(e))
					}
				}
			}

			applianceCA := f.opts.Config.TLS.Mode == config.TLSApplianceCA
			exported, targets := caExportTargets(t, res)
			if applianceCA && (exported == "" || !targets[docsNamespace]) {
				t.Fatalf("the CA export does not publish the CA in %s (targets %v)", docsNamespace, targets)
			}
			for _, w := range python {
				spec := mustPodSpec(t, mustObject(t, objs, "apps/docs/"+w+".yaml"))
				for _, c := range containers(spec, "containers") {
					env := envOf(c)
					bundle := literal(env["REQUESTS_CA_BUNDLE"])
					if !applianceCA {
						if bundle != "" || len(containers(spec, "initContainers")) > 0 {
							t.Errorf("%s: trust wiring without the appliance CA", w)
						}
						continue
					}
					if bundle == "" || literal(env["SSL_CERT_FILE"]) != bundle {
						t.Errorf("%s: REQUESTS_CA_BUNDLE %q and SSL_CERT_FILE %q must name the bundle", w, bundle, literal(env["SSL_CERT_FILE"]))
						continue
					}
					_, vol := volumeOf(spec, c, bundle)
					if vol == nil {
						t.Errorf("%s: the bundle %s is on no volume", w, bundle)
						continue
					}
					// The volume is written by an init container from the CA's ConfigMap.
					var writer m
					for _, ic := range containers(spec, "initContainers") {
						if mm, v := volumeOf(spec, ic, bundle); v != nil && v["name"] == vol["name"] && mm["readOnly"] != true {
							writer = ic
						}
					}
					if writer == nil {
						t.Errorf("%s: no init container writes %s", w, bundle)
						continue
					}
					script := strings.Join(func() (s []string) {
						for _, a := range asList(writer["command"]) {
							s = append(s, a.(string))
						}
						return
					}(), " ")
					if !strings.Contains(script, bundle) || !strings.Contains(script, "certifi") {
						t.Errorf("%s: the init container does not write the public roots into %s: %s", w, bundle, script)
					}
					if writer["image"] != c["image"] {
						t.Errorf("%s: the init container runs %v, not the pod's own pinned image", w, writer["image"])
					}
					found := false
					for _, vm := range asList(writer["volumeMounts"]) {
						mm := vm.(map[string]any)
						if strings.Contains(script, mm["mountPath"].(string)+"/ca.crt") {
							_, v := volumeOf(spec, writer, mm["mountPath"].(string)+"/ca.crt")
							cm, _ := v["configMap"].(map[string]any)
							found = cm != nil && cm["name"] == exported
						}
					}
					if !found {
						t.Errorf("%s: the bundle is not made from the ConfigMap %s the CA export writes", w, exported)
					}
				}
			}
			spec := mustPodSpec(t, mustObject(t, objs, "apps/docs/deployment-docs-y-provider.yaml"))
			c := containers(spec, "containers")[0]
			extra := literal(envOf(c)["NODE_EXTRA_CA_CERTS"])
			if !applianceCA {
				if extra != "" {
					t.Error("y-provider trusts a CA the appliance does not run")
				}
				return
			}
			mount, vol := volumeOf(spec, c, extra)
			cm, _ := vol["configMap"].(map[string]any)
			if cm == nil || cm["name"] != exported || mount["readOnly"] != true || filepath.Base(extra) != "ca.crt" {
				t.Errorf("y-provider: NODE_EXTRA_CA_CERTS %q is not the CA export's ConfigMap (volume %v)", extra, vol)
			}
		})
	}
}

// TestTrustBundleScriptParses checks the init container's script with the
// real shell.
func TestTrustBundleScriptParses(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bundle.sh")
	if err := os.WriteFile(p, []byte(trustBundleScript+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
		t.Fatalf("the trust bundle script does not parse: %v\n%s", err, out)
	}
}
