package envtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	crenvtest "sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// Env is a running etcd + kube-apiserver.
type Env struct {
	// Config authenticates as a member of system:masters.
	Config *rest.Config
	// Kubeconfig is a file (0600) holding the same credentials, for code that takes a path.
	Kubeconfig string

	env *crenvtest.Environment
	dir string
}

// KitDir returns the folder of the envtest binaries, or a *kit.MissingError when they are absent.
func KitDir() (string, error) {
	v, err := kit.Load()
	if err != nil {
		return "", err
	}
	dirs, err := v.Dirs()
	if err != nil {
		return "", err
	}
	if err := kit.CheckBinaries(dirs.Kube, "the envtest kit (etcd, kube-apiserver, kubectl)", "envtest-kit", kit.EnvtestBinaries...); err != nil {
		return "", err
	}
	return dirs.Kube, nil
}

// Start runs etcd and kube-apiserver from the kit on loopback ports and writes a kubeconfig into
// a new temporary folder. Stop undoes both. A missing kit is a *kit.MissingError.
func Start() (*Env, error) {
	dir, err := KitDir()
	if err != nil {
		return nil, err
	}
	env := &crenvtest.Environment{
		ControlPlaneStartTimeout: time.Minute, // a loaded 2-core CI machine is slow to start etcd
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	// Explicit paths: KUBEBUILDER_ASSETS and TEST_ASSET_* from the environment must not swap in
	// other binaries than the pinned ones.
	env.ControlPlane.GetAPIServer().Path = filepath.Join(dir, "kube-apiserver")
	env.ControlPlane.Etcd = &crenvtest.Etcd{Path: filepath.Join(dir, "etcd")}
	env.ControlPlane.KubectlPath = filepath.Join(dir, "kubectl")
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting etcd and kube-apiserver from %s: %w", dir, errors.Join(err, env.Stop()))
	}
	e := &Env{Config: cfg, env: env}
	if err := e.writeKubeconfig(); err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	return e, nil
}

func (e *Env) writeKubeconfig() error {
	user, err := e.env.AddUser(crenvtest.User{Name: "docs-appliance-test", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding the test user: %w", err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("writing the test user's kubeconfig: %w", err)
	}
	if e.dir, err = os.MkdirTemp("", "docs-appliance-envtest-"); err != nil {
		return fmt.Errorf("making the kubeconfig folder: %w", err)
	}
	e.Kubeconfig = filepath.Join(e.dir, "kubeconfig")
	if err := os.WriteFile(e.Kubeconfig, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", e.Kubeconfig, err)
	}
	return nil
}

// Stop ends kube-apiserver and etcd and removes their data and the kubeconfig.
func (e *Env) Stop() error {
	var errs []error
	if err := e.env.Stop(); err != nil {
		errs = append(errs, fmt.Errorf("stopping etcd and kube-apiserver: %w", err))
	}
	if e.dir != "" {
		if err := os.RemoveAll(e.dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", e.dir, err))
		}
	}
	return errors.Join(errs...)
}

// New starts an Env for t and stops it when t ends. A missing kit fails t when
// DOCS_APPLIANCE_REQUIRE_KIT=1 and skips it otherwise.
func New(t testing.TB) *Env {
	t.Helper()
	start := time.Now()
	e, err := Start()
	kit.Need(t, err)
	t.Logf("envtest API server up in %s", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	return e
}
