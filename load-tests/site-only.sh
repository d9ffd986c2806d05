#!/usr/bin/env bash
# Runs `geo-load radius` against region a of the local stack as if region b were on another machine: region b's
# replicator (the consumer of a's changes) is stopped for the run, and the replication stream of each loaded shard
# is read by pg_recvlogical instead (pgoutput, written to /dev/null), so region a's PostgreSQL still decodes and
# sends every change. Afterwards the slots are dropped, b's replicator restarted, and the script waits until it has
# caught up.
#   load-tests/site-only.sh --mode acct --plans flat --concurrency 512 --duration 20 [--tenant acme,zenith]
set -euo pipefail
cd "$(dirname "$0")/.."
state=${GEO_STATE_DIR:-.geo}
geoctl="dotnet artifacts/bin/Geo.Ctl.Host/release/geoctl.dll --state-dir $state"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
port=$(sed -n 4p "$state/regions/a/postgres/data/postmaster.pid")
replicator=$(cat "$state/regions/b/replicator/service.pid")
psql="psql -h 127.0.0.1 -p $port -U postgres -XAtq -d postgres"
slot=geo_site_only_$$

# The shards loaded: geo-load's --tenant (default acme).
tenants=acme
args=("$@")
for i in "${!args[@]}"; do
  [ "${args[$i]}" = "--tenant" ] && tenants=${args[$((i + 1))]}
done

# Bytes of a's WAL that region b's replicator has yet to confirm (its slots are named <shard>_to_b).
lag() {
  local bytes
  bytes=$($psql -c "SELECT coalesce(max(pg_current_wal_lsn() - confirmed_flush_lsn), 0)::bigint FROM pg_replication_slots WHERE slot_name LIKE '%\_to\_b'") \
    || { echo "site-only: cannot read the replication lag of region a's PostgreSQL" >&2; exit 1; }
  echo "$bytes"
}

readers=()
restore() {
  for reader in "${readers[@]}"; do kill "$reader" 2>/dev/null || true; wait "$reader" 2>/dev/null || true; done
  $psql -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '${slot}\_%'" >/dev/null || true
  echo "site-only: restarting region b's replicator"
  $geoctl up >/dev/null
  local started=$SECONDS
  while [ "$(lag)" -gt 65536 ]; do
    [ $((SECONDS - started)) -lt 600 ] || { echo "site-only: region b has not caught up after 10 minutes (geoctl status)" >&2; exit 1; }
    sleep 1
  done
  echo "site-only: region b caught up $((SECONDS - started)) s after the run"
}

echo "site-only: stopping region b's replicator (pid $replicator) for the run"
kill -TERM "$replicator"
while kill -0 "$replicator" 2>/dev/null; do sleep 0.2; done
trap restore EXIT
for tenant in ${tenants//,/ }; do
  database=geo_${tenant}_a
  "$pgbin/pg_recvlogical" -h 127.0.0.1 -p "$port" -U postgres -d "$database" --slot "${slot}_$tenant" --create-slot -P pgoutput
  "$pgbin/pg_recvlogical" -h 127.0.0.1 -p "$port" -U postgres -d "$database" --slot "${slot}_$tenant" --start \
    -o proto_version=1 -o publication_names=geo_replication -f /dev/null &
  readers+=($!)
done
dotnet artifacts/bin/Geo.LoadTests/release/geo-load.dll radius --stack "$state" "$@"
