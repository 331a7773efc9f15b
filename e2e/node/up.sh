#!/bin/bash
# Brings up a one-node Kubernetes inside network namespace $NS: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, containerd, kubelet, kube-proxy (and CoreDNS when its
# image is built). Nothing listens outside the namespace except the API forwarder on
# 127.0.0.1:$API_PORT. Leftovers of an earlier node of the same name are removed first; on failure
# the logs' tails are printed and everything is taken down again (KEEP_ON_FAILURE=1 keeps it).
# Writes $RUN/kubeconfig (host) and $RUN/pki/admin.kubeconfig (inside the namespace).
# Parameters: see params.sh; the kit folders come from e2e/kit/lib.sh (DOCS_APPLIANCE_KUBE_KIT, DOCS_APPLIANCE_CACHE).
set -Eeuo pipefail
. "$(dirname "$0")/params.sh"
B=$KUBE_KIT C=$CONTAINERD_KIT
for b in etcd kube-apiserver kubectl kubelet kube-controller-manager kube-scheduler kube-proxy; do
	[ -x "$B/$b" ] || die "$B/$b is missing: run \`make node-kit\`"
done
for b in containerd containerd-shim-runc-v2 ctr; do
	[ -x "$C/$b" ] || die "$C/$b is missing: run \`make node-kit\`"
done
[ "$(id -u)" = 0 ] || die "the e2e node needs root (network namespaces, mounts, cgroups)"
need_apt runc containernetworking-plugins iptables conntrack socat openssl iproute2 util-linux curl procps
for t in runc nsenter socat ip iptables curl; do command -v $t >/dev/null || die "$t is not installed"; done
[ -x /usr/lib/cni/bridge ] || die "/usr/lib/cni/bridge missing (containernetworking-plugins)"

export PATH=$C:$B:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
. "$NODE_SRC/kubelet.sh"

"$NODE_SRC/down.sh" >/dev/null 2>&1 || true   # leftovers of a crashed run
failed() {
	local rc=$?
	log "node-up failed (exit $rc); last log lines:"
	for f in "$RUN"/logs/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }; done
	if [ "${KEEP_ON_FAILURE:-0}" != 1 ]; then "$NODE_SRC/down.sh" >&2 || true; fi
	exit $rc
}
trap failed ERR

mkdir -p "$RUN"/{etcd,logs,pids,cni,containerd,kubelet,pod-logs}
chmod 0700 "$RUN"
"$NODE_SRC/pki.sh"

# --- the network namespace is the node's machine ----------------------------------------------
ip netns add "$NS"
ip -n "$NS" link set lo up
# No dummy netdev here: a veth pair with both ends inside gives the node a non-loopback IP and a
# default route that leads nowhere.
ip -n "$NS" link add node0 type veth peer name node0-peer
ip -n "$NS" addr add "$NODE_IP/24" dev node0
ip -n "$NS" link set node0 up
ip -n "$NS" link set node0-peer up
ip -n "$NS" route add default dev node0
N sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.ipv4.conf.all.route_localnet=1

# --- a cgroup (v1) subtree for everything the kubelet runs -------------------------------------
make_cgroups

# --- control plane ---------------------------------------------------------------------------
P=$PKI
start etcd "$B/etcd" --data-dir="$RUN/etcd" --unsafe-no-fsync \
	--listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
	--listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
	--initial-cluster=default=http://127.0.0.1:2380 --listen-metrics-urls=http://127.0.0.1:2381
start kube-apiserver "$B/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
	--bind-address=0.0.0.0 --secure-port=6443 --advertise-address="$NODE_IP" \
	--client-ca-file="$P/ca.crt" --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" \
	--service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$P/sa.pub" \
	--service-account-signing-key-file="$P/sa.key" --service-cluster-ip-range="$SERVICE_CIDR" \
	--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true \
	--kubelet-client-certificate="$P/apiserver-kubelet-client.crt" --kubelet-client-key="$P/apiserver-kubelet-client.key" \
	--kubelet-preferred-address-types=InternalIP --cert-dir="$RUN/apiserver-certs"
