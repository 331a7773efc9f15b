package gitops

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	gosync "sync"
	"time"

	"github.com/fluxcd/flux2/v2/pkg/bootstrap"
	"github.com/fluxcd/flux2/v2/pkg/manifestgen/sourcesecret"
	"github.com/fluxcd/flux2/v2/pkg/manifestgen/sync"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/git"
	runclient "github.com/fluxcd/pkg/runtime/client"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/suitenumerique/docs-appliance/installer/status"
)

// BootstrapOptions are the inputs of Bootstrap.
type BootstrapOptions struct {
	// Repo is the working copy the rendered state was committed in; bootstrap commits Flux's own
	// manifests in the same clone.
	Repo   *Repo
	Remote Remote
	// Kubeconfig is the cluster's kubeconfig file; Config the same, parsed.
	Kubeconfig string
	Config     *rest.Config
	// FluxVersion selects the embedded manifests, e.g. v2.9.5.
	FluxVersion string
	// Environment is the config's: Flux syncs clusters/<environment>.
	Environment string
	Author      git.Signature
	// Timeout bounds each of bootstrap's health waits; PollInterval is how often they look.
	Timeout, PollInterval time.Duration
}

// Bootstrap runs flux2's bootstrap with the embedded manifests: it commits Flux's components and
// sync manifests under clusters/<env>/flux-system/ when they changed, installs the components
// while Flux has not yet applied itself, points Flux at the repository (through cluster DNS for
// the in-cluster server) and waits for Flux to sync the pushed head. Flux's source credentials
// are already in the cluster (bootstrap layer), so bootstrap neither generates a key nor scans an
// SSH host key.
func Bootstrap(ctx context.Context, o BootstrapOptions, st *status.Status) error {
	// flux2's health checks build controller-runtime clients, whose logger must be set or it
	// prints a stack trace to stderr after 30 s; bootstrap reports through st instead.
	silenceControllerRuntime.Do(func() { ctrllog.SetLogger(logr.Discard()) })
	base, err := os.MkdirTemp("", "docs-appliance-flux-")
	if err != nil {
		return fmt.Errorf("making a work folder: %w", err)
	}
	defer os.RemoveAll(base)
	if err := writeManifestsBase(o.FluxVersion, base); err != nil {
		return err
	}
	if err := writeFluxSettings(ctx, o.Repo, o.Environment, o.Author, st); err != nil {
		return err
	}
	kube, err := fluxClient(o.Config)
	if err != nil {
		return err
	}
	rcg := genericclioptions.NewConfigFlags(false)
	rcg.KubeConfig = &o.Kubeconfig
	b, err := bootstrap.NewPlainGitProvider(o.Repo.Client(), kube,
		bootstrap.WithRepositoryURL(o.Remote.PushURL),
		bootstrap.WithBranch(o.Remote.Branch),
		bootstrap.WithSignature(o.Author.Name, o.Author.Email),
		bootstrap.WithCommitMessageAppendix("Committed by docs-appliance: Flux runs the desired state of this repository."),
		// Both are required: bootstrap dereferences them without checking.
		bootstrap.WithKubeconfig(rcg, &runclient.Options{QPS: 50, Burst: 100}),
		bootstrap.WithLogger(statusLogger{st}),
	)
	if err != nil {
		return fmt.Errorf("preparing Flux bootstrap: %w", err)
	}
	secretOpts := sourcesecret.MakeDefaultOptions()
	target := TargetPath(o.Environment)
	secretOpts.Name, secretOpts.Namespace, secretOpts.TargetPath = FluxName, FluxNamespace, target
	syncOpts := sync.MakeDefaultOptions()
	syncOpts.Name, syncOpts.Namespace, syncOpts.Secret = FluxName, FluxNamespace, FluxName
	syncOpts.URL, syncOpts.Branch, syncOpts.TargetPath = o.Remote.SyncURL, o.Remote.Branch, target
	if err := bootstrap.Run(ctx, b, base, InstallOptions(o.FluxVersion, o.Environment), secretOpts, syncOpts, o.PollInterval, o.Timeout); err != nil {
		return fmt.Errorf("bootstrapping Flux %s: %w", o.FluxVersion, err)
	}
	return nil
}

