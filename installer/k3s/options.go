package k3s

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"path"
	"runtime"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/host"
)

// k3s's default address ranges for pods and services.
const (
	DefaultClusterCIDR = "10.42.0.0/16"
	DefaultServiceCIDR = "10.43.0.0/16"
)

// Options say what k3s to provision and how.
type Options struct {
	// Root is the host filesystem ("/" for this machine); every path is taken under it.
	Root host.Root
	// Runner runs systemctl.
	Runner host.Runner
	// Train pins the k3s version and the sha256 of its binary and airgap images.
	Train *bundles.Train
	// Arch is the artifact architecture (amd64, arm64); this binary's when empty.
	Arch string
	// ArtifactsDir is an imported bundle folder (host path) holding k3s/k3s,
	// k3s/k3s-airgap-images-<arch>.tar.zst and images/*.tar. Empty downloads k3s from the
	// train's URLs (online only).
	ArtifactsDir string
	// HTTPClient downloads the artifacts; http.DefaultClient when nil.
	HTTPClient *http.Client
	// AllowUnpinned accepts a train whose k3s sha256 are empty (an unlocked train, in tests and
	// development): the artifacts are then not verified. Install never sets it.
	AllowUnpinned bool
	// Domains go into the API server certificate (tls-san).
	Domains []string
	// Airgapped forbids pulls from upstream registries (disable-default-registry-endpoint).
	Airgapped bool
	// ClusterInit starts embedded etcd: the first server of the ha profile. A first server
	// already on etcd keeps it whatever this says (see DatastoreOf): k3s would run etcd anyway,
	// and dropping the key from config.yaml would only restart k3s for nothing.
	ClusterInit bool
	// Join makes this host a further server or agent of an existing cluster; nil is the
	// first server.
	Join *Join
	// Snapshots schedules embedded etcd's snapshots on a server running etcd; nil keeps
	// k3s's defaults (twice a day, 5 kept, on this disk only).
	Snapshots *Snapshots
	// ClusterCIDR and ServiceCIDR are the pod and service ranges; k3s's defaults when empty.
	ClusterCIDR, ServiceCIDR string
	// NodeName overrides the node's name (k3s uses the host name otherwise).
	NodeName string
	// StateDir is the appliance's state folder (host path): the kubeconfig is kept there.
	StateDir string
	// NewClient builds the client the readiness wait uses; kubernetes.NewForConfig when nil.
	NewClient func(*rest.Config) (kubernetes.Interface, error)
	// Timeout bounds the wait for the node and core pods; 10 minutes when zero.
	Timeout time.Duration
	// PollInterval is how often the wait looks; 2 seconds when zero.
	PollInterval time.Duration
}

// artifacts are where the step finds k3s's files: in the bundle folder or at the train's URLs.
type artifacts struct {
	binaryURL, binaryFile, binarySHA256 string
	imagesURL, imagesFile, imagesSHA256 string
	imagesName                          string
}

func (o *Options) defaults() error {
	if o.Root == "" {
		o.Root = "/"
	}
	if o.Arch == "" {
		o.Arch = runtime.GOARCH
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.ClusterCIDR == "" {
		o.ClusterCIDR = DefaultClusterCIDR
	}
	if o.ServiceCIDR == "" {
		o.ServiceCIDR = DefaultServiceCIDR
	}
	if o.NewClient == nil {
		o.NewClient = func(c *rest.Config) (kubernetes.Interface, error) { return kubernetes.NewForConfig(c) }
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.PollInterval == 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.Join == nil && DatastoreOf(o.Root) == Etcd {
		o.ClusterInit = true
	}
	return o.validate()
}

// validate refuses bad options before anything on the host changes, naming the field and the fix.
func (o *Options) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if o.Runner == nil {
		bad("k3s: no command runner given")
	}
	if o.Train == nil {
		bad("k3s: no release train given")
	} else {
		art, ok := o.Train.K3s.Artifacts[o.Arch]
		switch {
		case !ok:
			bad("k3s: train %s has no k3s for architecture %s (it has %s)", o.Train.Name, o.Arch, strings.Join(trainArches(o.Train), ", "))
		case (art.BinarySHA256 == "" || art.AirgapImagesSHA256 == "") && !o.AllowUnpinned:
			bad("k3s: train %s is unlocked: k3s.artifacts.%s has no sha256, so the k3s download cannot be verified (lock the train with `make lock` on a connected machine; install refuses unlocked trains)", o.Train.Name, o.Arch)
		}
	}
	if o.Airgapped && o.ArtifactsDir == "" {
		bad("k3s: an air-gapped install takes k3s from an imported bundle: import one (docs-appliance airgap import) and pass its folder")
	}
	if o.ArtifactsDir != "" && !path.IsAbs(o.ArtifactsDir) {
		bad("k3s: the bundle folder %q must be an absolute path", o.ArtifactsDir)
	}
	for _, d := range o.Domains {
		if d == "" || strings.ContainsAny(d, " /:") {
			bad("k3s: domain %q cannot go into the API certificate (give a host name like docs.example.org)", d)
		}
	}
	for name, v := range map[string]string{"cluster CIDR": o.ClusterCIDR, "service CIDR": o.ServiceCIDR} {
		if _, err := netip.ParsePrefix(v); err != nil {
			bad("k3s: %s %q is not a CIDR (e.g. %s)", name, v, DefaultClusterCIDR)
		}
	}
	if o.Join == nil && o.Root.Exists(TokenPath) {
		// Provisioning it as a first server would drop server and token-file from config.yaml.
		bad("k3s: this host joined a cluster (%s is there): run install and upgrade on the first server; here, docs-appliance join again or reset", TokenPath)
	}
	if o.Join != nil {
		if err := o.Join.validate(); err != nil {
			errs = append(errs, err)
		}
		if o.ClusterInit {
			bad("k3s: a joining host cannot initialise a cluster of its own (cluster-init): give either the cluster to join or ClusterInit")
		}
	}
	if o.Snapshots != nil {
		if err := o.Snapshots.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if o.StateDir == "" || !path.IsAbs(o.StateDir) {
		bad("k3s: the state folder %q must be an absolute path (--state-dir)", o.StateDir)
	}
	return errors.Join(errs...)
}

func trainArches(t *bundles.Train) []string {
	var out []string
	for a := range t.K3s.Artifacts {
		out = append(out, a)
	}
	return out
}

func (o *Options) artifacts() artifacts {
	art := o.Train.K3s.Artifacts[o.Arch]
	a := artifacts{
		binarySHA256: art.BinarySHA256,
		imagesSHA256: art.AirgapImagesSHA256,
		imagesName:   "k3s-airgap-images-" + o.Arch + ".tar.zst",
	}
	if o.ArtifactsDir != "" {
		a.binaryFile = path.Join(o.ArtifactsDir, "k3s", "k3s")
		a.imagesFile = path.Join(o.ArtifactsDir, "k3s", a.imagesName)
	} else {
		a.binaryURL, a.imagesURL = art.BinaryURL, art.AirgapImagesURL
	}
	return a
}
