package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"filippo.io/age"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/installer/validate"
)

// Validate checks a desired-state repository offline: a folder (a checkout, a render's --out), or
// a clone of RepoURL made for the check and removed after it.
type Validate struct {
	// Dir is the repository's folder; empty with RepoURL.
	Dir string
	// RepoURL is cloned (anonymously: a public, file:// or local repository) when Dir is empty;
	// Branch is its branch (default main).
	RepoURL, Branch string
	// AgeKeyFile, when set, decrypts every encrypted file.
	AgeKeyFile string
	// Train gives the images that may run; nil checks pins by digest only.
	Train *bundles.Train
	// Report is the result.
	Report *validate.Report
}

// ErrNothingToValidate says neither a folder nor a repository URL was given.
var ErrNothingToValidate = errors.New("nothing to validate: give the repository's folder (a checkout, render's --out) or --repo URL")

// Run validates; the report's Err is the verdict.
func (v *Validate) Run(ctx context.Context) error {
	var keys []*age.X25519Identity
	if v.AgeKeyFile != "" {
		id, err := secrets.LoadKey(v.AgeKeyFile)
		if err != nil {
			return fmt.Errorf("--age-key: %w", err)
		}
		keys = append(keys, id)
	}
	dir := v.Dir
	switch {
	case dir != "" && v.RepoURL != "":
		return errors.New("validating: give a folder or --repo, not both")
	case dir == "" && v.RepoURL == "":
		return ErrNothingToValidate
	case dir == "":
		tmp, err := os.MkdirTemp("", "docs-appliance-validate-")
		if err != nil {
			return fmt.Errorf("making a folder for the clone: %w", err)
		}
		defer os.RemoveAll(tmp)
		branch := v.Branch
		if branch == "" {
			branch = "main"
		}
		_, err = gogit.PlainCloneContext(ctx, tmp, false, &gogit.CloneOptions{
			URL: v.RepoURL, ReferenceName: plumbing.NewBranchReferenceName(branch), SingleBranch: true, Depth: 1,
		})
		if err != nil {
			return fmt.Errorf("cloning %s (branch %s) to validate it: %w", redact(v.RepoURL), branch, err)
		}
		dir = tmp
	}
	o := validate.Options{Train: v.Train, FluxManifests: gitops.FluxManifests, FluxVersions: fluxVersions()}
	if len(keys) > 0 {
		o.Decrypt = AgeDecrypter(keys...)
	}
	rep, err := validate.Run(ctx, dir, o)
	if err != nil {
		return err
	}
	if v.Dir == "" {
		rep.Dir = redact(v.RepoURL)
	}
	v.Report = rep
	return nil
}

// AgeDecrypter is validate's Decrypt with age keys (SOPS, as Flux decrypts).
func AgeDecrypter(ids ...*age.X25519Identity) func([]byte) ([]byte, error) {
	return func(data []byte) ([]byte, error) {
		plain, err := secrets.Decrypt(data, ids...)
		if errors.Is(err, secrets.ErrNotDecryptable) {
			return nil, fmt.Errorf("%w: %w", validate.ErrWrongKey, err)
		}
		return plain, err
	}
}

// fluxVersions are the Flux releases of the embedded trains, whose CRDs are known when no train
// is given.
func fluxVersions() []string {
	cat, err := bundles.LoadEmbedded()
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range cat.Names() {
		if t, err := cat.Get(n); err == nil && !seen[t.Flux.Version] {
			seen[t.Flux.Version] = true
			out = append(out, t.Flux.Version)
		}
	}
	return out
}

// redact drops credentials from a URL for messages.
func redact(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
			return u[:i+3] + "***@" + rest[at+1:]
		}
	}
	return u
}
