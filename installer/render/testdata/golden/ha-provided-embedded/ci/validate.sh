#!/bin/sh
# CI step: validate the desired-state repository offline, as the appliance's git server does on
# every push. Any CI runs it from a checkout: sh ci/validate.sh
#   DOCS_APPLIANCE     the docs-appliance binary (default: docs-appliance on PATH)
#   SOPS_AGE_KEY_FILE  an age key file: every encrypted file must also decrypt with it
# Exit code 0 when the repository is clean, 1 on any finding (each with its file and fix).
# Written by docs-appliance render.
set -eu
cd "$(dirname "$0")/.."
set -- validate --train 2030.01
if [ -n "${SOPS_AGE_KEY_FILE:-}" ]; then
	set -- "$@" --age-key "$SOPS_AGE_KEY_FILE"
fi
exec "${DOCS_APPLIANCE:-docs-appliance}" "$@" .
