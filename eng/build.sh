#!/usr/bin/env bash
# Builds the whole solution in Release.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "build: dotnet build Geo.sln -c Release"
dotnet build Geo.sln -c Release -nologo -v quiet -clp:ErrorsOnly
