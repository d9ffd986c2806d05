#!/usr/bin/env bash
# Geo's entry point on a development machine.
#   ./geo up [--subscribers N]   install what is missing, build, start the two-region stack with demo data
#   ./geo test                   install what is missing, build, run every test, print the summary line
#   ./geo <geoctl command>       any other geoctl command: status, down, down --purge, --help
set -euo pipefail
cd "$(dirname "$0")"
geoctl=artifacts/bin/Geo.Ctl.Host/release/geoctl.dll

case "${1:-}" in
  test)
    shift
    exec eng/test.sh "$@"
    ;;
  up)
    eng/setup.sh
    eng/build.sh
    ;;
  *)
    [ -f "$geoctl" ] || { eng/setup.sh; eng/build.sh; }
    ;;
esac
exec dotnet "$geoctl" "$@"
