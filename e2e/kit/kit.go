package kit

import (
	"bufio"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

//go:embed versions.env
var versionsEnv string

// Environment variables the harness reads.
const (
	// EnvCache overrides the cache root ($HOME/.cache/docs-appliance).
	EnvCache = "DOCS_APPLIANCE_CACHE"
	// EnvRequireKit set to 1 turns a missing kit from a skip into a failure (see Unavailable).
	EnvRequireKit = "DOCS_APPLIANCE_REQUIRE_KIT"
	// EnvKubeKit points at a folder holding etcd, kube-apiserver, kubectl (and the node binaries),
	// overriding the folder derived from the versions.
	EnvKubeKit = "DOCS_APPLIANCE_KUBE_KIT"
)

// FluxController is one Flux controller image the harness builds.
type FluxController struct {
	Name  string // source-controller
	Tag   string // the version in the image name the pinned flux2 install manifests use
	Build string // the module version actually built (differs when Tag is not served)
}

// Image is the reference the install manifests use, e.g. ghcr.io/fluxcd/source-controller:v1.9.5.
func (f FluxController) Image() string { return "ghcr.io/fluxcd/" + f.Name + ":" + f.Tag }

// Versions are the pinned versions of versions.env.
type Versions struct {
	Kubernetes string
	Etcd       string
	Containerd string
	CoreDNS    string
	PauseImage string
	Flux       []FluxController
	CNPG       CNPG
}

// CNPG are the versions of the CloudNativePG kit (e2e/kit/build-cnpg.sh) and the image names the
// train pins, under which its images are tagged.
type CNPG struct {
	Operator, OperatorImage                string // 1.30.0, ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0
	BarmanCloud                            string // v0.14.0
	BarmanCloudImage, BarmanCloudSidecar   string
	PostgresMajor, PostgresSuite, Postgres string // 17, trixie, ghcr.io/cloudnative-pg/postgresql:17.6-...
}

// Load parses the embedded versions.env.
func Load() (Versions, error) {
	vars, err := parseEnv(versionsEnv)
	if err != nil {
		return Versions{}, fmt.Errorf("parsing versions.env: %w", err)
	}
	get := func(k string) string {
		if v, ok := vars[k]; ok {
			delete(vars, k)
			return v
		}
		err = errors.Join(err, fmt.Errorf("versions.env: %s is not set", k))
		return ""
	}
	v := Versions{
		Kubernetes: get("KUBERNETES"),
		Etcd:       get("ETCD"),
		Containerd: get("CONTAINERD"),
		CoreDNS:    get("COREDNS"),
		PauseImage: get("PAUSE_IMAGE"),
	}
	v.CNPG = CNPG{
		Operator: get("CNPG"), OperatorImage: get("CNPG_IMAGE"),
		BarmanCloud: get("BARMAN_CLOUD"), BarmanCloudImage: get("BARMAN_CLOUD_IMAGE"), BarmanCloudSidecar: get("BARMAN_CLOUD_SIDECAR_IMAGE"),
		PostgresMajor: get("POSTGRES_MAJOR"), PostgresSuite: get("POSTGRES_DEBIAN_SUITE"), Postgres: get("POSTGRES_IMAGE"),
	}
	for _, name := range []string{"source-controller", "kustomize-controller", "notification-controller"} {
		key := "FLUX_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		v.Flux = append(v.Flux, FluxController{Name: name, Tag: get(key + "_TAG"), Build: get(key + "_BUILD")})
	}
	if err != nil {
		return Versions{}, err
	}
	return v, nil
}

func parseEnv(text string) (map[string]string, error) {
	vars := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("line %d: want KEY=VALUE, got %q", n, line)
		}
		vars[k] = v
	}
	return vars, sc.Err()
}

// CacheRoot is where the build scripts put their output.
func CacheRoot() (string, error) {
	if d := os.Getenv(EnvCache); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache root: %w", err)
	}
	return filepath.Join(home, ".cache", "docs-appliance"), nil
}

// Dirs are the cache folders of one set of versions; they mirror e2e/kit/lib.sh.
type Dirs struct {
	Kube       string // etcd, kube-apiserver, kubectl, kubelet, kube-controller-manager, kube-scheduler, kube-proxy
	Containerd string // containerd, containerd-shim-runc-v2, ctr
	CoreDNS    string // coredns
	FluxImages string // <controller>.tar image tarballs
	CNPG       string // the CloudNativePG kit: image tarballs and upstream manifests
}

// Dirs derives the cache folders; EnvKubeKit overrides Kube.
func (v Versions) Dirs() (Dirs, error) {
	root, err := CacheRoot()
	if err != nil {
		return Dirs{}, err
	}
	d := Dirs{
		Kube:       filepath.Join(root, "kube-"+v.Kubernetes+"-etcd-"+v.Etcd),
		Containerd: filepath.Join(root, "containerd-"+v.Containerd),
		CoreDNS:    filepath.Join(root, "coredns-"+v.CoreDNS),
	}
	fl := "flux-images"
	for _, f := range v.Flux {
		fl += "-" + strings.TrimSuffix(f.Name, "-controller") + "-" + f.Build
	}
	d.FluxImages = filepath.Join(root, fl)
	c := v.CNPG
	d.CNPG = filepath.Join(root, "cnpg-"+c.Operator+"-barman-cloud-"+c.BarmanCloud+"-pg"+c.PostgresMajor+"-"+c.PostgresSuite)
	if k := os.Getenv(EnvKubeKit); k != "" {
		d.Kube = k
	}
	return d, nil
}

// Binaries of each tier, by folder.
var (
	EnvtestBinaries    = []string{"etcd", "kube-apiserver", "kubectl"}
	NodeBinaries       = []string{"etcd", "kube-apiserver", "kubectl", "kubelet", "kube-controller-manager", "kube-scheduler", "kube-proxy"}
	ContainerdBinaries = []string{"containerd", "containerd-shim-runc-v2", "ctr"}
)

// MissingError says that a part of the kit is not built, and how to build it.
type MissingError struct {
	What   string // e.g. "the envtest kit (etcd, kube-apiserver, kubectl)"
	Path   string // the file that is missing
	Target string // the make target that builds it
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("%s is not built (%s is missing): run `make %s` (builds it once from the Go module proxy into %s)",
		e.What, e.Path, e.Target, filepath.Dir(e.Path))
}

// CheckBinaries returns a *MissingError naming the first binary absent from dir.
func CheckBinaries(dir, what, target string, names ...string) error {
	for _, n := range names {
		p := filepath.Join(dir, n)
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return &MissingError{What: what, Path: p, Target: target}
		}
	}
	return nil
}

// CheckFiles returns a *MissingError naming the first of paths that does not exist.
func CheckFiles(what, target string, paths ...string) error {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return &MissingError{What: what, Path: p, Target: target}
		}
	}
	return nil
}
