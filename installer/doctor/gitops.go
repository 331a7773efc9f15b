package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/gitops"
)

func gitopsChecks() []Check {
	return []Check{
		{ID: "gitops-repository", Group: "gitops", Title: "the desired-state repository can be read", Run: checkRepository},
		{ID: "gitops-source", Group: "gitops", Title: "Flux fetched the repository's HEAD", Run: checkSource},
		{ID: "gitops-kustomizations", Group: "gitops", Title: "every layer applied at HEAD", Run: checkKustomizations},
		{ID: "gitops-suspended", Group: "gitops", Title: "nothing suspended", Run: checkSuspended},
		{ID: "gitops-drift", Group: "gitops", Title: "the cluster matches Git (no change behind Flux's back)", Timeout: 30e9, Run: checkDrift},
	}
}

// repoFix says how to get the repository back; the in-cluster git
// server is restored by a rerun of install, whose bootstrap step
// re-applies it.
func repoFix(e *Env) string {
	if e.Config != nil && e.Config.Git.Mode == "external" {
		return "check that " + e.Config.Git.URL + " answers and that the appliance's credentials still work (docs-appliance configure checks them live)"
	}
	return "the appliance's git server is not answering: run docs-appliance install --non-interactive again (a rerun restores it), then doctor"
}

func checkRepository(_ context.Context, e *Env) Finding {
	if e.Repo == nil {
		if e.RepoErr != nil {
			return Unreachable("reading the desired-state repository", e.RepoErr, repoFix(e))
		}
		return Fail(repoFix(e), "the desired-state repository was not read")
	}
	return Pass("HEAD %s by %s, %s: %s", short(e.Repo.Head), e.Repo.Author, e.Repo.When.UTC().Format("2006-01-02 15:04 UTC"), firstLine(e.Repo.Message))
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// revisionHash is the commit of a Flux revision ("main@sha1:abc…").
func revisionHash(rev string) string {
	if i := strings.LastIndex(rev, ":"); i >= 0 {
		return rev[i+1:]
	}
	return rev
}

func checkSource(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	src, err := gitops.ReadSource(ctx, e.Kube)
	if err != nil {
		return apiError("reading Flux's source", err)
	}
	if !src.Ready {
		return Fail(repoFix(e), "Flux cannot fetch %s: %s", src.URL, orText(strings.TrimSpace(src.Reason+": "+src.Message), "not ready"))
	}
	if e.Repo == nil {
		return Warn(repoFix(e), "Flux fetched %s, but the repository could not be read to compare", short(revisionHash(src.Revision)))
	}
	if revisionHash(src.Revision) != e.Repo.Head {
		return Warn("wait a minute (Flux fetches every minute), or ask it now: docs-appliance install --non-interactive",
			"Flux has %s, the repository's HEAD is %s", short(revisionHash(src.Revision)), short(e.Repo.Head))
	}
	return Pass("Flux fetched HEAD %s", short(e.Repo.Head))
}

func checkKustomizations(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	ks, err := gitops.ListKustomizations(ctx, e.Kube)
	if err != nil {
		return apiError("reading Flux's layers", err)
	}
	if len(ks) == 0 {
		return Fail("run docs-appliance install: the hand-over to Flux has not happened", "no Flux Kustomization")
	}
	head := ""
	if e.Repo != nil {
		head = e.Repo.Head
	}
	var failed, behind []string
	for _, k := range ks {
		switch {
		case !k.Ready:
			failed = append(failed, fmt.Sprintf("%s: %s", k.Name, orText(strings.TrimSpace(k.Reason+" "+firstLine(k.Message)), "not ready")))
		case head != "" && revisionHash(k.Applied) != head:
			behind = append(behind, fmt.Sprintf("%s at %s", k.Name, short(revisionHash(k.Applied))))
		}
	}
	sort.Strings(failed)
	if len(failed) > 0 {
		return Fail("read the reason above; a change that broke it is undone with git revert of its commit (the repository's log names each change), then Flux applies the revert",
			"%d of %d layer(s) not applied: %s", len(failed), len(ks), strings.Join(failed, "; "))
	}
	if len(behind) > 0 {
		return Warn("wait for Flux (it applies within its retry interval), then run doctor again", "behind HEAD %s: %s", short(head), strings.Join(behind, ", "))
	}
	return Pass("%d layer(s) Ready at %s", len(ks), short(head))
}

func checkSuspended(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	var names []string
	if src, err := gitops.ReadSource(ctx, e.Kube); err == nil && src.Suspended {
		names = append(names, "the source "+gitops.FluxName)
	}
	ks, err := gitops.ListKustomizations(ctx, e.Kube)
	if err != nil {
		return apiError("reading Flux's layers", err)
	}
	for _, k := range ks {
		if k.Suspended {
			names = append(names, "layer "+k.Name)
		}
	}
	if len(names) > 0 {
		return Warn("when the maintenance is over, resume it: flux resume kustomization NAME (or kubectl -n flux-system patch kustomization NAME --type merge -p '{\"spec\":{\"suspend\":false}}')",
			"suspended, so changes in Git are not applied: %s", strings.Join(names, ", "))
	}
	return Pass("nothing suspended (%d layer(s))", len(ks))
}
