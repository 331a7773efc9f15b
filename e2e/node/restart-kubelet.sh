#!/bin/bash
# restart-kubelet.sh: restarts node INDEX's kubelet (1: the control plane's node; 2, 3, ...: a
# worker of worker.sh) the way systemd restarts k3s, whose unit kills only the k3s process
# (KillMode=process): the kubelet ends on SIGTERM, containerd and the containers keep running, a
# new kubelet starts on the same state. It waits for the new kubelet's healthz and the node Ready.
# This is the e2e's stand-in for what a k3s upgrade does to a node (k3s cannot run here).
set -Eeuo pipefail
. "$(dirname "$0")/params.sh"
B=$KUBE_KIT
[ "$(id -u)" = 0 ] || die "the e2e node needs root (network namespaces)"
case ${INDEX:-} in [1-9] | [1-9][0-9]) ;; *) die "INDEX must be the node's number, 1 to 99 (got '${INDEX:-}')" ;; esac
export PATH=$B:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CP_NS=$NS CP_PKI=$PKI
if [ "$INDEX" != 1 ]; then
	NS=$CP_NS-n$INDEX RUN=$RUN/nodes/n$INDEX NODE_NAME=$NODE_NAME-$INDEX NODE_IP=10.240.0.$INDEX
	PKI=$RUN/pki
fi
. "$NODE_SRC/kubelet.sh"
[ -f "$RUN/pids/kubelet" ] || die "node $NODE_NAME has no kubelet to restart"
K() { nsenter --net="/run/netns/$CP_NS" "$B/kubectl" --kubeconfig="$CP_PKI/admin.kubeconfig" "$@"; }
healthy() { N curl -sf http://127.0.0.1:10248/healthz && [ "$(K get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]; }

p=$(cat "$RUN/pids/kubelet")
kill -TERM "$p" 2>/dev/null || true
until_ok "kubelet of $NODE_NAME stopped" 30 bash -c "! kill -0 $p"
start_kubelet
until_ok "kubelet of $NODE_NAME back and the node Ready" 120 healthy
log "kubelet of $NODE_NAME restarted in $(ms)"
