package envtest

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

func TestStartGivesAWorkingKubeconfigAndStopCleansUp(t *testing.T) {
	env := New(t)
	st, err := os.Stat(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %o, want 600", st.Mode().Perm())
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := kube.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{})
	if err != nil || ns.Name != "default" {
		t.Fatalf("reading namespace default through the kubeconfig: %v", err)
	}
	v, err := kube.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	versions, _ := kit.Load()
	if v.GitVersion != "v"+versions.Kubernetes {
		t.Errorf("API server %s, want the pinned v%s", v.GitVersion, versions.Kubernetes)
	}
	if err := env.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(env.Kubeconfig); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("kubeconfig left behind: %v", err)
	}
	if _, err := kube.Discovery().ServerVersion(); err == nil {
		t.Error("the API server still answers after Stop")
	}
}

func TestStartWithoutTheKitSaysHowToGetIt(t *testing.T) {
	t.Setenv(kit.EnvKubeKit, t.TempDir())
	_, err := Start()
	var missing *kit.MissingError
	if !errors.As(err, &missing) || !strings.Contains(err.Error(), "make envtest-kit") {
		t.Fatalf("got %v", err)
	}
}
