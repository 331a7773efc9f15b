#!/bin/bash
# The restore check: recover a throwaway CloudNativePG cluster from the
# newest completed backup of the live one, check the restored data against
# the live data (checks.sh), record the outcome in ConfigMap $RESULT for
# doctor and `restore-check now`, and always remove the throwaway cluster.
# Needs bash, kubectl, jq and coreutils (the kubectl image's contents).
#
# The throwaway cluster has no WAL-archiving plugin: it never writes into
# any archive (recovering under the live server name with archiving on
# fails "Expected empty archive", cnpg #6470, and a fixed name of its own
# would be non-empty on the next run).
set -uo pipefail
here=${SCRIPTS:-/restore-check}
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
started=$(now)
declare -A result=([job]="${JOB_NAME:-}" [backup]="" [backupStoppedAt]="")
work=$(mktemp -d)

record() {
  local args=(--from-literal=status="$1" --from-literal=message="$2"
    --from-literal=startedAt="$started" --from-literal=finishedAt="$(now)") k
  for k in "${!result[@]}"; do args+=(--from-literal="$k=${result[$k]}"); done
  kubectl -n "$NAMESPACE" create configmap "$RESULT" "${args[@]}" --dry-run=client -o yaml \
    | kubectl apply --server-side --force-conflicts --field-manager=restore-check -f - >/dev/null
}
cleanup() {
  kubectl -n "$NAMESPACE" delete clusters.postgresql.cnpg.io "$NAME" --ignore-not-found --wait=true --timeout=10m >/dev/null || true
}
fail() { echo "restore check failed: $1" >&2; record failed "$1"; cleanup; rm -rf "$work"; exit 1; }
trap 'fail "interrupted (the Job was stopped or reached its deadline)"' TERM INT
# absorb reads checks.sh's key=value lines into the result.
absorb() { local k v; while IFS='=' read -r k v; do [ -n "$k" ] && result[$k]=$v; done <"$1"; }
# checks runs one checks.sh phase; a failure's reason is its last stderr line.
checks() {
  local phase=$1 ok=0
  bash "$here/checks.sh" "$phase" >"$work/$phase.out" 2>"$work/$phase.err" || ok=1
  absorb "$work/$phase.out"
  [ "$ok" -eq 0 ] || fail "$2: $(grep . "$work/$phase.err" | tail -n 1)"
}
primary() {
  kubectl -n "$NAMESPACE" get pods -l "cnpg.io/cluster=$1,cnpg.io/instanceRole=primary" -o jsonpath='{.items[0].metadata.name}' 2>/dev/null
}
psql_in() { echo "kubectl -n $NAMESPACE exec -i $1 -c postgres -- psql -XAtq -v ON_ERROR_STOP=1 -d"; }

# The recovery's own words when it fails: the error lines of every
# container of its full-recovery pod, the plugin sidecar's among them.
recovery_reason() {
  local pod=$1 c lines=""
  for c in $(kubectl -n "$NAMESPACE" get pod "$pod" -o jsonpath='{.spec.initContainers[*].name} {.spec.containers[*].name}'); do
    lines+=$(kubectl -n "$NAMESPACE" logs "$pod" -c "$c" --tail=200 2>/dev/null | jq -R -r -f "$here/error-lines.jq" | sed "s/^/$c: /")$'\n'
  done
  grep . <<<"$lines" | tail -n 10
}

# A leftover of an interrupted run would hide this run's result.
cleanup

latest=$(kubectl -n "$NAMESPACE" get backups.postgresql.cnpg.io -o json | jq -r --arg source "$SOURCE" -f "$here/select-backup.jq") ||
  fail "listing the backups of $SOURCE"
[ -n "$latest" ] || fail "no completed backup of $SOURCE to restore"
read -r backup backupid stopped <<<"$latest"
result[backup]=$backup; result[backupID]=$backupid; result[backupStoppedAt]=$stopped
echo "recovering $NAME from backup $backup (barman $backupid, stopped $stopped)"

live=$(primary "$SOURCE")
[ -n "$live" ] || fail "the live cluster $SOURCE has no primary pod"
export LIVE_PSQL RESTORED_PSQL HEARTBEAT_AT
LIVE_PSQL=$(psql_in "$live")
checks heartbeat "before recovering, on the live cluster"
HEARTBEAT_AT=${result[heartbeatAt]}

created=$(date +%s)
jq --arg id "$backupid" '.spec.bootstrap.recovery.recoveryTarget.backupID = $id' "$here/cluster.json" \
  | kubectl apply -f - >/dev/null || fail "creating the throwaway cluster $NAME"
deadline=$((created + ${RECOVERY_TIMEOUT:-5400}))
while :; do
  ready=$(kubectl -n "$NAMESPACE" get clusters.postgresql.cnpg.io "$NAME" -o json 2>/dev/null \
    | jq -r -f "$here/cluster-ready.jq")
  [ "$ready" = true ] && break
  failed=$(kubectl -n "$NAMESPACE" get pods -l "cnpg.io/cluster=$NAME" -o json 2>/dev/null | jq -r -f "$here/recovery-failure.jq")
  if [ -n "$failed" ]; then
    read -r pod container code <<<"$failed"
    fail "recovering backup $backup failed: pod $pod container $container exited $code:
$(recovery_reason "$pod")"
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    phase=$(kubectl -n "$NAMESPACE" get clusters.postgresql.cnpg.io "$NAME" -o jsonpath='{.status.phase}: {.status.phaseReason}' 2>/dev/null)
    fail "the throwaway cluster did not recover from backup $backup within ${RECOVERY_TIMEOUT:-5400}s (phase ${phase:-unknown})"
  fi
  sleep 5
done
pod=$(primary "$NAME")
[ -n "$pod" ] || fail "the throwaway cluster has no primary pod"
RESTORED_PSQL=$(psql_in "$pod")
checks compare "checking the restored data"
result[rtoSeconds]=$(( $(date +%s) - created ))

record passed "recovered backup $backup to ${result[recoveredTo]} in ${result[rtoSeconds]}s (RPO ${result[rpoSeconds]}s): ${result[tables]} tables, ${result[users]} users, ${result[documents]} documents"
cleanup
rm -rf "$work"
echo "restore check passed"
