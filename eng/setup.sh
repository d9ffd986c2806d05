#!/usr/bin/env bash
# Installs the operating-system packages Geo needs, and only those that are missing:
# PostgreSQL 15 (server binaries; the local stack and tests start private clusters), Redis 7,
# radclient (freeradius-utils, the real RADIUS client of the end-to-end tests), Chromium (the console's browser tests). Confluent.Kafka's native library
# comes from NuGet (librdkafka.redist), not from the OS.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v psql >/dev/null || missing+=(postgresql-client)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v radclient >/dev/null || missing+=(freeradius-utils)
# The operator console's browser tests drive Debian's Chromium (Playwright never downloads a browser here).
command -v chromium >/dev/null || missing+=(chromium)

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The server user the clusters run as when started by root (initdb refuses root).
id postgres >/dev/null 2>&1 || { echo "setup: the 'postgres' user is missing (reinstall the postgresql package)" >&2; exit 1; }

# HashiCorp's HCL parser (npm @cdktf/hcl2json, pinned by its package-lock.json): Geo.Deploy.Tests checks the
# Terraform modules with it, since no Terraform CLI can be installed here.
hcl=tests/Geo.Deploy.Tests/hcl
if [ ! -d "$(dirname "$0")/../$hcl/node_modules/@cdktf/hcl2json" ]; then
  command -v node >/dev/null && command -v npm >/dev/null \
    || { echo "setup: node and npm are missing (Node.js 20 or newer parses the Terraform files for Geo.Deploy.Tests)" >&2; exit 1; }
  echo "setup: npm ci in $hcl"
  (cd "$(dirname "$0")/../$hcl" && npm ci --no-audit --no-fund --loglevel=error)
fi
