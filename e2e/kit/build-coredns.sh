#!/bin/bash
# Builds CoreDNS from the Go module proxy as a minimal custom binary (only the plugins cluster DNS
# needs: kubernetes, cache, errors, health, ready, loadbalance, log, whoami) and packs it as the
# image docs-appliance.test/coredns:$COREDNS, into $COREDNS_KIT/coredns.tar. Cached by version.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=$COREDNS_KIT/coredns.tar
if [ -f "$out" ]; then log "cached: $out"; echo "COREDNS_KIT=$COREDNS_KIT"; exit 0; fi
take_lock "$CACHE_ROOT/.coredns.lock"
if [ -f "$out" ]; then log "built meanwhile: $out"; echo "COREDNS_KIT=$COREDNS_KIT"; exit 0; fi
need_apt ca-certificates
new_workdir
repo=$(cd "$KIT_SRC/../.." && pwd)

log "building CoreDNS v$COREDNS"
mkdir -p "$WORK/coredns" && cd "$WORK/coredns"
cat >main.go <<'GO'
// A CoreDNS with the plugins a cluster's DNS needs, and no cloud back ends.
package main

import (
	_ "github.com/coredns/coredns/core/dnsserver" // registers the dns server type
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/whoami"
)

func main() { coremain.Run() }
GO
printf 'module tmp/coredns\n\ngo 1.26.0\n' >go.mod
go get "github.com/coredns/coredns@v$COREDNS"
go mod tidy
go build -trimpath -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=v$COREDNS" -o "$WORK/coredns/coredns" .
./coredns -plugins | grep kubernetes >/dev/null || die "the built coredns lacks the kubernetes plugin"

mkdir -p "$COREDNS_KIT"
install_bin "$WORK/coredns/coredns" "$COREDNS_KIT/coredns"
cd "$repo"
go run ./e2e/images/pack -tag "docs-appliance.test/coredns:$COREDNS" -out "$out" \
	-entrypoint /coredns -file "/coredns=$COREDNS_KIT/coredns:0755"
log "CoreDNS image: $out"
echo "COREDNS_KIT=$COREDNS_KIT"
