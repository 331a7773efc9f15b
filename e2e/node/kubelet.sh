# The parts of a node every node runs, control plane or not: the component starter, containerd
# with its CNI config, image import, kubelet and kube-proxy. Sourced by up.sh and worker.sh after
# params.sh (they set NS, RUN, PKI, NODE_NAME, NODE_IP, POD_CIDR, CLUSTER_CIDR, B, C); never run.

ms() { echo "$(($(date +%s%N) / 1000000 - START_MS))ms"; }
START_MS=$(($(date +%s%N) / 1000000))

# start NAME ARGV... runs a component in the namespace, in its own session (so down.sh can end
# it with everything it forked), logging to $RUN/logs/NAME.log; the pid file holds its real pid.
start() {
	local name=$1
	shift
	(exec setsid nsenter --net="/run/netns/$NS" "$@" >>"$RUN/logs/$name.log" 2>&1 </dev/null) &
	echo $! >"$RUN/pids/$name"
}
# until_ok WHAT SECONDS CMD... polls CMD every 0.2 s.
until_ok() {
	local what=$1 limit=$(($(date +%s) + $2))
	shift 2
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$limit" ] || { log "timed out waiting for $what"; return 1; }
		sleep 0.2
	done
	log "$what $(ms)"
}
alive() { kill -0 "$(cat "$RUN/pids/$1")" 2>/dev/null || { log "$1 exited"; return 1; }; }

# make_cgroups makes the node's cgroup (v1) subtree for everything its kubelet runs.
make_cgroups() {
	local c
	for c in /sys/fs/cgroup/*/; do
		case $c in */unified/) continue ;; esac
		mkdir -p "${c}$NS"
	done
	if [ -d /sys/fs/cgroup/cpuset ]; then
		cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$NS/cpuset.cpus"
		cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$NS/cpuset.mems"
	fi
}

# write_containerd_config writes containerd's config and the CNI bridge of POD_CIDR.
write_containerd_config() {
	cat >"$RUN/containerd.toml" <<TOML
version = 3
root = "$RUN/containerd/root"
state = "$RUN/containerd/state"
[grpc]
  address = "$RUN/containerd/containerd.sock"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = "$PAUSE_IMAGE"
[plugins.'io.containerd.cri.v1.runtime']
  # root here lacks CAP_SYS_RESOURCE: the kubelet's negative oom_score_adj would make runc fail
  restrict_oom_score_adj = true
  # Pod network namespaces under $RUN, not /run/netns: down.sh then finds exactly this node's.
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "$RUN/cni"
[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
# NRI's socket defaults to one path for the whole host: two nodes' containerds starting at once
# race for it ("bind: address already in use") and one dies.
[plugins.'io.containerd.nri.v1.nri']
  socket_path = "$RUN/containerd/nri.sock"
TOML
	cat >"$RUN/cni/10-bridge.conflist" <<JSON
{"cniVersion":"1.0.0","name":"docs-e2e","plugins":[
 {"type":"bridge","bridge":"cni0","isGateway":true,"ipMasq":false,"hairpinMode":true,
  "ipam":{"type":"host-local","dataDir":"$RUN/cni-ipam","ranges":[[{"subnet":"$POD_CIDR"}]],"routes":[{"dst":"0.0.0.0/0"}]}},
 {"type":"portmap","capabilities":{"portMappings":true}}]}
JSON
}

start_containerd() {
	start containerd "$C/containerd" --config "$RUN/containerd.toml"
	CTR=("$C/ctr" -a "$RUN/containerd/containerd.sock" -n k8s.io)
	until_ok "containerd up" 30 N "${CTR[@]}" version
}

images_here() { N "${CTR[@]}" images ls 2>/dev/null; } # listed whole: grep -q closing early would fail pipefail

# import_images imports $IMAGES (tarballs, or folders of them) and checks the pause image is in.
import_images() {
	local imported=0 src t
	for src in $IMAGES; do
		if [ -d "$src" ]; then set -- "$src"/*.tar; else set -- "$src"; fi
		for t in "$@"; do
			[ -f "$t" ] || continue
			# ctr warns about cgroup v1 on every call: keep its output for a failure only.
			N "${CTR[@]}" images import --platform linux/amd64 "$t" >"$RUN/logs/import.log" 2>&1 ||
				{ cat "$RUN/logs/import.log" >&2; die "importing $t"; }
			imported=$((imported + 1))
		done
	done
	# Name every tagged image by digest too (REPO@sha256:...), as a registry pull would: the kubelet
	# then lists that name in the node's status, and pods pinned by digest find the image here.
	images_here | awk '$3 ~ /^sha256:/ && $1 !~ /@/ && $1 !~ /^sha256:/ { n = split($1, p, "/"); if (p[n] ~ /:/) print $1, $3 }' |
		while read -r ref digest; do
			N "${CTR[@]}" images tag --force "$ref" "${ref%:*}@$digest" >/dev/null 2>&1 || die "naming $ref by digest"
		done
	log "imported $imported image tarballs $(ms)"
	images_here | awk '{print $1}' | grep -x "$PAUSE_IMAGE" >/dev/null || die "the pause image $PAUSE_IMAGE was not imported (pass it in IMAGES)"
}

# write_node_configs writes the kubelet's and kube-proxy's configs; KUBELET_PKI holds the
# kubelet's CA and serving pair, KUBE_PROXY_KUBECONFIG is kube-proxy's.
write_node_configs() {
	cat >"$RUN/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
healthzBindAddress: 127.0.0.1
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: $CA_CRT}}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
cgroupRoot: /$NS
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$RUN/containerd/containerd.sock
podLogsDir: $RUN/pod-logs
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
YAML
	cat >"$RUN/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $KUBE_PROXY_KUBECONFIG}
mode: iptables
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clusterCIDR: $CLUSTER_CIDR
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
}

start_kubelet() {
	start kubelet "$B/kubelet" --config="$RUN/kubelet.yaml" --kubeconfig="$PKI/kubelet.kubeconfig" \
		--root-dir="$RUN/kubelet" --cert-dir="$RUN/kubelet/pki" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP"
}
start_kube_proxy() { start kube-proxy "$B/kube-proxy" --config="$RUN/kube-proxy.yaml"; }
