#!/bin/bash
# Builds the Kubernetes kit from the Go module proxy alone, into a cache folder keyed by versions.
#
#   build-kube.sh envtest   etcd, kube-apiserver, kubectl              (the envtest tier)
#   build-kube.sh node      the above + kubelet, kube-controller-manager, kube-scheduler,
#                           kube-proxy, and containerd, containerd-shim-runc-v2, ctr
#
# Only missing binaries are built, so a second run returns at once, and a node build after an
# envtest build adds the rest. Prints the kit folders (KUBE_KIT=..., CONTAINERD_KIT=...) on stdout.
# Cold on 2 idle cores: envtest ~15 min, node ~25 min. Set KIT_GOCACHE to keep the compile cache.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tier=${1:-node}
case $tier in
envtest) kube_cmds=(kube-apiserver kubectl) ;;
node) kube_cmds=(kube-apiserver kubectl kubelet kube-controller-manager kube-scheduler kube-proxy) ;;
*) die "unknown tier $tier (want envtest or node)" ;;
esac
ctrd_cmds=(containerd containerd-shim-runc-v2 ctr)

need_apt git openssl ca-certificates
[ "$tier" = node ] && need_apt runc containernetworking-plugins iptables conntrack socat curl util-linux iproute2 kmod

done_already() {
	all_present "$KUBE_KIT" etcd "${kube_cmds[@]}" || return 1
	[ "$tier" = envtest ] || all_present "$CONTAINERD_KIT" "${ctrd_cmds[@]}"
}
report() { echo "KUBE_KIT=$KUBE_KIT"; [ "$tier" = envtest ] || echo "CONTAINERD_KIT=$CONTAINERD_KIT"; }
if done_already; then log "cached ($tier): $KUBE_KIT"; report; exit 0; fi
take_lock "$CACHE_ROOT/.kit.lock"
if done_already; then log "built meanwhile ($tier)"; report; exit 0; fi
new_workdir

# 1) Kubernetes: a throwaway main module requiring k8s.io/kubernetes; its staging modules
#    (replaced by ./staging/... in its own go.mod) pinned to the published v0.<minor>.<patch>.
missing=()
for c in "${kube_cmds[@]}"; do [ -x "$KUBE_KIT/$c" ] || missing+=("$c"); done
if [ ${#missing[@]} -gt 0 ]; then
	log "building Kubernetes v$KUBERNETES: ${missing[*]}"
	minor=${KUBERNETES#1.}; minor=${minor%%.*}
	mkdir -p "$WORK/kube" && cd "$WORK/kube"
	printf 'module tmp/kube\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes v%s\n' "$KUBERNETES" >go.mod
	kmod=$(go mod download -json "k8s.io/kubernetes@v$KUBERNETES" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
	[ -n "$kmod" ] || die "downloading k8s.io/kubernetes@v$KUBERNETES"
	{
		echo "replace ("
		awk -v v="v0.${KUBERNETES#1.}" '/=> \.\/staging/ {print "\t" $1 " => " $1 " " v}' "$kmod"
		echo ")"
	} >>go.mod
	{
		printf '//go:build tools\n\npackage tools\n\nimport (\n'
		for c in "${missing[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
		printf ')\n'
	} >tools.go
	go mod tidy
	ver="-X k8s.io/component-base/version.gitVersion=v$KUBERNETES -X k8s.io/component-base/version.gitMajor=1"
	ver="$ver -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=v$KUBERNETES"
	ver="$ver -X k8s.io/component-base/version.gitTreeState=clean"
	pkgs=(); for c in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
	mkdir -p "$WORK/bin"
	# One go build for all commands: they share most packages and build in parallel.
	go build -trimpath -ldflags "-s -w $ver" -o "$WORK/bin/" "${pkgs[@]}"
	for c in "${missing[@]}"; do install_bin "$WORK/bin/$c" "$KUBE_KIT/$c"; done
	"$KUBE_KIT/kube-apiserver" --version | grep "v$KUBERNETES" >/dev/null || die "kube-apiserver reports $("$KUBE_KIT/kube-apiserver" --version)"
	log "Kubernetes built"
fi

# 2) etcd: a two-line main around etcdmain, the same entry point as the etcd binary.
if [ ! -x "$KUBE_KIT/etcd" ]; then
	log "building etcd v$ETCD"
	mkdir -p "$WORK/etcd" && cd "$WORK/etcd"
	printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' >main.go
	printf 'module tmp/etcd\n\ngo 1.26.0\n' >go.mod
	go get "go.etcd.io/etcd/server/v3@v$ETCD"
	go mod tidy
	go build -trimpath -ldflags "-s -w" -o "$WORK/etcd/etcd" .
	install_bin "$WORK/etcd/etcd" "$KUBE_KIT/etcd"
	log "etcd built"
fi

# 3) containerd 2.x (Debian's 1.6 is too old for a 1.37 kubelet), its runc shim, and ctr.
if [ "$tier" = node ] && ! all_present "$CONTAINERD_KIT" "${ctrd_cmds[@]}"; then
	log "building containerd v$CONTAINERD"
	mkdir -p "$WORK/ctrd" && cd "$WORK/ctrd"
	printf '//go:build tools\n\npackage tools\n\nimport (\n' >tools.go
	for c in "${ctrd_cmds[@]}"; do printf '\t_ "github.com/containerd/containerd/v2/cmd/%s"\n' "$c" >>tools.go; done
	printf ')\n' >>tools.go
	printf 'module tmp/ctrd\n\ngo 1.26.0\n' >go.mod
	go get "github.com/containerd/containerd/v2@v$CONTAINERD"
	go mod tidy
	pkgs=(); for c in "${ctrd_cmds[@]}"; do pkgs+=("github.com/containerd/containerd/v2/cmd/$c"); done
	mkdir -p "$WORK/ctrd/bin"
	go build -trimpath -tags "no_btrfs no_devmapper no_zfs" \
		-ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=v$CONTAINERD" \
		-o "$WORK/ctrd/bin/" "${pkgs[@]}"
	for c in "${ctrd_cmds[@]}"; do install_bin "$WORK/ctrd/bin/$c" "$CONTAINERD_KIT/$c"; done
	log "containerd built"
fi

log "kit ready ($tier): $(du -sh "$KUBE_KIT" | cut -f1) in $KUBE_KIT"
report
