package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/suitenumerique/docs-appliance/installer/gitops"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

func secretsChecks() []Check {
	return []Check{
		{ID: "secrets-decrypt", Group: "secrets", Title: "every encrypted file decrypts with the local age key", Run: checkDecrypt},
		{ID: "secrets-cluster-key", Group: "secrets", Title: "the cluster decrypts with the same age key", Run: checkClusterKey},
		{ID: "secrets-key-backup", Group: "secrets", Title: "an offline copy of the age key is confirmed", Run: checkKeyBackup},
	}
}

func keyMissing(e *Env) (Finding, bool) {
	if e.AgeKey != nil {
		return Finding{}, false
	}
	fix := "put the appliance's age key back at " + filepath.Join(e.StateDir, secrets.KeyFileName) + " (mode 0600) from its offline copy"
	if e.AgeKeyErr != nil {
		return Unreachable("reading the age key", e.AgeKeyErr, fix), true
	}
	return Fail(fix, "no age key"), true
}

// encryptedFiles lists the repository's SOPS files: YAML with a top-level
// sops: section, wherever they are.
func encryptedFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" && ext != ".json" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte("\nsops:")) || bytes.HasPrefix(data, []byte("sops:")) || bytes.Contains(data, []byte(`"sops":`)) {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

func checkDecrypt(_ context.Context, e *Env) Finding {
	if f, missing := keyMissing(e); missing {
		return f
	}
	if e.Repo == nil {
		return Fail(repoFix(e), "the repository could not be read: %v", e.RepoErr)
	}
	files, err := encryptedFiles(e.Repo.Dir)
	if err != nil {
		return Fail(repoFix(e), "listing the repository's encrypted files: %v", err)
	}
	if len(files) == 0 {
		return Fail("run docs-appliance install again: it writes the appliance's secrets encrypted into the repository", "no encrypted file in the repository")
	}
	var bad []string
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err == nil {
			_, err = secrets.Decrypt(data, e.AgeKey)
		}
		if err != nil {
			rel, _ := filepath.Rel(e.Repo.Dir, p)
			bad = append(bad, fmt.Sprintf("%s (%s)", filepath.ToSlash(rel), firstLine(err.Error())))
		}
	}
	if len(bad) > 0 {
		return Fail("a damaged file is restored from Git's history: git revert the commit that changed it, or run docs-appliance install --non-interactive to write every secret afresh from the secret store",
			"%d of %d encrypted file(s) do not decrypt: %s", len(bad), len(files), limitList(bad, 5))
	}
	return Pass("%d encrypted file(s) decrypt with %s", len(files), shortKey(e.AgeKey.Recipient().String()))
}

func shortKey(r string) string {
	if len(r) > 16 {
		return r[:10] + "…" + r[len(r)-6:]
	}
	return r
}

func checkClusterKey(ctx context.Context, e *Env) Finding {
	if f, missing := keyMissing(e); missing {
		return f
	}
	if f, down := kubeDown(e); down {
		return f
	}
	err := gitops.CheckAgeKey(ctx, e.Kube, e.AgeKey, filepath.Join(e.StateDir, secrets.KeyFileName))
	var mismatch *gitops.AgeKeyMismatchError
	switch {
	case errors.As(err, &mismatch):
		return Fail("the secrets in Git are encrypted for the local key: run docs-appliance install --non-interactive to give the cluster the same key",
			"the cluster's key %s is not the local key %s", shortKey(mismatch.Cluster), shortKey(mismatch.Local))
	case err != nil:
		return apiError("reading the cluster's age key", err)
	}
	if _, err := e.Kube.Kube.CoreV1().Secrets(gitops.FluxNamespace).Get(ctx, gitops.SOPSSecret, metav1.GetOptions{}); err != nil {
		return Fail("run docs-appliance install --non-interactive: it gives Flux the key", "Flux has no age key (%s/%s): %v", gitops.FluxNamespace, gitops.SOPSSecret, err)
	}
	return Pass("Flux decrypts with the local key %s", shortKey(e.AgeKey.Recipient().String()))
}

func checkKeyBackup(_ context.Context, e *Env) Finding {
	if f, missing := keyMissing(e); missing {
		return f
	}
	fix := "copy " + filepath.Join(e.StateDir, secrets.KeyFileName) + " somewhere off this server (a password manager, a safe), then run docs-appliance key confirm-backup"
	kb, err := secrets.ReadKeyBackup(e.StateDir)
	if err != nil {
		return Warn(fix, "%v", err)
	}
	rec := e.AgeKey.Recipient().String()
	switch {
	case kb == nil:
		return Warn(fix, "no offline copy of the age key is confirmed: without it, no backup can be restored if this server is lost")
	case kb.Recipient != rec:
		return Warn(fix, "the confirmed copy is of another key (%s), not the one in use (%s)", shortKey(kb.Recipient), shortKey(rec))
	}
	return Pass("offline copy of %s confirmed %s", shortKey(rec), strings.TrimSuffix(kb.ConfirmedAt.Format("2006-01-02"), ""))
}
