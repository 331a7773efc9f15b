package validate

import (
	"fmt"
	"sort"
	"strings"
)

// Rule ids, stable: scripts and tests match on them, never on messages.
const (
	RuleYAML             = "yaml"
	RuleBuild            = "kustomize-build"
	RulePath             = "kustomization-path"
	RuleDependsOnMissing = "depends-on-missing"
	RuleDependsOnCycle   = "depends-on-cycle"
	RuleUnknownKind      = "schema-unknown-kind"
	RuleUnknownField     = "schema-unknown-field"
	RuleSchema           = "schema-invalid"
	RuleSecretPlain      = "secret-not-encrypted"
	RuleSecretDecrypt    = "secret-decrypt"
	RuleSecretInPlain    = "secret-value-in-plain-file"
	RuleJobForce         = "job-force"
	RuleImageDigest      = "image-digest"
	RuleImageTrain       = "image-not-in-train"
	// RuleKyvernoPrefix starts the id of a Kyverno rule's finding: kyverno/POLICY/RULE.
	RuleKyvernoPrefix = "kyverno/"
)

// Finding is one problem of the repository.
type Finding struct {
	// File is the file the object comes from, relative to the repository root.
	File string `json:"file"`
	// Object is "Kind namespace/name" (or "Kind name" when cluster-scoped); empty for a
	// problem of the file itself.
	Object  string `json:"object,omitempty"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

// Report is what a validation found.
type Report struct {
	Dir   string `json:"dir"`
	Train string `json:"train,omitempty"`
	// Kustomizations are the Flux Kustomizations built, as namespace/name: path.
	Kustomizations []string `json:"kustomizations"`
	Files          int      `json:"files"`
	Objects        int      `json:"objects"`
	// Decrypted counts the encrypted files that were decrypted (only with age keys).
	Decrypted int `json:"decrypted"`
	// NotEvaluated lists the policy rules of the repository this evaluator cannot run offline.
	NotEvaluated []string  `json:"notEvaluated,omitempty"`
	Findings     []Finding `json:"findings"`
}

func (r *Report) add(f Finding) { r.Findings = append(r.Findings, f) }

// finish sorts and deduplicates the findings.
func (r *Report) finish() {
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Message < b.Message
	})
	out := r.Findings[:0]
	for i, f := range r.Findings {
		if i > 0 && f == r.Findings[i-1] {
			continue
		}
		out = append(out, f)
	}
	r.Findings = out
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	sort.Strings(r.NotEvaluated)
}

// Rules lists the rule ids of the findings, each once.
func (r *Report) Rules() []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range r.Findings {
		if !seen[f.Rule] {
			seen[f.Rule] = true
			out = append(out, f.Rule)
		}
	}
	sort.Strings(out)
	return out
}

// Text is the report for a terminal or a git push: one block per finding.
func (r *Report) Text() string {
	var b strings.Builder
	train := ", no train given: images checked for a digest only"
	if r.Train != "" {
		train = ", train " + r.Train
	}
	fmt.Fprintf(&b, "validated %s: %d Flux Kustomizations, %d files, %d objects%s\n", r.Dir, len(r.Kustomizations), r.Files, r.Objects, train)
	for _, n := range r.NotEvaluated {
		fmt.Fprintf(&b, "  not evaluated offline: %s\n", n)
	}
	for _, f := range r.Findings {
		where := f.File
		if f.Object != "" {
			where += ": " + f.Object
		}
		fmt.Fprintf(&b, "\n%s [%s]\n  %s\n  fix: %s\n", where, f.Rule, f.Message, f.Fix)
	}
	if len(r.Findings) == 0 {
		b.WriteString("no findings\n")
	} else {
		fmt.Fprintf(&b, "\n%d findings\n", len(r.Findings))
	}
	return b.String()
}

// Err is nil for a clean repository, a *FailedError otherwise.
func (r *Report) Err() error {
	if len(r.Findings) == 0 {
		return nil
	}
	return &FailedError{Findings: len(r.Findings), Rules: r.Rules()}
}

// ExitFailed is the exit code of a validation that found something.
const ExitFailed = 1

// FailedError says the validation ran and found problems (the report lists them).
type FailedError struct {
	Findings int
	Rules    []string
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("the repository does not validate: %d findings (%s)", e.Findings, strings.Join(e.Rules, ", "))
}

// ExitCode is the process exit code the command ends with.
func (e *FailedError) ExitCode() int { return ExitFailed }
