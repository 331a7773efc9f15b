package wizard

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/probe"
)

// VerifyError lists every answer a live check refused.
type VerifyError struct {
	Problems []Problem
}

// Problem is one refused answer: the config field and the reason.
type Problem struct {
	Field  string
	Reason string
}

func (e *VerifyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "checking the answers against the real services: %d refused:", len(e.Problems))
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  - %s: %s", p.Field, p.Reason)
	}
	return b.String()
}

// Verify runs, without prompting, the live checks the wizard runs on a
// config that already passed cfg.Validate: every host name resolves; an
// external OpenID provider, bucket, repository and SMTP relay accept the
// config and its secrets (secret looks them up by store name), an
// external backup target takes a write under its prefix; the
// provider's endpoints still match the ones saved. Nothing is changed: a
// missing bucket or versioning that is off is reported, not fixed. The
// reachability proof is not run (it needs port 80, which a running
// appliance holds). All refusals are returned together as *VerifyError.
func Verify(ctx context.Context, cfg *config.Config, secret func(name string) (string, bool), checks Checks) error {
	var probs []Problem
	add := func(field string, err error) {
		var need *probe.ConsentNeeded
		if errors.As(err, &need) {
			err = fmt.Errorf("%s (run `docs-appliance configure` to be asked, or do it at the provider)", need.Error())
		}
		probs = append(probs, Problem{Field: field, Reason: err.Error()})
	}
	get := func(name string) string {
		v, _ := secret(name)
		return v
	}
	for i, h := range cfg.Hosts() {
		field := "domain"
		if i > 0 {
			field = fmt.Sprintf("extraDomains[%d]", i-1)
		}
		if _, err := checks.Domain(ctx, h, false); err != nil {
			add(field, err)
		}
	}
	if cfg.Identity.Mode == config.External {
		rep, err := checks.OIDC(ctx, cfg.Identity, get("identity.clientSecret"))
		switch {
		case err != nil:
			add("identity", err)
		case rep.Endpoints != cfg.Identity.Endpoints:
			add("identity.endpoints", fmt.Errorf("the provider's discovery document now states %+v, the config holds %+v: run `docs-appliance configure` to read them again", rep.Endpoints, cfg.Identity.Endpoints))
		}
	}
	if cfg.Storage.Mode == config.External {
		if _, err := checks.S3(ctx, cfg.Storage, get("storage.accessKeyID"), get("storage.secretAccessKey"), probe.S3Consent{}); err != nil {
			add("storage", err)
		}
	}
	if loc := cfg.BackupLocation(); !loc.Embedded {
		id, key := config.SecretBackupAccessKeyID, config.SecretBackupSecretAccessKey
		if _, own := secret(key); !own && cfg.BackupSharesStorageBucket() {
			// Not copied yet (the store copies on its next save).
			id, key = "storage.accessKeyID", "storage.secretAccessKey"
		}
		if _, err := checks.Backup(ctx, loc, get(id), get(key)); err != nil {
			add("backup", err)
		}
	}
	if cfg.Git.Mode == config.GitExternal {
		name := "git.token"
		if cfg.Git.Auth == config.GitAuthSSH {
			name = "git.sshKey"
		}
		if _, err := checks.Git(ctx, cfg.Git, get(name)); err != nil {
			add("git", err)
		}
	}
	if cfg.SMTP.Enabled() {
		if _, err := checks.SMTP(ctx, cfg.SMTP, get("smtp.password"), ""); err != nil {
			add("smtp", err)
		}
	}
	if len(probs) > 0 {
		return &VerifyError{Problems: probs}
	}
	return nil
}
