#!/usr/bin/env bash
# Builds the whole solution in Release: placeholder packages first (see nuget.config), then Geo.sln.
set -euo pipefail
cd "$(dirname "$0")/.."
eng/placeholders/build.sh
echo "build: dotnet build Geo.sln -c Release"
dotnet build Geo.sln -c Release -nologo -v quiet -clp:ErrorsOnly
