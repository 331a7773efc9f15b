package render

import (
	"fmt"
	"strings"
)

// The rendered repository carries its own guardrails: operators who edit it get the checks the
// appliance's git server runs on every push (docs-appliance validate, offline) before they
// commit (pre-commit) and in their CI (a POSIX shell step any CI runs).

const (
	preCommitFile  = ".pre-commit-config.yaml"
	ciValidateFile = "ci/validate.sh"
)

func preCommitConfig(train string) []byte {
	return []byte(fmt.Sprintf(`# Checks the repository before each commit, offline, as the appliance's git server does on
# every push: `+"`pre-commit install`"+` once, then every `+"`git commit`"+` runs it.
# Written by docs-appliance render.
repos:
  - repo: local
    hooks:
      - id: docs-appliance-validate
        name: docs-appliance validate
        entry: docs-appliance validate --train %s
        language: system
        pass_filenames: false
        always_run: true
`, train))
}

func ciValidateScript(train string) []byte {
	return []byte(strings.ReplaceAll(`#!/bin/sh
# CI step: validate the desired-state repository offline, as the appliance's git server does on
# every push. Any CI runs it from a checkout: sh ci/validate.sh
#   DOCS_APPLIANCE     the docs-appliance binary (default: docs-appliance on PATH)
#   SOPS_AGE_KEY_FILE  an age key file: every encrypted file must also decrypt with it
# Exit code 0 when the repository is clean, 1 on any finding (each with its file and fix).
# Written by docs-appliance render.
set -eu
cd "$(dirname "$0")/.."
set -- validate --train TRAIN
if [ -n "${SOPS_AGE_KEY_FILE:-}" ]; then
	set -- "$@" --age-key "$SOPS_AGE_KEY_FILE"
fi
exec "${DOCS_APPLIANCE:-docs-appliance}" "$@" .
`, "TRAIN", train))
}

// guardrailsReadme is the README's section on the checks.
func guardrailsReadme(train string) string {
	return "\n## Checks before Flux applies a change\n\n" +
		"`docs-appliance validate --train " + train + " .` checks this repository offline: every Flux Kustomization\n" +
		"builds, every object matches its kind's schema, Secrets are SOPS-encrypted, Jobs are forced,\n" +
		"`dependsOn` is sound, images are pinned by digest and in the train, and the repository's\n" +
		"Kyverno policies pass (`--age-key FILE` also decrypts every secret). Each finding names the\n" +
		"file, the object and the fix; the exit code is 1 on any.\n\n" +
		"- before each commit: `pre-commit install` (uses `" + preCommitFile + "`);\n" +
		"- in CI: `sh " + ciValidateFile + "` (set `DOCS_APPLIANCE` to the binary, `SOPS_AGE_KEY_FILE` to decrypt);\n" +
		"- on every push to the appliance's own git server, which refuses a push that does not pass and\n" +
		"  prints the findings. A push can skip it only knowingly, and the server logs who and why:\n" +
		"  `git push -o docs-appliance.skip-validation=\"REASON\"`.\n"
}

// IsManifest reports whether a rendered file holds Kubernetes objects: YAML beside kustomize's
// own files and the tools' configuration (.sops.yaml, .pre-commit-config.yaml).
func IsManifest(p string) bool {
	return strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, "kustomization.yaml") && p != ".sops.yaml" && p != preCommitFile
}
