package doctor

import (
	"context"
	"crypto/x509"
	"net"
	"time"

	"filippo.io/age"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/cluster"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/host"
)

// Env is every fact source the checks read. installer.Doctor fills it;
// a source that could not be opened is nil with its error beside it, so
// the checks that need it fail with that reason and the others still run.
type Env struct {
	Config *config.Config
	Train  *bundles.Train
	// StateDir is the appliance's state folder (saved config, secret store,
	// age key, records of backups and key confirmations), a host path.
	StateDir string
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	// Host is set when the appliance provisioned k3s on this host; nil on
	// an existing cluster (--kubeconfig), where the host checks skip.
	Host *HostFacts

	Kube    *cluster.Client
	KubeErr error

	// Repo is a checkout of the desired-state repository at the branch's
	// HEAD, RepoErr why there is none.
	Repo    *Repository
	RepoErr error

	// AgeKey is the local age identity (the state folder's key).
	AgeKey    *age.X25519Identity
	AgeKeyErr error

	// Secrets are the secret store's values by name, for the user-path
	// checks that log in to S3 (never printed).
	Secrets map[string]string

	UserPath UserPath
}

// HostFacts locate the k3s install on this host.
type HostFacts struct {
	Root   host.Root
	Runner host.Runner
	// DataDir is k3s's data dir, VolumesDir where volumes live.
	DataDir, VolumesDir string
	// Service is the k3s systemd unit.
	Service string
}

// Repository is a checkout of the desired-state repository.
type Repository struct {
	// Dir is the checkout's folder.
	Dir string
	// Head is the commit checked out, Revision Flux's form of it
	// ("main@sha1:…").
	Head, Revision string
	// Author and When are the last commit's.
	Author  string
	When    time.Time
	Message string
	// Objects are the desired state: every object of every Flux
	// Kustomization path (kustomize build), secrets still encrypted.
	Objects []*unstructured.Unstructured
}

// UserPath is how the user-path checks reach the appliance as a browser
// would.
type UserPath struct {
	// Resolver looks up the domains (the system's when nil; doctor
	// --nameserver points it at the DNS server users ask).
	Resolver *net.Resolver
	// ServerAddrs are this server's addresses (its interfaces' when nil)
	// plus any public address in front of it (NAT).
	ServerAddrs []net.IP
	// Dial connects to an address the resolver returned (net.Dialer when nil).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Roots are the certificate authorities a user's browser trusts for the
	// appliance: the system's plus the appliance CA (tls.mode appliance-ca).
	Roots *x509.CertPool
	// S3 is how the application reaches its bucket.
	S3 S3Target
}

// S3Target is the object store and the application's credentials. Blank
// fields are filled from Config.Storage (bucket, region, an external
// endpoint) and Secrets (storage.accessKeyID, storage.secretAccessKey);
// the embedded store's endpoint (http://, through a port-forward) must be
// given. The endpoint is dialed directly, not through UserPath.Dial.
type S3Target struct {
	Endpoint, Region, Bucket string
	AccessKey, SecretKey     string
	// Roots verify the endpoint's TLS (the system's when nil).
	Roots *x509.CertPool
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}
