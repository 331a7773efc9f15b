package supportbundle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

// learnLocal registers the values to hide that this machine knows: the
// secret store's (in use and kept aside), the age key, the caller's, the
// kubeconfig's credentials and k3s's join tokens.
func (b *bundle) learnLocal(opts Options) error {
	if err := b.learnStore(opts.StateDir, opts.WithoutSecretStore); err != nil {
		return err
	}
	names := make([]string, 0, len(opts.Secrets))
	for n := range opts.Secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b.r.AddSecret("secret-store "+n, opts.Secrets[n])
		b.man.Redaction.SearchedNames++
	}
	if opts.Kube != nil {
		cfg := opts.Kube.Config
		b.learnCredential("kubeconfig token", cfg.BearerToken, cfg.BearerTokenFile)
		b.learnCredential("kubeconfig password", cfg.Password, "")
		b.learnCredential("kubeconfig client key", string(cfg.KeyData), cfg.KeyFile)
	}
	if h := opts.Host; h != nil && h.DataDir != "" {
		for _, f := range []string{"server/token", "server/node-token", "server/agent-token"} {
			data, err := h.Root.ReadFile(filepath.Join(h.DataDir, f))
			if err == nil {
				b.learnCredential("k3s "+f, strings.TrimSpace(string(data)), "")
			}
		}
	}
	return nil
}

// learnCredential registers a credential given inline or as a file.
func (b *bundle) learnCredential(label, inline, file string) {
	if inline == "" && file != "" {
		if data, err := os.ReadFile(file); err == nil {
			inline = strings.TrimSpace(string(data))
		}
	}
	if inline == "" {
		return
	}
	b.r.AddSecret(label, inline)
	b.man.Redaction.SearchedNames++
}

// learnStore opens the secret store read-only with the age key beside it.
// A store that exists but cannot be opened stops the bundle unless the
// caller accepts a bundle without its values (without).
func (b *bundle) learnStore(stateDir string, without bool) error {
	if stateDir == "" {
		b.man.Redaction.SecretStore = "no state folder given: no secret store read"
		return nil
	}
	keyPath := filepath.Join(stateDir, secrets.KeyFileName)
	storePath := filepath.Join(stateDir, secrets.StoreFileName)
	_, storeErr := os.Stat(storePath)
	id, keyErr := secrets.LoadKey(keyPath)
	if keyErr == nil {
		b.r.AddSecret("age key", id.String())
	}
	refuse := func(err error) error {
		if without {
			b.man.Redaction.SecretStore = fmt.Sprintf("not read (%v): its values are hidden only where the cluster's Secrets hold them", err)
			return nil
		}
		return fmt.Errorf("%w: %w (fix: run as the user who can read %s, or restore the age key from its backup; "+
			"to write a bundle anyway, whose redaction then knows only the cluster's Secrets, pass --support-bundle-without-secret-store)",
			ErrSecretStore, err, keyPath)
	}
	switch {
	case errors.Is(storeErr, fs.ErrNotExist):
		b.man.Redaction.SecretStore = "no secret store in " + stateDir
		return nil
	case storeErr != nil:
		return refuse(fmt.Errorf("reading secret store %s: %w", storePath, storeErr))
	case keyErr != nil:
		return refuse(keyErr)
	}
	store, err := secrets.OpenStoreReadOnly(stateDir)
	if err != nil {
		return refuse(err)
	}
	vals := store.Values()
	for _, v := range vals {
		label := "secret-store " + v.Name
		if v.Aside {
			label += " (kept aside)"
		}
		b.r.AddSecret(label, v.Value)
	}
	b.man.Redaction.SearchedNames += len(vals)
	b.man.Redaction.SecretStore = fmt.Sprintf("read: %d values searched for", len(vals))
	return nil
}
