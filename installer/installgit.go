package installer

// The steps of install that work on the desired-state repository and Flux: clone, commit,
// save-config, flux and converge.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/validate"

	"github.com/fluxcd/pkg/git"

	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/release"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// clone reaches the repository (through a port-forward for the in-cluster server) and clones
// it into a private work folder that the run removes when it ends.
func (r *run) clone(ctx context.Context, _ *status.Status) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	remote, closeRemote, err := openRemote(ctx, r.life, c, r.in)
	if err != nil {
		return err
	}
	r.closers = append(r.closers, closeRemote)
	r.remote = remote
	work := filepath.Join(r.i.Inputs.StateDir, workDirName)
	if err := cleanWorkDir(work); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(work, "repo-")
	if err != nil {
		return fmt.Errorf("making a work folder in %s: %w", work, err)
	}
	r.closers = append(r.closers, func() { os.RemoveAll(dir) })
	repo, err := gitops.Clone(ctx, dir, remote)
	if err != nil {
		return err
	}
	r.closers = append(r.closers, repo.Close)
	r.repo = repo
	return nil
}

func (r *run) publishInput() gitops.PublishInput {
	in := r.in
	return gitops.PublishInput{
		Result: r.res, Identity: in.Store.Identity(), Recipients: in.Recipients(), Config: in.Config,
		Version: release.Version, Author: r.author(), Subject: r.subject, Preamble: r.preamble,
	}
}

func (r *run) author() git.Signature {
	return git.Signature{Name: "docs-appliance", Email: "docs-appliance@" + r.in.Config.Domain}
}

// commitDone writes the render into the private clone and looks: when the head already holds
// it, there is nothing to commit.
func (r *run) commitDone(context.Context) (string, error) {
	s, err := gitops.Stage(r.repo, r.publishInput())
	if err != nil {
		return "", err
	}
	r.staged = s
	if s.Changed {
		return "", nil
	}
	head, err := r.repo.Head()
	if err != nil {
		return "", err
	}
	r.pub, _ = s.Commit(context.Background())
	return fmt.Sprintf("up to date: the repository already holds this render (%s)", short(head)), nil
}

func (r *run) commit(ctx context.Context, st *status.Status) error {
	if err := r.validateRender(ctx); err != nil {
		return err
	}
	return r.publish(ctx, st)
}

// validateRender checks the staged render before it can reach Flux: as an operator's push would
// be, with the train, Flux's CRDs and the appliance's key.
func (r *run) validateRender(ctx context.Context) error {
	rep, err := validate.Run(ctx, r.repo.Dir(), validate.Options{Train: r.in.Train, FluxManifests: gitops.FluxManifests,
		Decrypt: AgeDecrypter(r.in.Store.Identity())})
	if err != nil {
		return err
	}
	if err := rep.Err(); err != nil {
		return fmt.Errorf("the render does not validate (a defect of this build: send the findings to its maintainers):\n%s", rep.Text())
	}
	r.repo.ValidatedBy("validated by docs-appliance install against train " + r.in.Train.Name)
	return nil
}

// publish commits and pushes the validated render, and asks Flux to look.
func (r *run) publish(ctx context.Context, st *status.Status) error {
	pub, err := r.staged.Commit(ctx)
	if err != nil {
		return err
	}
	r.pub = pub
	st.Info("committed %s: %s (%d files written, %d removed)", short(pub.Head), pub.Subject, len(pub.Report.Written), len(pub.Report.Removed))
	// Flux's next poll would see it within its interval; ask now (Flux may not be there yet).
	if err := gitops.RequestReconcile(ctx, r.c, gitops.GitRepositoryGVR, gitops.FluxName); err != nil {
		st.Warn("%v", err)
	}
	return nil
}

// configSaved: the config a later run starts from is the one of the pushed render.
func (r *run) configSaved(context.Context) (string, error) {
	want, err := r.in.Config.Marshal()
	if err != nil {
		return "", err
	}
	path := SavedConfigPath(r.i.Inputs.StateDir)
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, want) {
		return "the saved config is this one", nil
	}
	return "", nil
}

func (r *run) saveConfig(context.Context, *status.Status) error {
	if err := r.in.Config.Save(SavedConfigPath(r.i.Inputs.StateDir)); err != nil {
		return fmt.Errorf("saving the config: %w", err)
	}
	return nil
}

func (r *run) head() (string, error) {
	head, err := r.repo.Head()
	if err != nil {
		return "", err
	}
	r.rev = r.repo.Revision(head)
	return head, nil
}

func (r *run) fluxDone(ctx context.Context) (string, error) {
	if _, err := r.head(); err != nil {
		return "", err
	}
	return gitops.FluxInSync(ctx, r.c, r.repo, r.in.Train.Flux.Version, r.in.Config.Environment, r.rev)
}

func (r *run) flux(ctx context.Context, st *status.Status) error {
	return gitops.Bootstrap(ctx, gitops.BootstrapOptions{
		Repo: r.repo, Remote: r.remote, Kubeconfig: r.kubeconfig, Config: r.c.Config,
		FluxVersion: r.in.Train.Flux.Version, Environment: r.in.Config.Environment, Author: r.author(),
		Timeout: orDefault(r.i.BootstrapTimeout, 5*time.Minute), PollInterval: 2 * time.Second,
	}, st)
}

func (r *run) convergeTitle() string {
	if r.repo == nil {
		return "Waiting for Flux to apply every layer: " + strings.Join(r.layerNames(), " → ")
	}
	head, _ := r.head()
	return fmt.Sprintf("Waiting for Flux to apply %s: %s", short(head), strings.Join(r.layerNames(), ", "))
}

func (r *run) layerNames() []string {
	if r.layers != nil {
		return r.layers
	}
	return []string{gitops.FluxName, "(the layers of the render)"}
}

func (r *run) convergeDone(ctx context.Context) (string, error) {
	if _, err := r.head(); err != nil {
		return "", err
	}
	done, err := gitops.Converged(ctx, r.c, r.layers, r.rev)
	if err != nil || done == "" {
		return "", nil
	}
	if r.states, err = gitops.Converge(ctx, r.c, gitops.ConvergeOptions{Names: r.layers, Revision: r.rev, Timeout: time.Minute}, status.Discard()); err != nil {
		return "", nil
	}
	return done, nil
}

func (r *run) converge(ctx context.Context, st *status.Status) error {
	start := time.Now()
	states, err := gitops.Converge(ctx, r.c, gitops.ConvergeOptions{Names: r.layers, Revision: r.rev, Timeout: orDefault(r.i.Timeout, 30*time.Minute)}, st)
	r.states, r.converged = states, time.Since(start)
	return err
}
