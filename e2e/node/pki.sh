#!/bin/bash
# Generates the node's throwaway PKI into $RUN/pki: a CA, a certificate per component, the service
# account key pair, and kubeconfigs (inside the namespace, and $RUN/kubeconfig for the host through
# the loopback forwarder). Keys and kubeconfigs are 0600. Existing files are kept.
set -euo pipefail
. "$(dirname "$0")/params.sh"

mkdir -p "$PKI"
chmod 0700 "$PKI"
cd "$PKI"
umask 077
# ECDSA P-256 keys: as good as RSA here and far quicker to make on a busy machine.
key() { [ -f "$1.key" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
if [ ! -f ca.crt ]; then
	key ca
	openssl req -x509 -new -key ca.key -subj "/CN=docs-appliance-e2e-ca" -days 3650 -out ca.crt 2>/dev/null
fi
sign() { # NAME SUBJECT [SANS]
	[ -f "$1.crt" ] && return 0
	key "$1"
	openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
	if [ -n "${3:-}" ]; then
		printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" >"$1.ext"
	else
		printf 'extendedKeyUsage=clientAuth\n' >"$1.ext"
	fi
	openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}
sign apiserver "/CN=kube-apiserver" \
	"DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$SERVICE_IP,IP:$NODE_IP"
sign admin "/O=system:masters/CN=docs-appliance-e2e-admin"
sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
sign kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "DNS:$NODE_NAME,IP:$NODE_IP"
sign controller-manager "/CN=system:kube-controller-manager"
sign scheduler "/CN=system:kube-scheduler"
sign kube-proxy "/CN=system:kube-proxy"
if [ ! -f sa.key ]; then
	key sa
	openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
fi
kubeconfig() { # FILE USER SERVER
	cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: docs-appliance-e2e
  cluster:
    certificate-authority: $PKI/ca.crt
    server: $3
users:
- name: $2
  user:
    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key
contexts:
- name: docs-appliance-e2e
  context: {cluster: docs-appliance-e2e, user: $2}
current-context: docs-appliance-e2e
KC
	chmod 0600 "$1"
}
for n in admin kubelet controller-manager scheduler kube-proxy; do kubeconfig "$PKI/$n.kubeconfig" "$n" "https://$NODE_IP:6443"; done
kubeconfig "$RUN/kubeconfig" admin "https://127.0.0.1:$API_PORT"
chmod 0644 ./*.crt sa.pub
