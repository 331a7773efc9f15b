package validate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

// fixture is one rendered repository, made once: each test validates a copy of it.
type fixture struct {
	dir  string
	id   *age.X25519Identity
	tr   *bundles.Train
	crds []*unstructured.Unstructured
}

var (
	fixtureOnce sync.Once
	shared      *fixture
	sharedTmp   string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedTmp != "" {
		os.RemoveAll(sharedTmp)
	}
	os.Exit(code)
}

// rendered is the shared rendered repository (made by the first test that needs it).
func rendered(t testing.TB) *fixture {
	t.Helper()
	fixtureOnce.Do(func() {
		dir, id, tr := renderedRepo(t)
		// The render's TempDir belongs to the first test: keep a copy for the others.
		tmp, err := os.MkdirTemp("", "validate-fixture-")
		if err != nil {
			t.Fatal(err)
		}
		sharedTmp = tmp
		copyDir(t, dir, filepath.Join(tmp, "repo"))
		shared = &fixture{dir: filepath.Join(tmp, "repo"), id: id, tr: tr, crds: upstreamCRDs(t)}
	})
	if shared == nil {
		t.Fatal("the rendered repository could not be made (see the first test's failure)")
	}
	return shared
}

func (f *fixture) options() Options {
	return Options{Train: f.tr, Decrypt: decrypter(f.id), FluxManifests: gitops.FluxManifests, CRDs: f.crds}
}

// decrypter is installer.AgeDecrypter (which this package's tests cannot import).
func decrypter(ids ...*age.X25519Identity) func([]byte) ([]byte, error) {
	return func(data []byte) ([]byte, error) {
		plain, err := secrets.Decrypt(data, ids...)
		if errors.Is(err, secrets.ErrNotDecryptable) {
			return nil, fmt.Errorf("%w: %w", ErrWrongKey, err)
		}
		return plain, err
	}
}

