package cluster

import (
	"fmt"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// FieldManager is the server-side apply field manager of everything the installer applies.
const FieldManager = "docs-appliance"

// RequestTimeout bounds each API request (rest.Config.Timeout) unless the config sets its own.
const RequestTimeout = 30 * time.Second

// Client talks to one cluster.
type Client struct {
	Config  *rest.Config
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	// Mapper resolves kinds to resources through cached discovery; Apply resets it after it
	// creates CustomResourceDefinitions.
	Mapper *restmapper.DeferredDiscoveryRESTMapper
}

// LoadConfig reads a kubeconfig file; an empty path uses the usual rules ($KUBECONFIG,
// ~/.kube/config).
func LoadConfig(kubeconfig string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		if kubeconfig == "" {
			return nil, fmt.Errorf("loading the default kubeconfig: %w", err)
		}
		return nil, fmt.Errorf("loading kubeconfig %s: %w", kubeconfig, err)
	}
	return cfg, nil
}

// NewFromKubeconfig builds a Client from a kubeconfig file (see LoadConfig).
func NewFromKubeconfig(kubeconfig string) (*Client, error) {
	cfg, err := LoadConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	return New(cfg)
}

// New builds a Client from a rest.Config. It does not contact the server.
func New(cfg *rest.Config) (*Client, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		// Applying a few hundred rendered objects should not crawl at client-go's default 5 QPS.
		cfg.QPS, cfg.Burst = 50, 100
	}
	if cfg.Timeout == 0 {
		// One request to a hung API server is an error, never a hang; waits poll.
		cfg.Timeout = RequestTimeout
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the Kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the dynamic client: %w", err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the discovery client: %w", err)
	}
	return &Client{
		Config:  cfg,
		Kube:    kube,
		Dynamic: dyn,
		Mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco)),
	}, nil
}