apiserver_ready() { alive kube-apiserver && N curl -sf --cacert "$P/ca.crt" --cert "$P/admin.crt" --key "$P/admin.key" "https://$NODE_IP:6443/readyz"; }
until_ok "apiserver ready" 120 apiserver_ready

start kube-controller-manager "$B/kube-controller-manager" --kubeconfig="$P/controller-manager.kubeconfig" \
	--authentication-kubeconfig="$P/controller-manager.kubeconfig" --authorization-kubeconfig="$P/controller-manager.kubeconfig" \
	--bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials \
	--service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
	--cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" \
	--service-cluster-ip-range="$SERVICE_CIDR" ${NODE_MONITOR_GRACE:+--node-monitor-grace-period=$NODE_MONITOR_GRACE}
start kube-scheduler "$B/kube-scheduler" --kubeconfig="$P/scheduler.kubeconfig" \
	--authentication-kubeconfig="$P/scheduler.kubeconfig" --authorization-kubeconfig="$P/scheduler.kubeconfig" \
	--bind-address=127.0.0.1 --leader-elect=false

# --- host access: a loopback forwarder into the namespace --------------------------------------
# socat listens on the host; each connection runs api-connect, which enters the namespace and
# connects to the API server (a script, so no address has to survive socat's own parsing).
printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s socat STDIO TCP:%s:6443\n' "$NS" "$NODE_IP" >"$RUN/api-connect"
chmod 0700 "$RUN/api-connect"
(exec setsid socat "TCP-LISTEN:$API_PORT,bind=127.0.0.1,reuseaddr,fork" "EXEC:$RUN/api-connect" \
	>"$RUN/logs/api-forwarder.log" 2>&1 </dev/null) &
echo $! >"$RUN/pids/api-forwarder"

# --- containerd (CRI) --------------------------------------------------------------------------
write_containerd_config
start_containerd

# --- images: the pause image and whatever the caller brings -------------------------------------
import_images

# --- kubelet and kube-proxy --------------------------------------------------------------------
CA_CRT=$P/ca.crt KUBE_PROXY_KUBECONFIG=$P/kube-proxy.kubeconfig
write_node_configs
start_kubelet
start_kube_proxy

K() { N "$B/kubectl" --kubeconfig="$P/admin.kubeconfig" "$@"; }
all_alive() { local c; for c in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy api-forwarder; do alive $c || return 1; done; }
node_ready() { all_alive && [ "$(K get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
until_ok "node Ready" 180 node_ready
host_api() { curl -sf --cacert "$P/ca.crt" --cert "$P/admin.crt" --key "$P/admin.key" "https://127.0.0.1:$API_PORT/readyz"; }
until_ok "API reachable from the host on 127.0.0.1:$API_PORT" 30 host_api

# --- cluster DNS -------------------------------------------------------------------------------
coredns_image="docs-appliance.test/coredns:$COREDNS"
if [ "$DNS" = auto ]; then
	if images_here | awk '{print $1}' | grep -x "$coredns_image" >/dev/null; then DNS=1; else DNS=0; fi
fi
if [ "$DNS" = 1 ]; then
	sed -e "s#@IMAGE@#$coredns_image#g" -e "s#@DNS_IP@#$DNS_IP#g" "$NODE_SRC/coredns.yaml" | K apply -f - >/dev/null
	dns_ready() { all_alive && K -n kube-system rollout status deployment/coredns --timeout=2s; }
	until_ok "cluster DNS available" 120 dns_ready
else
	log "no cluster DNS (the CoreDNS image $coredns_image was not imported)"
fi
all_alive
trap - ERR
log "node $NODE_NAME up in $(ms); kubeconfig: $RUN/kubeconfig"