// mutable copies the rendered repository for one test to change.
func (f *fixture) mutable(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "repo")
	copyDir(t, f.dir, dir)
	return dir
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(dst, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// edit replaces old by new in a file of dir, failing when old is not there.
func edit(t *testing.T, dir, file, old, new string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(file))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not hold %q:\n%s", file, old, data)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, dir, file, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(file))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func validate(t *testing.T, dir string, o Options) *Report {
	t.Helper()
	rep, err := Run(context.Background(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// want asserts a finding of rule for file (and object, when given) whose message holds msg.
func want(t *testing.T, rep *Report, rule, file, object, msg string) {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Rule == rule && f.File == file && (object == "" || f.Object == object) && strings.Contains(f.Message, msg) && f.Fix != "" {
			return
		}
	}
	t.Errorf("no %s finding for %s %s with %q:\n%s", rule, file, object, msg, rep.Text())
}

func TestRenderedRepositoryValidatesClean(t *testing.T) {
	f := rendered(t)
	rep := validate(t, f.dir, f.options())
	if err := rep.Err(); err != nil {
		t.Errorf("%v:\n%s", err, rep.Text())
	}
	// Every layer was built, every Secret decrypted, and no rule of the appliance's policies
	// was beyond the evaluator.
	if len(rep.Kustomizations) != 6 || rep.Decrypted == 0 || rep.Objects < 50 || len(rep.NotEvaluated) > 0 {
		t.Errorf("validated too little: %+v", rep)
	}
	var doc map[string]any
	if err := json.Unmarshal(mustJSON(t, rep), &doc); err != nil || doc["findings"] == nil {
		t.Errorf("the JSON report has no findings list: %v %v", err, doc)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestEachRuleFindsItsMutation changes one thing of the rendered repository per case and checks
// the validation names it: file, object, rule.
func TestEachRuleFindsItsMutation(t *testing.T) {
	f := rendered(t)
	const (
		deploy = "base/operators/operator/deployment-operator-operator.yaml"
		// The environment's patch replaces the base's containers (a list is replaced whole):
		// what runs is in the patch; findings name the file the object comes from (the base's).
		deployPatch = "environments/production/operators/patches/operator/deployment-operator-operator.yaml"
		stsPatch    = "environments/production/operators/patches/object-store/statefulset-objectstore.yaml"
		job         = "base/operators/operator/job-operator-operator-migrate.yaml"
		opKust      = "base/operators/operator/kustomization.yaml"
		cert        = "base/platform/certificates/certificate-docs-tls.yaml"
		digest      = "@sha256:1111111111111111111111111111111111111111111111111111111111111111"
	)
	deployObj := "Deployment operator/operator-operator"
	cases := []struct {
		name                     string
		mutate                   func(t *testing.T, dir string)
		rule, file, object, text string
	}{
		{"plain Secret in a file", func(t *testing.T, dir string) {
			write(t, dir, "base/operators/operator/secret-token.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: token, namespace: operator}\nstringData: {token: Abc-123-XYZ-789}\n")
			edit(t, dir, opKust, "resources:\n", "resources:\n  - secret-token.yaml\n")
		}, RuleSecretPlain, "base/operators/operator/secret-token.yaml", "Secret operator/token", "in the clear"},
		{"Secret from a secretGenerator", func(t *testing.T, dir string) {
			edit(t, dir, opKust, "resources:\n", "secretGenerator:\n  - name: generated\n    namespace: operator\n    literals: [password=Abc-123-XYZ-789]\nresources:\n")
		}, RuleSecretPlain, "environments/production/operators/", "Secret operator/generated-bgf4dmdt98", "secretGenerator"},
		{"image without digest", func(t *testing.T, dir string) {
			edit(t, dir, deployPatch, digest, "")
		}, RuleImageDigest, deploy, deployObj, "not pinned by digest"},
		{"image the train does not pin", func(t *testing.T, dir string) {
			edit(t, dir, deployPatch, digest, "@sha256:2222222222222222222222222222222222222222222222222222222222222222")
		}, RuleImageTrain, deploy, deployObj, "not one train 2030.01 pins"},
		{"latest tag refused by the Kyverno policy", func(t *testing.T, dir string) {
			edit(t, dir, deployPatch, "operator:v1.2.3"+digest, "operator:latest")
		}, "kyverno/disallow-latest-tag/no-latest-tag", deploy, deployObj, "latest tag is not a release"},
		{"restricted Pod Security enforced in the object store", func(t *testing.T, dir string) {
			edit(t, dir, stsPatch, "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true")
		}, "kyverno/restricted-pod-security/restricted", "base/operators/object-store/statefulset-objectstore.yaml", "StatefulSet object-store/objectstore", "allowPrivilegeEscalation"},
		{"dependsOn cycle", func(t *testing.T, dir string) {
			edit(t, dir, "clusters/production/crds.yaml", "spec:\n", "spec:\n  dependsOn:\n  - name: apps\n")
		}, RuleDependsOnCycle, "clusters/production/apps.yaml", "Kustomization flux-system/apps", "flux-system/crds → flux-system/apps"},
		{"dependsOn a missing Kustomization", func(t *testing.T, dir string) {
			edit(t, dir, "clusters/production/apps.yaml", "- name: platform", "- name: platfrom")
		}, RuleDependsOnMissing, "clusters/production/apps.yaml", "Kustomization flux-system/apps", "flux-system/platfrom"},
		{"Job without the force annotation", func(t *testing.T, dir string) {
			edit(t, dir, job, "kustomize.toolkit.fluxcd.io/force: enabled", "example.org/note: kept")
		}, RuleJobForce, job, "Job operator/operator-operator-migrate", "immutable"},
		{"field the built-in schema lacks", func(t *testing.T, dir string) {
			edit(t, dir, deploy, "spec:\n", "spec:\n  replicaCount: 2\n")
		}, RuleUnknownField, deploy, deployObj, "replicaCount"},
		{"wrong type for a built-in kind", func(t *testing.T, dir string) {
			edit(t, dir, deploy, "spec:\n", "spec:\n  minReadySeconds: soon\n")
		}, RuleSchema, deploy, deployObj, "minReadySeconds"},
		{"field a CRD's schema lacks", func(t *testing.T, dir string) {
			edit(t, dir, cert, "spec:\n", "spec:\n  renewAfter: 24h\n")
		}, RuleUnknownField, cert, "Certificate edge/docs-tls", "spec.renewAfter"},
		{"wrong type for a custom resource", func(t *testing.T, dir string) {
			edit(t, dir, cert, "    size: 256", "    size: large")
		}, RuleSchema, cert, "Certificate edge/docs-tls", "spec.privateKey.size"},
		{"kind nothing defines", func(t *testing.T, dir string) {
			edit(t, dir, cert, "kind: Certificate", "kind: Certificat")
		}, RuleUnknownKind, cert, "Certificat edge/docs-tls", "no schema"},
		{"kustomization.yaml naming a missing file", func(t *testing.T, dir string) {
			edit(t, dir, opKust, "resources:\n", "resources:\n  - configmap-gone.yaml\n")
		}, RuleBuild, "clusters/production/operators.yaml", "Kustomization flux-system/operators", "configmap-gone.yaml"},
		{"encrypted file corrupted", func(t *testing.T, dir string) {
			edit(t, dir, "environments/production/secrets/cache/redis-auth.yaml", "password: ENC[AES256_GCM,data:", "password: ENC[AES256_GCM,data:AAAA")
		}, RuleSecretDecrypt, "environments/production/secrets/cache/redis-auth.yaml", "", "decrypting with SOPS"},
		{"secret value copied into a plain file", func(t *testing.T, dir string) {
			edit(t, dir, "base/platform/cache/configmap-redis-config.yaml", "data:\n", "data:\n  leaked: Rendered-Secret-REDIS-PASSWORD-42\n")
		}, RuleSecretInPlain, "base/platform/cache/configmap-redis-config.yaml", "", "Secret cache/redis-auth"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := f.mutable(t)
			c.mutate(t, dir)
			rep := validate(t, dir, f.options())
			want(t, rep, c.rule, c.file, c.object, c.text)
			var fe *FailedError
			if err := rep.Err(); err == nil || !errorsAs(err, &fe) || fe.ExitCode() != 1 {
				t.Errorf("a finding must fail with exit code 1: %v", err)
			}
		})
	}
}

// TestWrongKeyNamesEveryFile: files encrypted for another key do not decrypt with this one.
func TestWrongKeyNamesEveryFile(t *testing.T) {
	f := rendered(t)
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	o := f.options()
	o.Decrypt = decrypter(other)
	rep := validate(t, f.dir, o)
	want(t, rep, RuleSecretDecrypt, "environments/production/secrets/cache/redis-auth.yaml", "", "no given age key can decrypt")
	// Without a key the same repository passes: encryption is checked, decryption is not.
	o.Decrypt = nil
	if err := validate(t, f.dir, o).Err(); err != nil {
		t.Errorf("without a key: %v", err)
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
