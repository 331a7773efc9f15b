# Shared by the e2e/kit build scripts: versions, cache folders, apt, locking, timing.
# Sourced, never run. Callers set -euo pipefail themselves.

KIT_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$KIT_SRC/versions.env"

CACHE_ROOT=${DOCS_APPLIANCE_CACHE:-$HOME/.cache/docs-appliance}
# Folder names carry every version their content depends on.
KUBE_KIT=${DOCS_APPLIANCE_KUBE_KIT:-$CACHE_ROOT/kube-$KUBERNETES-etcd-$ETCD}
CONTAINERD_KIT=$CACHE_ROOT/containerd-$CONTAINERD
COREDNS_KIT=$CACHE_ROOT/coredns-$COREDNS
FLUX_IMAGES=$CACHE_ROOT/flux-images-source-$FLUX_SOURCE_CONTROLLER_BUILD-kustomize-$FLUX_KUSTOMIZE_CONTROLLER_BUILD-notification-$FLUX_NOTIFICATION_CONTROLLER_BUILD

T0=$(date +%s)
log() { printf '[%s +%ss] %s\n' "${0##*/}" "$(($(date +%s) - T0))" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# need_apt PKG... installs the Debian packages that are missing (apt-get update once, first).
need_apt() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep 'install ok installed' >/dev/null || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || die "missing Debian packages ${missing[*]}: run as root or install them"
	log "installing Debian packages: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# all_present DIR NAME... is true when every NAME is an executable file in DIR.
all_present() {
	local d=$1 n; shift
	for n in "$@"; do [ -x "$d/$n" ] || return 1; done
}

# take_lock FILE serialises builds of one cache folder (two make targets, two shells).
take_lock() {
	mkdir -p "$(dirname "$1")"
	exec 9>"$1"
	if ! flock -n 9; then
		log "waiting for another build holding $1"
		flock 9
	fi
}

# new_workdir makes a scratch folder (sources, a private GOCACHE) removed on exit:
# a Kubernetes build leaves ~6 GB of compile cache that nothing else reuses.
new_workdir() {
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/docs-appliance-kit.XXXXXX")
	trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
	export GOCACHE=${KIT_GOCACHE:-$WORK/gocache}
	export GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOTOOLCHAIN=local
	# Module cache folders stay writable, so a cache clean-up can remove them.
	export GOFLAGS="$GOFLAGS -modcacherw"
}

# install_bin SRC DIR/NAME moves a built binary into the cache atomically.
install_bin() {
	mkdir -p "$(dirname "$2")"
	cp "$1" "$2.tmp.$$" && chmod 0755 "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2"
}
CNPG_KIT=$CACHE_ROOT/cnpg-$CNPG-barman-cloud-$BARMAN_CLOUD-pg$POSTGRES_MAJOR-$POSTGRES_DEBIAN_SUITE
