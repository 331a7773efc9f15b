# Parameters of the e2e node, shared by up.sh, down.sh and pki.sh. Sourced, never run.
# Every one can be set in the environment; the Go harness (e2e/node) sets them all.
. "$(dirname "${BASH_SOURCE[0]}")/../kit/lib.sh"

NS=${NS:-docs-e2e}                      # network namespace: the node's "machine"
NODE_NAME=${NODE_NAME:-e2e-node}
NODE_IP=${NODE_IP:-10.240.0.1}          # on a veth inside the namespace
API_PORT=${API_PORT:-16443}             # host loopback port forwarded to the API server
SERVICE_CIDR=${SERVICE_CIDR:-10.96.0.0/16}
SERVICE_IP=${SERVICE_IP:-10.96.0.1}     # the kubernetes Service
DNS_IP=${DNS_IP:-10.96.0.10}
POD_CIDR=${POD_CIDR:-10.244.0.0/24}      # this node's pods; further nodes take 10.244.<i-1>.0/24
CLUSTER_CIDR=${CLUSTER_CIDR:-$POD_CIDR}  # every node's pods (kube-proxy); 10.244.0.0/16 with further nodes
NODE_MONITOR_GRACE=${NODE_MONITOR_GRACE:-} # controller-manager --node-monitor-grace-period; empty: upstream's default
RUN=${RUN:-${TMPDIR:-/tmp}/docs-appliance-node-$NS}   # all state; removed by down.sh
IMAGES=${IMAGES:-}                      # image tarballs or folders of them to import
DNS=${DNS:-auto}                        # deploy CoreDNS: 1, 0, or auto (when its image is built)
PKI=$RUN/pki
NODE_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# N runs a command inside the node's network namespace (nsenter --net keeps the host's mounts,
# unlike ip netns exec).
N() { nsenter --net="/run/netns/$NS" "$@"; }
