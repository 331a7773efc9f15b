#!/bin/bash
# Fetches the upstream CRDs of the pinned versions (connected machine) into $CRDS_OUT, one folder
# per component and tag, as the schema tests read them through CRDS_DIR. The files are upstream data:
# they are cached, never committed. Each line: folder, GitHub repository, tag, paths in the archive.
set -euo pipefail
out=${CRDS_OUT:?CRDS_OUT=folder to fill}
mkdir -p "$out"
while read -r folder repo tag paths; do
	[ -z "$folder" ] || [ "${folder:0:1}" = "#" ] && continue
	dest="$out/$folder"
	[ -d "$dest" ] && { echo "cached: $dest"; continue; }
	tmp=$(mktemp -d)
	echo "fetching $repo@$tag"
	curl -fsSL "https://codeload.github.com/$repo/tar.gz/refs/tags/$tag" | tar -xz -C "$tmp"
	mkdir -p "$dest.partial"
	for p in ${paths//,/ }; do
		# shellcheck disable=SC2086 # the glob is meant to expand
		cp $tmp/*/$p "$dest.partial/"
	done
	mv "$dest.partial" "$dest"
	rm -rf "$tmp"
done <<'LIST'
flux-source-controller-v1.9.1        fluxcd/source-controller           v1.9.1   config/crd/bases/*.yaml
flux-kustomize-controller-v1.9.4     fluxcd/kustomize-controller        v1.9.4   config/crd/bases/*.yaml
flux-notification-controller-v1.9.3  fluxcd/notification-controller     v1.9.3   config/crd/bases/*.yaml
gateway-api-v1.6.1/standard          kubernetes-sigs/gateway-api        v1.6.1   config/crd/standard/*.yaml
gateway-api-v1.6.1/experimental      kubernetes-sigs/gateway-api        v1.6.1   config/crd/experimental/*.yaml
envoy-gateway-v1.9.0                 envoyproxy/gateway                 v1.9.0   charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_*.yaml
cert-manager-v1.21.1                 cert-manager/cert-manager          v1.21.1  deploy/crds/*.yaml
cloudnative-pg-v1.30.0               cloudnative-pg/cloudnative-pg      v1.30.0  config/crd/bases/*.yaml
plugin-barman-cloud-v0.14.0          cloudnative-pg/plugin-barman-cloud v0.14.0  config/crd/bases/*.yaml
redis-operator-v0.26.0               OT-CONTAINER-KIT/redis-operator    v0.26.0  config/crd/bases/*.yaml
keycloak-operator-26.0.0             keycloak/keycloak-k8s-resources    26.0.0   kubernetes/keycloaks.k8s.keycloak.org-v1.yml,kubernetes/keycloakrealmimports.k8s.keycloak.org-v1.yml
prometheus-operator-v0.93.0          prometheus-operator/prometheus-operator v0.93.0 example/prometheus-operator-crd/*.yaml
kyverno-v1.19.0                      kyverno/kyverno                    v1.19.0  config/crds/kyverno/*.yaml,config/crds/policies.kyverno.io/*.yaml,config/crds/policyreport/*.yaml,config/crds/reports/*.yaml
LIST
echo "CRDs in $out"
