#!/usr/bin/env bash
# Runs `geo-load radius` against region a of the local stack as if region b were on another machine: region b's
# replicator (the consumer of a's changes) is stopped for the run, and a's logical replication stream is read by
# pg_recvlogical instead (pgoutput, written to /dev/null), so region a's PostgreSQL still decodes and sends every
# change. Afterwards the slot is dropped, b's replicator restarted, and the script waits until it has caught up.
#   load-tests/site-only.sh --mode acct --plans flat --concurrency 512 --duration 20
set -euo pipefail
cd "$(dirname "$0")/.."
state=${GEO_STATE_DIR:-.geo}
geoctl="dotnet artifacts/bin/Geo.Ctl/release/geoctl.dll --state-dir $state"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
port=$(sed -n 4p "$state/regions/a/postgres/data/postmaster.pid")
replicator=$(cat "$state/regions/b/replicator/service.pid")
slot=geo_site_only_$$
psql="psql -h 127.0.0.1 -p $port -U postgres -XAtq"

lag() { $psql -d postgres -c "SELECT coalesce(max(pg_current_wal_lsn() - confirmed_flush_lsn), 0)::bigint FROM pg_replication_slots WHERE slot_type = 'logical' AND slot_name <> '$slot'"; }

restore() {
  [ -n "${reader:-}" ] && kill "$reader" 2>/dev/null && wait "$reader" 2>/dev/null || true
  $psql -d postgres -c "SELECT pg_drop_replication_slot('$slot') FROM pg_replication_slots WHERE slot_name = '$slot'" >/dev/null || true
  echo "site-only: restarting region b's replicator"
  $geoctl up >/dev/null
  started=$(date +%s)
  while [ "$(lag)" -gt 65536 ]; do sleep 1; done
  echo "site-only: region b caught up $(( $(date +%s) - started )) s after the run"
}

echo "site-only: stopping region b's replicator (pid $replicator) for the run"
kill -TERM "$replicator"
while kill -0 "$replicator" 2>/dev/null; do sleep 0.2; done
trap restore EXIT
"$pgbin/pg_recvlogical" -h 127.0.0.1 -p "$port" -U postgres -d geo_acme_a --slot "$slot" --create-slot -P pgoutput
"$pgbin/pg_recvlogical" -h 127.0.0.1 -p "$port" -U postgres -d geo_acme_a --slot "$slot" --start \
  -o proto_version=1 -o publication_names=geo_replication -f /dev/null &
reader=$!
dotnet artifacts/bin/Geo.LoadTests/release/geo-load.dll radius --stack "$state" "$@"
