#!/bin/bash
# Builds the Flux controllers the appliance installs (source-, kustomize-, notification-controller)
# from the Go module proxy and packs each as an image under the name the pinned flux2 install
# manifests use (ghcr.io/fluxcd/<controller>:<tag>), so those manifests run unchanged on the e2e
# node. Output: $FLUX_IMAGES/<controller>.tar, cached by the versions built.
#
# Recipe: download the controller module, copy it somewhere writable, point its
# `replace .../api => ./api` at the published api module of the same version (nested modules are not
# in the module zip), apply the replacements versions.env lists for modules the proxy refuses,
# tidy, build static. `go install MOD@VER` refuses their replace directives.
# A tag whose module version the proxy refuses is built from the nearest served version
# (versions.env: FLUX_*_TAG vs FLUX_*_BUILD), and said so here.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

controllers=(source-controller kustomize-controller notification-controller)
tag_of() { local k=FLUX_${1//-/_}; k=${k^^}_TAG; echo "${!k}"; }
build_of() { local k=FLUX_${1//-/_}; k=${k^^}_BUILD; echo "${!k}"; }
replaces_of() { local k=FLUX_${1//-/_}; k=${k^^}_REPLACE; echo "${!k:-}"; }
done_already() {
	local c
	for c in "${controllers[@]}"; do [ -f "$FLUX_IMAGES/$c.tar" ] || return 1; done
}
if done_already; then log "cached: $FLUX_IMAGES"; echo "FLUX_IMAGES=$FLUX_IMAGES"; exit 0; fi
take_lock "$CACHE_ROOT/.flux.lock"
if done_already; then log "built meanwhile: $FLUX_IMAGES"; echo "FLUX_IMAGES=$FLUX_IMAGES"; exit 0; fi
need_apt ca-certificates
new_workdir
repo=$(cd "$KIT_SRC/../.." && pwd)
# The packer, built once with the repository's own go.mod.
(cd "$repo" && go build -o "$WORK/pack" ./e2e/images/pack)

for c in "${controllers[@]}"; do
	out=$FLUX_IMAGES/$c.tar
	[ -f "$out" ] && continue
	tag=$(tag_of "$c") ver=$(build_of "$c")
	[ "$tag" = "$ver" ] || log "$c: $tag is not served by the module proxy; building $ver and tagging it $tag"
	log "building $c $ver"
	mod=github.com/fluxcd/$c
	dir=$(go mod download -json "$mod@$ver" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
	[ -n "$dir" ] || die "downloading $mod@$ver"
	src=$WORK/$c
	cp -r "$dir" "$src"
	chmod -R u+w "$src"
	cd "$src"
	go mod edit -dropreplace="$mod/api" -require="$mod/api@$ver"
	for r in $(replaces_of "$c"); do
		log "$c: replace $r (see versions.env)"
		go mod edit -replace="$r"
	done
	# -e: modules only the controller's tests import (e.g. fluxcd/pkg/helmtestserver) may be
	# refused by the proxy; the program itself must still build below.
	go mod tidy -e
	go build -trimpath -ldflags "-s -w" -o "$WORK/$c.bin" .
	"$WORK/pack" -tag "ghcr.io/fluxcd/$c:$tag" -out "$out" -user 65534:65534 \
		-entrypoint "/usr/local/bin/$c" \
		-file "/usr/local/bin/$c=$WORK/$c.bin:0755" \
		-file "/etc/ssl/certs/ca-certificates.crt=/etc/ssl/certs/ca-certificates.crt:0644"
	cd "$WORK"
	rm -rf "$src" "$WORK/$c.bin"
	log "$c image: $out ($(du -h "$out" | cut -f1))"
done
echo "FLUX_IMAGES=$FLUX_IMAGES"
