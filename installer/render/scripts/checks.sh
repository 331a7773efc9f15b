#!/bin/bash
# The restore check's database checks, apart from Kubernetes so they run
# against any PostgreSQL: `checks.sh heartbeat` on the live cluster before
# the recovery, `checks.sh compare` on the restored one after it.
#
#   LIVE_PSQL / RESTORED_PSQL  a psql command line that takes the database
#                              name as its last argument and the SQL on
#                              stdin, e.g. "psql -h /run/pg -XAtq -v ON_ERROR_STOP=1 -d"
#   HEARTBEAT_AT               (compare) what heartbeat printed as heartbeatAt
#   CHECK_KEYCLOAK, REALM      (compare) whether the keycloak database holds REALM
#   ARCHIVE_WAIT               (heartbeat) seconds to wait for the WAL archive, default 600
#
# Prints key=value lines (what the result records); a failed check prints
# its reason on stderr and exits 1.
set -uo pipefail

# Tables Docs v5.4.1 creates (src/backend/core/models.py db_table and
# Django's own) that a restored Docs cannot run without.
required_tables="django_migrations impress_user impress_document impress_document_access
impress_invitation impress_link_trace impress_document_favorite impress_document_ask_for_access
impress_thread impress_comment"
# Tables whose row counts are compared with the live ones.
counted="impress_user impress_document impress_document_access"
# The appliance's own table in each cluster's postgres database: one row per check.
heartbeat=appliance_restore_check_heartbeat

live() { $LIVE_PSQL "$1"; }
restored() { $RESTORED_PSQL "$1"; }
fail() { echo "$1" >&2; exit 1; }
out() { echo "$1=$2"; }
# key names a counted table in the result.
key() { case $1 in impress_user) echo users ;; impress_document) echo documents ;; impress_document_access) echo accesses ;; esac; }

count_sql() {
  local sep="" t
  printf 'select '
  for t in $counted; do printf "%s(select count(*) from %s)" "$sep" "$t"; sep=" || ' ' || "; done
  echo
}