var silenceControllerRuntime gosync.Once

// fluxKustomization is clusters/<env>/flux-system/kustomization.yaml: Flux's own manifests
// with the appliance's settings. Bootstrap applies this file (patches included) instead of
// gotk-components.yaml alone, and keeps it; the flux-system Kustomization applies it thereafter.
//
// CancelHealthCheckOnNewRevision: a layer waiting on a rollout that cannot succeed (a bad image,
// a crash loop) would otherwise hold every later commit — the fix included — for up to its
// timeout (15 minutes for apps). With it, a new revision cancels the wait and is applied at once.
const fluxKustomization = `# Flux's components and sync, with the appliance's settings. Written by docs-appliance.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - gotk-components.yaml
  - gotk-sync.yaml
patches:
  - target:
      kind: Deployment
      name: kustomize-controller
    patch: |
      - op: add
        path: /spec/template/spec/containers/0/args/-
        value: --feature-gates=CancelHealthCheckOnNewRevision=true
`

// writeFluxSettings commits the flux-system kustomization.yaml when it is missing or differs.
// On the first install gotk-sync.yaml does not exist yet: an empty one keeps the kustomization
// buildable until bootstrap writes the real one.
func writeFluxSettings(ctx context.Context, repo *Repo, env string, author git.Signature, st *status.Status) error {
	dir := filepath.Join(repo.Dir(), filepath.FromSlash(TargetPath(env)), FluxNamespace)
	kfile := filepath.Join(dir, "kustomization.yaml")
	if cur, err := os.ReadFile(kfile); err == nil && string(cur) == fluxKustomization {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing Flux's settings: %w", err)
	}
	if err := os.WriteFile(kfile, []byte(fluxKustomization), 0o644); err != nil {
		return fmt.Errorf("writing Flux's settings: %w", err)
	}
	for _, f := range []string{"gotk-components.yaml", "gotk-sync.yaml"} {
		p := filepath.Join(dir, f)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				return fmt.Errorf("writing Flux's settings: %w", err)
			}
		}
	}
	hash, err := repo.Commit(author, "docs-appliance: Flux settings (a new revision cancels a health check that waits on the previous one)\n\n"+
		TargetPath(env)+"/flux-system/kustomization.yaml patches kustomize-controller with\n"+
		"--feature-gates=CancelHealthCheckOnNewRevision=true, so a fix is applied while a broken rollout is still being waited on.")
	if errors.Is(err, ErrNothingToCommit) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := repo.Push(ctx); err != nil {
		return err
	}
	st.Info("committed %s: Flux settings", hash[:12])
	return nil
}

// fluxClient is a controller-runtime client that knows Flux's kinds.
func fluxClient(cfg *rest.Config) (client.Client, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, kustomizev1.AddToScheme, sourcev1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, fmt.Errorf("building the Flux client scheme: %w", err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("building the Flux client: %w", err)
	}
	return c, nil
}

// statusLogger shows bootstrap's progress through the install's status.
type statusLogger struct{ st *status.Status }

func (l statusLogger) Actionf(format string, a ...any)   { l.st.Info("Flux: "+format, a...) }
func (l statusLogger) Generatef(format string, a ...any) { l.st.Info("Flux: "+format, a...) }
func (l statusLogger) Waitingf(format string, a ...any)  { l.st.Info("Flux: "+format, a...) }
func (l statusLogger) Successf(format string, a ...any)  { l.st.Info("Flux: "+format, a...) }
func (l statusLogger) Warningf(format string, a ...any)  { l.st.Warn("Flux: "+format, a...) }
func (l statusLogger) Failuref(format string, a ...any)  { l.st.Warn("Flux: "+format, a...) }
