#!/bin/bash
# Takes down what up.sh started and leaves nothing behind: the components (by recorded PID, with
# everything in their sessions), the pods' containers and shims, mounts under $RUN, the network
# namespace and the CNI namespaces the node made, the cgroup subtree, and $RUN itself
# (KEEP_LOGS=1 keeps $RUN/logs). Further nodes (worker.sh: namespaces $NS-n<i>, state under
# $RUN/nodes) go first, each with this same script. Safe to run twice, or after a crash.
set -uo pipefail
. "$(dirname "$0")/params.sh"
B=$KUBE_KIT C=$CONTAINERD_KIT

# stop NAME... sends SIGTERM to the components' sessions at once, waits up to 5 s for them all,
# then SIGKILLs what is left.
stop() {
	local n p i pids=()
	for n in "$@"; do
		[ -f "$RUN/pids/$n" ] || continue
		p=$(cat "$RUN/pids/$n")
		rm -f "$RUN/pids/$n"
		kill -0 "$p" 2>/dev/null || continue
		kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null
		pids+=("$p")
	done
	[ ${#pids[@]} -eq 0 ] && return 0
	for i in $(seq 50); do
		left=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left=1; done
		[ $left = 0 ] && break
		sleep 0.1
	done
	for p in "${pids[@]}"; do
		kill -KILL -- "-$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	return 0
}
have_ns() { [ -e "/run/netns/$NS" ]; }

if [ -d "$RUN/pids" ] && have_ns; then
	stop kube-controller-manager kube-scheduler api-forwarder # nothing re-creates pods now
	if [ -f "$PKI/admin.kubeconfig" ] && [ -x "$B/kubectl" ]; then
		# Let the kubelet stop pods cleanly: it unmounts volumes and tears down pod networks.
		timeout 30 nsenter --net="/run/netns/$NS" "$B/kubectl" --kubeconfig="$PKI/admin.kubeconfig" \
			delete pods --all -A --grace-period=1 --wait --timeout=20s >/dev/null 2>&1
	fi
fi
# Further nodes, found by their namespaces and state folders (a crashed run left either).
workers() {
	[ "${DOWN_WORKER:-0}" = 1 ] && return 0
	local f
	for f in /run/netns/"$NS"-n[0-9]* "$RUN"/nodes/n[0-9]*; do
		[ -e "$f" ] && echo "${f##*-n}" | sed 's#.*/n##'
	done | sort -un
}
for i in $(workers); do # side by side; what is left is reported below
	NS=$NS-n$i RUN=$RUN/nodes/n$i NODE_NAME=$NODE_NAME-$i DOWN_WORKER=1 bash "$0" &
done
wait
stop kubelet kube-proxy
sock=$RUN/containerd/containerd.sock
if [ -S "$sock" ] && [ -x "$C/ctr" ] && have_ns; then
	# Whatever the kubelet could not stop: kill the tasks through containerd itself.
	ctr() { timeout 20 nsenter --net="/run/netns/$NS" "$C/ctr" -a "$sock" -n k8s.io "$@"; }
	for t in $(ctr tasks ls -q 2>/dev/null); do ctr tasks kill -s KILL "$t" >/dev/null 2>&1; done
	sleep 0.5
	for t in $(ctr tasks ls -q 2>/dev/null); do ctr tasks rm -f "$t" >/dev/null 2>&1; done
fi
stop containerd
# The shims of this node's containerd (they outlive it by design), then any process still in the
# node's cgroups (containers whose shim died).
for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $sock" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
for f in /sys/fs/cgroup/*/"$NS"; do
	[ -d "$f" ] || continue
	find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | while read -r p; do kill -KILL "$p" 2>/dev/null; done
done
stop kube-apiserver etcd
# Any component whose pid file was lost: processes run from this node's state folder.
for p in $(pgrep -f -- "$RUN/" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done

# Mounts (overlay snapshots, pod volumes, shm, netns bind mounts), deepest first.
for i in 1 2 3; do
	mps=$(awk -v r="$RUN/" 'index($2, r) == 1 {print $2}' /proc/self/mounts | sort -r)
	[ -z "$mps" ] && break
	for m in $mps; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
done
# The pods' network namespaces are bind mounts under $RUN (containerd's
# netns_mounts_under_state_dir), so the unmounting above released them; nothing under
# /run/netns is touched but the node's own namespace, since other nodes may run beside this one.
have_ns && ip netns del "$NS"
# The cgroup subtree, leaves first (rmdir works on empty cgroups only).
for c in /sys/fs/cgroup/*/"$NS"; do
	[ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
done

if [ "${KEEP_LOGS:-0}" = 1 ] && [ -d "$RUN/logs" ]; then
	find "$RUN" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} + 2>/dev/null
else
	rm -rf "$RUN" 2>/dev/null
fi

# Report what is left, if anything: the caller (the harness) fails on it.
left=()
have_ns && left+=("network namespace $NS")
for f in /run/netns/"$NS"-n[0-9]*; do [ -e "$f" ] && [ "${DOWN_WORKER:-0}" != 1 ] && left+=("network namespace ${f##*/}"); done
for c in /sys/fs/cgroup/*/"$NS"; do [ -d "$c" ] && left+=("cgroup $c"); done
if [ "${DOWN_WORKER:-0}" != 1 ]; then
	for c in /sys/fs/cgroup/*/"$NS"-n[0-9]*; do [ -d "$c" ] && left+=("cgroup $c"); done
fi
awk -v r="$RUN/" 'index($2, r) == 1 {found=1} END {exit !found}' /proc/self/mounts && left+=("mounts under $RUN")
pgrep -f -- "$RUN/" >/dev/null 2>&1 && left+=("processes using $RUN")
if [ ${#left[@]} -gt 0 ]; then
	log "left behind: ${left[*]}"
	exit 1
fi
log "node $NODE_NAME down"