# heartbeat: the age of the newest archived WAL (what a disaster now would
# lose), then a row stamped now() holding the live row counts, a WAL
# switch, and a wait until the archiver shipped the segment holding it.
heartbeat() {
  local archiver rpo last failed counts at seg archived
  archiver=$(live postgres <<<"select coalesce(to_char(last_archived_time at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),
  coalesce(extract(epoch from now() - last_archived_time)::bigint::text, ''),
  coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false), coalesce(last_failed_wal, '')
  from pg_stat_archiver") || fail "reading the live cluster's WAL archiver"
  IFS='|' read -r last rpo failed failedwal <<<"$archiver"
  [ -n "$last" ] || fail "the live cluster has never archived a WAL segment: nothing after the base backup could be recovered"
  out lastArchivedAt "$last"
  out rpoSeconds "$rpo"
  [ "$failed" = f ] || fail "WAL archiving of the live cluster is failing (last failed segment $failedwal, last archived at $last)"
  counts=$(live docs <<<"$(count_sql)") || fail "counting the live docs database's rows"
  read -r users documents accesses <<<"$counts"
  at=$(live postgres <<<"create table if not exists $heartbeat (
    at timestamptz primary key, users bigint, documents bigint, accesses bigint);
  delete from $heartbeat where at < now() - interval '30 days';
  insert into $heartbeat values (clock_timestamp(), $users, $documents, $accesses)
  returning to_char(at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')") || fail "writing the heartbeat into the live cluster"
  out heartbeatAt "$at"
  seg=$(live postgres <<<"select pg_walfile_name(pg_switch_wal())") || fail "switching the live cluster's WAL segment"
  local deadline=$(( $(date +%s) + ${ARCHIVE_WAIT:-600} ))
  while :; do
    archived=$(live postgres <<<"select coalesce(last_archived_wal, '') >= '$seg' from pg_stat_archiver") || fail "reading the live cluster's WAL archiver"
    [ "$archived" = t ] && break
    [ "$(date +%s)" -lt "$deadline" ] || fail "WAL segment $seg holding the heartbeat was not archived within ${ARCHIVE_WAIT:-600}s"
    sleep 2
  done
  out heartbeatWal "$seg"
}

# compare: the restored docs database against the live one.
compare() {
  local hb tables live_tables missing t users documents accesses
  [[ "${HEARTBEAT_AT:-}" =~ ^[0-9T:.Z-]+$ ]] || fail "HEARTBEAT_AT is not a timestamp: ${HEARTBEAT_AT:-unset}"
  # The recovered point: the newest heartbeat present. Recovery replays the
  # whole archive, so this run's heartbeat must be there.
  hb=""
  if [ "$(restored postgres <<<"select to_regclass('public.$heartbeat') is not null")" = t ]; then
    hb=$(restored postgres <<<"select coalesce(to_char(max(at) at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '')
      from $heartbeat") || fail "reading the heartbeat from the restored cluster"
  fi
  out recoveredTo "$hb"
  [ "$hb" \> "$HEARTBEAT_AT" ] || [ "$hb" = "$HEARTBEAT_AT" ] ||
    fail "the restored cluster stops at ${hb:-no heartbeat}, before the heartbeat written at $HEARTBEAT_AT and archived: WAL is missing from the archive"

  tables=$(restored docs <<<"select table_name from information_schema.tables where table_schema = 'public' order by 1") ||
    fail "reading the restored docs database"
  out tables "$(wc -w <<<"$tables")"
  live_tables=$(live docs <<<"select table_name from information_schema.tables where table_schema = 'public' order by 1") ||
    fail "reading the live docs database"
  missing=$(comm -23 <(tr ' ' '\n' <<<"$required_tables $live_tables" | grep -v '^$' | sort -u) <(sort -u <<<"$tables") | tr '\n' ' ')
  [ -z "$missing" ] || fail "the restored docs database lacks tables: ${missing% }"

  # Migrations: every one the live database applied at or before the
  # recovered point is restored, and nothing the live one does not have.
  # One applied after it (an upgrade since) may be present or not.
  local live_before live_all rest behind extra after
  live_before=$(live docs <<<"select app || '.' || name from django_migrations where applied <= '$HEARTBEAT_AT'::timestamptz order by 1") ||
    fail "reading the live django_migrations"
  live_all=$(live docs <<<"select app || '.' || name from django_migrations order by 1") || fail "reading the live django_migrations"
  rest=$(restored docs <<<"select app || '.' || name from django_migrations order by 1") || fail "reading the restored django_migrations"
  out migrations "$(grep -c . <<<"$rest")"
  out liveMigrations "$(grep -c . <<<"$live_all")"
  [ -n "$rest" ] || fail "no Django migration is recorded in the restored docs database"
  behind=$(comm -23 <(sort <<<"$live_before") <(sort <<<"$rest") | grep . | head -3 | tr '\n' ' ')
  [ -z "$behind" ] || fail "the restored migrations are behind the live ones at the recovered point: missing ${behind% }"
  extra=$(comm -13 <(sort <<<"$live_all") <(sort <<<"$rest") | grep . | head -3 | tr '\n' ' ')
  [ -z "$extra" ] || fail "the restored database has migrations the live one does not: ${extra% }"
  after=$(( $(grep -c . <<<"$live_all") - $(grep -c . <<<"$live_before") ))
  out migrationsAfterRecoveredPoint "$after"

  # Row counts. The restored data lies between the heartbeat (whose row
  # holds the live counts of that moment) and now (recovery replays what
  # was archived meanwhile): each restored count must lie between those two
  # live counts, widened by 1% of the larger plus one row for the writes
  # between reading the counts and stamping the heartbeat.
  local at_hb now_counts lo hi slack
  at_hb=$(live postgres <<<"select users || ' ' || documents || ' ' || accesses from $heartbeat where at = '$HEARTBEAT_AT'::timestamptz") ||
    fail "reading the live heartbeat"
  [ -n "$at_hb" ] || fail "the live cluster has no heartbeat at $HEARTBEAT_AT"
  now_counts=$(live docs <<<"$(count_sql)") || fail "counting the live docs database's rows"
  restored_counts=$(restored docs <<<"$(count_sql)") || fail "counting the restored docs database's rows"
  read -r -a a <<<"$at_hb"; read -r -a b <<<"$now_counts"; read -r -a r <<<"$restored_counts"
  local i=0
  for t in $counted; do
    lo=$(( a[i] < b[i] ? a[i] : b[i] )); hi=$(( a[i] > b[i] ? a[i] : b[i] ))
    slack=$(( hi / 100 + 1 ))
    k=$(key "$t")
    out "$k" "${r[i]}"
    out "live${k^}" "${b[i]}"
    if [ "${r[i]}" -lt $(( lo - slack )) ] || [ "${r[i]}" -gt $(( hi + slack )) ]; then
      fail "the restored $t has ${r[i]} rows, implausible against the live ${a[i]} at the heartbeat and ${b[i]} now (allowed $(( lo - slack < 0 ? 0 : lo - slack ))..$(( hi + slack )))"
    fi
    i=$((i + 1))
  done
  # createsuperuser runs at install: a restored Docs always has a user.
  [ "${r[0]}" -ge 1 ] || fail "the restored database has no user"

  if [ "${CHECK_KEYCLOAK:-false}" = true ]; then
    local realms
    realms=$(restored keycloak <<<"select count(*) from realm where name = '${REALM:-docs}'") || fail "reading the restored keycloak database"
    [ "$realms" -eq 1 ] || fail "the restored keycloak database lacks the ${REALM:-docs} realm"
    out realm "${REALM:-docs}"
  fi
}

case "${1:-}" in
  heartbeat) heartbeat ;;
  compare) compare ;;
  *) fail "usage: checks.sh heartbeat|compare" ;;
esac
