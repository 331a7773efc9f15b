package render

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"filippo.io/age"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/profiles"
)

const testAgeKey = "AGE-SECRET-KEY-13UP7JW2JAEYFZ06CQZ7CMNESQEME80Z65Q4U230S2GJ7ZDA8WXQQAAM2K6"

var update = flag.Bool("update", false, "rewrite golden files")

// packageCharts packs every fixture chart under testdata/charts into a
// folder of .tgz files, as `make charts` or a bundle provides them, and
// makes a values-dump chart for every chart of tr without a fixture: its
// one template is a ConfigMap holding the values render gave the chart, so
// the golden files show each upstream chart's values.
func packageCharts(t testing.TB, tr *bundles.Train) string {
	t.Helper()
	out := t.TempDir()
	entries, err := os.ReadDir("testdata/charts")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		ch, err := loader.LoadDir(filepath.Join("testdata/charts", e.Name()))
		if err != nil {
			t.Fatalf("loading fixture chart %s: %v", e.Name(), err)
		}
		if _, err := chartutil.Save(ch, out); err != nil {
			t.Fatalf("packaging fixture chart %s: %v", e.Name(), err)
		}
		have[ch.Metadata.Name+"-"+ch.Metadata.Version] = true
	}
	for _, c := range tr.Charts {
		if have[c.Name+"-"+c.Version] {
			continue
		}
		ch := &chart.Chart{
			Metadata: &chart.Metadata{APIVersion: "v2", Name: c.Name, Version: c.Version,
				Description: "values dump standing for " + c.Name},
			Templates: []*chart.File{{Name: "templates/values.yaml", Data: []byte(valuesDumpTemplate)}},
		}
		if _, err := chartutil.Save(ch, out); err != nil {
			t.Fatalf("packaging values-dump chart %s: %v", c.Name, err)
		}
	}
	return out
}

const valuesDumpTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-chart-values
data:
  chart: {{ printf "%s %s" .Chart.Name .Chart.Version | quote }}
  values.yaml: |
{{ toYaml .Values | indent 4 }}
`

func testTrain(t testing.TB) *bundles.Train {
	t.Helper()
	data, err := os.ReadFile("testdata/train.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := bundles.ParseTrain(data)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// fixedSecrets gives every secret a recognisable value so tests can prove
// none leaks into a plain file.
type fixedSecrets map[string]string

func (f fixedSecrets) Get(name string) (string, bool) { v, ok := f[name]; return v, ok }

func secretsFor(c *config.Config) fixedSecrets {
	s := fixedSecrets{}
	names := []string{}
	for _, spec := range c.RequiredSecrets() {
		names = append(names, spec.Name)
	}
	if c.TLS.Mode == config.TLSProvided {
		// install loads tls.certFile and tls.keyFile under these names.
		names = append(names, config.SecretTLSCertificate, config.SecretTLSPrivateKey)
	}
	for _, n := range names {
		s[n] = "SECRET-VALUE-" + strings.ToUpper(strings.ReplaceAll(n, ".", "-"))
	}
	return s
}

type fixture struct {
	opts Options
	id   *age.X25519Identity
	// chartDir is the folder of packaged charts opts.Charts reads.
	chartDir string
}

func newFixture(t testing.TB, profile string, sets ...string) *fixture {
	t.Helper()
	cfg, err := config.Load("../../examples/appliance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Resolve(append([]string{"train=2030.01", "profile=" + profile}, sets...)); err != nil {
		t.Fatal(err)
	}
	p, err := profiles.Get(profile)
	if err != nil {
		t.Fatal(err)
	}
	// A fixed key keeps .sops.yaml stable in the golden files; it protects nothing.
	id, err := age.ParseX25519Identity(testAgeKey)
	if err != nil {
		t.Fatal(err)
	}
	tr := testTrain(t)
	charts := packageCharts(t, tr)
	// As LoadInputs does: the branding files are read and checked once.
	brand, problems := cfg.CheckBranding()
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	return &fixture{id: id, chartDir: charts, opts: Options{
		Config: cfg, Train: tr, Profile: p,
		Charts: bundles.DirStore(charts), Secrets: secretsFor(cfg),
		Recipients: []string{id.Recipient().String()}, Branding: brand,
	}}
}

// combo is one rendered appliance: a profile and the answers that choose
// between its modes.
type combo struct {
	name, profile string
	sets          []string
}

// combos cover every TLS mode, both identity and storage modes and every
// profile with three appliances instead of their 36 combinations.
var combos = []combo{
	// The example: one small server, Let's Encrypt, everything embedded.
	{"single-small-acme-embedded", "single-small", nil},
	// A site with its own identity provider, S3 and mail relay, on an
	// air-gapped network with the appliance CA, rebuilt from a backup.
	{"single-ca-external", "single", []string{
		"airgapped=true", "tls.mode=appliance-ca",
		"identity.mode=external", "identity.issuer=https://id.example.org/realms/staff", "identity.clientID=docs-prod",
		"identity.endpoints.authorization=https://id.example.org/realms/staff/protocol/openid-connect/auth",
		"identity.endpoints.token=https://id.example.org/realms/staff/protocol/openid-connect/token",
		"identity.endpoints.userinfo=https://id.example.org/realms/staff/protocol/openid-connect/userinfo",
		"identity.endpoints.jwks=https://id.example.org/realms/staff/protocol/openid-connect/certs",
		"identity.endpoints.endSession=https://id.example.org/realms/staff/protocol/openid-connect/logout",
		"storage.mode=external", "storage.endpoint=https://s3.example.org", "storage.region=eu-west-3", "storage.bucket=acme-docs",
		"smtp.host=smtp.example.org", "smtp.username=docs", "smtp.from=docs@example.org",
		// Rebuilt from a backup (restore --from): its database recovered
		// from the archive the old cluster wrote, archiving under a new name.
		"backup.serverName=postgres-r1", "backup.recovery.serverName=postgres",
	}},
	// Three servers, the operator's own certificate for two names, and
	// the branding of examples/branding (paths relative to this folder).
	{"ha-provided-embedded", "ha", append([]string{
		"tls.mode=provided", "tls.certFile=/etc/docs/tls.crt", "tls.keyFile=/etc/docs/tls.key",
		"extraDomains=docs.example.com",
	}, exampleBranding...)},
}

func comboFixture(t testing.TB, c combo) *fixture {
	t.Helper()
	return newFixture(t, c.profile, c.sets...)
}

func (f *fixture) render(t testing.TB) *Result {
	t.Helper()
	res, err := Render(context.Background(), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRenderGolden(t *testing.T) {
	for _, c := range combos {
		t.Run(c.name, func(t *testing.T) {
			res := comboFixture(t, c).render(t)
			compareGolden(t, filepath.Join("testdata", "golden", c.name), res)
		})
	}
}

// compareGolden compares every rendered file (Secrets in their plain form:
// encryption is randomised) with the golden tree.
func compareGolden(t *testing.T, dir string, res *Result) {
	t.Helper()
	if *update {
		os.RemoveAll(dir)
		for _, f := range res.Files {
			p := filepath.Join(dir, filepath.FromSlash(f.Path))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, f.Content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	got := map[string][]byte{}
	for _, f := range res.Files {
		got[f.Path] = f.Content
	}
	want := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			want[filepath.ToSlash(rel)], _ = os.ReadFile(p)
		}
		return nil
	})
	if len(want) == 0 {
		t.Fatalf("no golden files in %s: run go test ./installer/render -update", dir)
	}
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("%s: expected but not rendered", p)
		} else if !bytes.Equal(g, w) {
			t.Errorf("%s differs from golden (run with -update to accept):\n--- got\n%s\n--- want\n%s", p, g, w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: rendered but not in golden (run with -update to accept)", p)
		}
	}
}

// fileMap is the render's files by path, with the environment's effective objects at
// their components' folders (effectiveFiles).
func fileMap(res *Result) map[string]File {
	m := map[string]File{}
	for _, f := range res.Files {
		m[f.Path] = f
	}
	for _, f := range effectiveFiles(nopTB{}, res) {
		m[f.Path] = f
	}
	return m
}

// nopTB lets fileMap, which tests call without a *testing.T, use effectiveFiles: objects
// that were just rendered always encode.
type nopTB struct{ testing.TB }

func (nopTB) Helper()           {}
func (nopTB) Fatal(args ...any) { panic(args) }

func TestRenderShape(t *testing.T) {
	f := newFixture(t, "single-small")
	res := f.render(t)
	files := fileMap(res)

	// CRDs from crds/ and from templates both land in the crds layer, never prunable.
	for _, p := range []string{"infrastructure/operator/crds/customresourcedefinition-widgets.example.org.yaml", "infrastructure/operator/crds/customresourcedefinition-gadgets.example.org.yaml"} {
		if !strings.Contains(string(files[p].Content), "kustomize.toolkit.fluxcd.io/prune: disabled") {
			t.Errorf("%s missing or prunable", p)
		}
	}
	// The cluster-scoped custom resource has no namespace; namespaced objects get the release's.
	if c := string(files["infrastructure/operator/gadget-default.yaml"].Content); strings.Contains(c, "namespace:") {
		t.Errorf("cluster-scoped Gadget got a namespace:\n%s", c)
	}
	if c := string(files["infrastructure/operator/deployment-operator-operator.yaml"].Content); !strings.Contains(c, "namespace: operator") || !strings.Contains(c, "value: docs.example.org") {
		t.Errorf("operator Deployment:\n%s", c)
	}
	// The platform chart saw the Widget API from the other chart's CRDs.
	if _, ok := files["infrastructure/standin/widget-standin.yaml"]; !ok {
		t.Error("Capabilities did not include the train's CRDs")
	}
	// Hook Job kept as a plain object, marked for forced replacement; test hook dropped.
	if c := string(files["infrastructure/operator/job-operator-operator-migrate.yaml"].Content); !strings.Contains(c, "kustomize.toolkit.fluxcd.io/force: enabled") {
		t.Errorf("hook Job not forced:\n%s", c)
	}
	for p := range files {
		if strings.Contains(p, "-test") {
			t.Errorf("test hook rendered: %s", p)
		}
	}
	// The chart's Secret moved to the encrypted tree.
	if sf, ok := files["environments/production/secrets/operator/operator-operator-webhook.yaml"]; !ok || !sf.Secret {
		t.Errorf("chart Secret not moved to secrets/: %+v", sf)
	}
	// Observability is off in single-small (the shared base has it, for other environments).
	for p := range effectiveMap(t, res) {
		if strings.Contains(p, "monitor") {
			t.Errorf("observability component rendered in single-small: %s", p)
		}
	}
	// Layers in order, each depending on what it needs.
	var names []string
	for _, l := range res.Layers {
		names = append(names, l.Name+"<"+strings.Join(l.DependsOn, ","))
	}
	want := "crds<|secrets<crds|operators<crds,secrets|platform<crds,secrets,operators|apps<secrets,platform,operators|policy<crds,secrets,operators"
	if got := strings.Join(names, "|"); got != want {
		t.Errorf("layers = %s\nwant     %s", got, want)
	}
	sk := string(files["clusters/production/secrets.yaml"].Content)
	if !strings.Contains(sk, "provider: sops") || !strings.Contains(sk, "name: sops-age") {
		t.Errorf("secrets Kustomization lacks decryption:\n%s", sk)
	}
	if strings.Contains(string(files["clusters/production/apps.yaml"].Content), "decryption") {
		t.Error("only the secrets layer should decrypt")
	}
	// Docs values: production settings, secrets by reference, images pinned by digest.
	backend := string(files["apps/docs/deployment-docs-backend.yaml"].Content)
	img, _ := f.opts.Train.ImageFor("lasuite/impress-backend")
	for _, want := range []string{
		"value: Production", "name: DJANGO_CONFIGURATION",
		"image: " + img.Pinned(), "secretKeyRef:", "name: docs-backend",
		"value: when_required", "replicas: 1", "memory: 512Mi",
	} {
		if !strings.Contains(backend, want) {
			t.Errorf("docs backend lacks %q:\n%s", want, backend)
		}
	}
	if len(res.Unpinned) != 0 {
		t.Errorf("images not pinned by the train: %v", res.Unpinned)
	}
}

func TestNoSecretInPlainFiles(t *testing.T) {
	for _, cb := range combos {
		t.Run(cb.name, func(t *testing.T) {
			f := comboFixture(t, cb)
			res := f.render(t)
			secretFiles := 0
			for _, file := range res.Files {
				if file.Secret {
					secretFiles++
					continue
				}
				for name, v := range f.opts.Secrets.(fixedSecrets) {
					if bytes.Contains(file.Content, []byte(v)) {
						t.Errorf("%s holds the value of %s in the clear", file.Path, name)
					}
				}
				if bytes.Contains(file.Content, []byte("chart-made-token-value")) {
					t.Errorf("%s holds a chart Secret's value in the clear", file.Path)
				}
			}
			dir := t.TempDir()
			if _, err := Write(dir, res, f.id, f.opts.Recipients); err != nil {
				t.Fatal(err)
			}
			// Every Secret on disk is SOPS-encrypted, 0600, and decrypts to
			// the store's values.
			checked := 0
			filepath.WalkDir(filepath.Join(dir, "environments/production/secrets"), func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() || d.Name() == "kustomization.yaml" {
					return err
				}
				checked++
				enc, _ := os.ReadFile(p)
				if bytes.Contains(enc, []byte("SECRET-VALUE")) || !bytes.Contains(enc, []byte("sops:")) {
					t.Errorf("%s is not encrypted", p)
				}
				if info, _ := os.Stat(p); info.Mode().Perm() != 0o600 {
					t.Errorf("%s mode %v", p, info.Mode())
				}
				if _, err := secrets.SecretValues(enc, f.id); err != nil {
					t.Errorf("%s does not decrypt: %v", p, err)
				}
				return nil
			})
			if checked != secretFiles || checked < 5 {
				t.Errorf("%d encrypted Secrets on disk, %d rendered", checked, secretFiles)
			}
			enc, err := os.ReadFile(filepath.Join(dir, "environments/production/secrets/docs/docs-backend.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			vals, err := secrets.SecretValues(enc, f.id)
			if err != nil {
				t.Fatal(err)
			}
			if vals["DB_PASSWORD"] != "SECRET-VALUE-POSTGRES-DOCSPASSWORD" {
				t.Fatalf("decrypted DB_PASSWORD = %q", vals["DB_PASSWORD"])
			}
		})
	}
}

func TestRerenderIsByteIdentical(t *testing.T) {
	f := newFixture(t, "single-small")
	dir := t.TempDir()
	first, err := Write(dir, f.render(t), f.id, f.opts.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	second, err := Write(dir, f.render(t), f.id, f.opts.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	if second.Changed() {
		t.Fatalf("an unchanged re-render wrote %v and removed %v", second.Written, second.Removed)
	}
	if second.Unchanged != len(first.Written) {
		t.Fatalf("unchanged = %d, first wrote %d", second.Unchanged, len(first.Written))
	}
	after := snapshot(t, dir)
	for p, b := range before {
		if !bytes.Equal(b, after[p]) {
			t.Errorf("%s changed bytes", p)
		}
	}
	// Two fresh renders agree on every plain file.
	a, b := f.render(t), f.render(t)
	for i := range a.Files {
		if !a.Files[i].Secret && !bytes.Equal(a.Files[i].Content, b.Files[i].Content) {
			t.Errorf("%s is not deterministic", a.Files[i].Path)
		}
	}
}

func TestConfigChangeTouchesOnlyWhatChanged(t *testing.T) {
	f := newFixture(t, "single-small")
	dir := t.TempDir()
	if _, err := Write(dir, f.render(t), f.id, f.opts.Recipients); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "clusters/production/flux-system"), 0o755)
	os.WriteFile(filepath.Join(dir, "clusters/production/flux-system/gotk-sync.yaml"), []byte("flux's own"), 0o644)

	// A new admin e-mail changes the Docs backend and its jobs, nothing else.
	if err := f.opts.Config.Set("adminEmail=ops@example.org"); err != nil {
		t.Fatal(err)
	}
	rep, err := Write(dir, f.render(t), f.id, f.opts.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	// (The embedded realm's first user has the admin's address.)
	// Each is the environment's patch of a base object: the base is the train's and stays.
	want := []string{"environments/production/apps/patches/docs/deployment-docs-backend.yaml", "environments/production/apps/patches/docs/deployment-docs-celery-worker.yaml",
		"environments/production/apps/patches/docs/job-docs-backend-createsuperuser.yaml", "environments/production/apps/patches/docs/job-docs-backend-migrate.yaml",
		"environments/production/platform/patches/identity/keycloakrealmimport-docs.yaml"}
	if strings.Join(rep.Written, ",") != strings.Join(want, ",") || len(rep.Removed) != 0 {
		t.Fatalf("written %v removed %v, want %v", rep.Written, rep.Removed, want)
	}

	// A changed secret re-encrypts the Secrets holding it, and rolls the
	// pods that read it from env at start (Docs would keep the old value
	// until restarted): the database password is the docs role's and
	// Docs'; the Redis password is Redis' and inside Docs' REDIS_URL.
	// Nothing else moves, and the plain files carry no secret value.
	rolled := "environments/production/apps/patches/docs/deployment-docs-backend.yaml,environments/production/apps/patches/docs/deployment-docs-celery-worker.yaml,"
	f.opts.Secrets.(fixedSecrets)["postgres.docsPassword"] = "rotated"
	rep, err = Write(dir, f.render(t), f.id, f.opts.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rep.Written, ","); got != rolled+"environments/production/secrets/database/docs-db.yaml,environments/production/secrets/docs/docs-backend.yaml" {
		t.Fatalf("database password rotation wrote %v", got)
	}
	f.opts.Secrets.(fixedSecrets)["redis.password"] = "rotated-too"
	rep, err = Write(dir, f.render(t), f.id, f.opts.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rep.Written, ","); got != rolled+"environments/production/secrets/cache/redis-auth.yaml,environments/production/secrets/docs/docs-backend.yaml" {
		t.Fatalf("redis password rotation wrote %v", got)
	}
	f.opts.Secrets.(fixedSecrets)["yprovider.apiKey"] = "rotated-three"
	rep, err = Write(dir, f.render(t), f.id, f.opts.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rep.Written, ","); got != rolled+"environments/production/apps/patches/docs/deployment-docs-y-provider.yaml,environments/production/secrets/docs/docs-backend.yaml,environments/production/secrets/docs/docs-y-provider.yaml" {
		t.Fatalf("y-provider key rotation wrote %v", got)
	}

	// Turning observability on adds its layer; Flux's own files are never touched.
	p, _ := profiles.Get("single")
	f.opts.Profile = p
	rep, err = Write(dir, f.render(t), f.id, f.opts.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(rep.Written, ",")
	if !strings.Contains(joined, "clusters/production/observability.yaml") || !strings.Contains(joined, "environments/production/observability/kustomization.yaml") {
		t.Fatalf("observability not added: %v", rep.Written)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "clusters/production/flux-system/gotk-sync.yaml")); string(b) != "flux's own" {
		t.Fatal("Flux's bootstrap files were touched")
	}
	// Back to small: the observability files are pruned.
	small, _ := profiles.Get("single-small")
	f.opts.Profile = small
	rep, err = Write(dir, f.render(t), f.id, f.opts.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(rep.Removed, ","), "clusters/production/observability.yaml") {
		t.Fatalf("observability not pruned: %v", rep.Removed)
	}
	if _, err := os.Stat(filepath.Join(dir, "environments/production/observability")); !os.IsNotExist(err) {
		t.Fatal("empty layer folder left behind")
	}
}

func TestAddedRecipientReencrypts(t *testing.T) {
	f := newFixture(t, "single-small")
	dir := t.TempDir()
	if _, err := Write(dir, f.render(t), f.id, f.opts.Recipients); err != nil {
		t.Fatal(err)
	}
	operator, _ := age.GenerateX25519Identity()
	f.opts.Recipients = append(f.opts.Recipients, operator.Recipient().String())
	res := f.render(t)
	rep, err := Write(dir, res, f.id, f.opts.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	var secretFiles int
	for _, file := range res.Files {
		if file.Secret {
			secretFiles++
		}
	}
	// every Secret plus .sops.yaml
	if len(rep.Written) != secretFiles+1 {
		t.Fatalf("wrote %v", rep.Written)
	}
	enc, _ := os.ReadFile(filepath.Join(dir, "environments/production/secrets/docs/docs-y-provider.yaml"))
	if _, err := secrets.SecretValues(enc, operator); err != nil {
		t.Fatalf("the operator's own key cannot decrypt: %v", err)
	}
}

func TestMissingCharts(t *testing.T) {
	f := newFixture(t, "single-small")
	f.opts.Charts = bundles.EmbeddedStore()
	_, err := Render(context.Background(), f.opts)
	if !errors.Is(err, bundles.ErrChartMissing) || !strings.Contains(err.Error(), "operator 1.2.3") {
		t.Fatalf("want a missing-chart error naming the chart, got %v", err)
	}
	f.opts.AllowMissingCharts = true
	res, err := Render(context.Background(), f.opts)
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, m := range res.Missing {
		missing = append(missing, m.Chart.Name)
	}
	sort.Strings(missing)
	if strings.Join(missing, ",") != "cert-manager,cloudnative-pg,docs,gateway-helm,keycloak-operator-crds,kyverno,operator,plugin-barman-cloud,redis-operator,standin" {
		t.Fatalf("missing = %v", missing)
	}
	// Secrets and Flux wiring are still rendered.
	files := fileMap(res)
	if _, ok := files["environments/production/secrets/docs/docs-backend.yaml"]; !ok {
		t.Error("secrets not rendered when charts are missing")
	}
}

func TestMissingSecretIsNamed(t *testing.T) {
	f := newFixture(t, "single-small")
	delete(f.opts.Secrets.(fixedSecrets), "postgres.docsPassword")
	_, err := Render(context.Background(), f.opts)
	if err == nil || !strings.Contains(err.Error(), "postgres.docsPassword") {
		t.Fatalf("want an error naming the secret, got %v", err)
	}
}

func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			m[p], _ = os.ReadFile(p)
		}
		return nil
	})
	return m
}

// exampleBranding is examples/branding/appliance.yaml's branding as --set
// overrides, relative to this folder.
var exampleBranding = []string{
	"branding.productName=Acme Docs", "branding.logo=../../examples/branding/logo.svg",
	"branding.favicon=../../examples/branding/favicon.png", "branding.primaryColor=#0b6e4f",
	"branding.login.backgroundColor=#eef5f1", "branding.login.title=Sign in to Acme Docs", "branding.login.signInButton=Continue",
}
