#!/bin/bash
# worker.sh up|stop|start: node INDEX (2, 3, ...) of the cluster whose control plane up.sh runs in
# $NS: a kubelet, containerd and kube-proxy in a network namespace of its own ($NS-n$INDEX, node
# name $NODE_NAME-$INDEX, IP 10.240.0.$INDEX, pods 10.244.$((INDEX-1)).0/24), its state under
# $RUN/nodes/n$INDEX (so down.sh of the control plane finds it).
#
# The network is a star: the node's veth peer lives in the control plane's namespace, which routes
# between the nodes' IPs and pod networks (ip_forward there), so a pod on one node reaches a pod
# on any other, and a Service backed by it.
#
#   up     makes the node (certificate, namespace, links, routes, cgroups, images) and starts it
#   stop   loses the node as a machine is lost: its kubelet, kube-proxy, containerd and every
#          container are SIGKILLed (by recorded PID, its shims, its cgroups), its link goes down
#   start  brings a stopped node back (link, routes, the same components on the same state)
# Each waits for what it changes (node Ready after up and start); down.sh takes nodes down.
set -Eeuo pipefail
. "$(dirname "$0")/params.sh"
B=$KUBE_KIT C=$CONTAINERD_KIT
[ "$(id -u)" = 0 ] || die "the e2e node needs root (network namespaces, mounts, cgroups)"
case ${INDEX:-} in [2-9] | [1-9][0-9]) ;; *) die "INDEX must be the node's number, 2 to 99 (got '${INDEX:-}')" ;; esac
[ $# = 1 ] || die "usage: worker.sh up|stop|start"
export PATH=$C:$B:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

CP_NS=$NS CP_PKI=$PKI CP_IP=$NODE_IP
NS=$CP_NS-n$INDEX
RUN=$RUN/nodes/n$INDEX
PKI=$RUN/pki
NODE_NAME=$NODE_NAME-$INDEX
NODE_IP=10.240.0.$INDEX
POD_CIDR=10.244.$((INDEX - 1)).0/24
LINK=n$INDEX # the node's link, in the control plane's namespace
. "$NODE_SRC/kubelet.sh"
failed() {
	local rc=$?
	log "worker.sh $ACTION of node $NODE_NAME failed (exit $rc); last log lines:"
	for f in "$RUN"/logs/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }; done
	exit $rc
}
ACTION=$1
trap failed ERR
CP() { nsenter --net="/run/netns/$CP_NS" "$@"; }
K() { CP "$B/kubectl" --kubeconfig="$CP_PKI/admin.kubeconfig" "$@"; }
node_ready() { alive containerd && alive kubelet && alive kube-proxy && [ "$(K get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]; }

# routes_to_node: the control plane reaches the node's IP and its pods over LINK (the routes go
# with the link when it goes down).
routes_to_node() {
	CP ip link set "$LINK" up
	CP ip route replace "$NODE_IP/32" dev "$LINK" src "$CP_IP"
	CP ip route replace "$POD_CIDR" via "$NODE_IP" dev "$LINK"
}

start_components() {
	start_containerd
	start_kubelet
	start_kube_proxy
	until_ok "node $NODE_NAME Ready" 180 node_ready
}

up() {
	[ -e "/run/netns/$CP_NS" ] || die "the control plane's namespace $CP_NS is not there: run up.sh first"
	[ ! -e "/run/netns/$NS" ] || die "node $NS is already there: take the cluster down (down.sh) first"
	mkdir -p "$RUN"/{logs,pids,cni,containerd,kubelet,pod-logs} "$PKI"
	chmod 0700 "$RUN" "$PKI"
	# The kubelet's identity (system:node:NAME, for the Node authorizer), signed by the cluster's CA.
	(
		umask 077
		cd "$PKI"
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out kubelet.key 2>/dev/null
		openssl req -new -key kubelet.key -subj "/O=system:nodes/CN=system:node:$NODE_NAME" -out kubelet.csr 2>/dev/null
		printf 'subjectAltName=DNS:%s,IP:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$NODE_NAME" "$NODE_IP" >kubelet.ext
		openssl x509 -req -in kubelet.csr -CA "$CP_PKI/ca.crt" -CAkey "$CP_PKI/ca.key" -CAcreateserial -CAserial "$PKI/ca.srl" \
			-days 3650 -extfile kubelet.ext -out kubelet.crt 2>/dev/null
		rm -f kubelet.csr kubelet.ext
		chmod 0644 kubelet.crt
		cat >kubelet.kubeconfig <<KC
apiVersion: v1
kind: Config
clusters:
- name: docs-appliance-e2e
  cluster: {certificate-authority: $CP_PKI/ca.crt, server: "https://$CP_IP:6443"}
users:
- name: kubelet
  user: {client-certificate: $PKI/kubelet.crt, client-key: $PKI/kubelet.key}
contexts:
- name: docs-appliance-e2e
  context: {cluster: docs-appliance-e2e, user: kubelet}
current-context: docs-appliance-e2e
KC
	)

	ip netns add "$NS"
	ip -n "$NS" link set lo up
	ip link add "$LINK" netns "$CP_NS" type veth peer name node0 netns "$NS"
	ip -n "$NS" addr add "$NODE_IP/32" dev node0
	ip -n "$NS" link set node0 up
	ip -n "$NS" route add "$CP_IP/32" dev node0
	ip -n "$NS" route add default via "$CP_IP" dev node0
	N sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.ipv4.conf.all.route_localnet=1
	CP sysctl -qw net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.$LINK.rp_filter=0"
	routes_to_node
	make_cgroups

	write_containerd_config
	CA_CRT=$CP_PKI/ca.crt KUBE_PROXY_KUBECONFIG=$CP_PKI/kube-proxy.kubeconfig
	write_node_configs
	start_containerd
	import_images
	start_kubelet
	start_kube_proxy
	until_ok "node $NODE_NAME Ready" 180 node_ready
	log "node $NODE_NAME up in $(ms)"
}

# kill_session NAME SIGKILLs a component's session, by its recorded PID.
kill_session() {
	local p
	[ -f "$RUN/pids/$1" ] || return 0
	p=$(cat "$RUN/pids/$1")
	kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
}

stop() {
	[ -d "$RUN/pids" ] || die "node $NODE_NAME is not up"
	CP ip link set "$LINK" down # first: from now on nothing reaches the node, as with a dead machine
	kill_session kubelet
	kill_session kube-proxy
	kill_session containerd
	local sock=$RUN/containerd/containerd.sock p f
	for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $sock" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
	for f in /sys/fs/cgroup/*/"$NS"; do
		[ -d "$f" ] || continue
		find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | while read -r p; do kill -KILL "$p" 2>/dev/null || true; done
	done
	for f in kubelet kube-proxy containerd; do
		p=$(cat "$RUN/pids/$f")
		until_ok "$f of $NODE_NAME gone" 10 bash -c "! kill -0 $p"
	done
	log "node $NODE_NAME lost $(ms)"
}

restart() {
	[ -d "$RUN/pids" ] || die "node $NODE_NAME is not up"
	routes_to_node
	start_components
	log "node $NODE_NAME back in $(ms)"
}

case $1 in
up) up ;;
stop) stop ;;
start) restart ;;
*) die "usage: worker.sh up|stop|start" ;;
esac
