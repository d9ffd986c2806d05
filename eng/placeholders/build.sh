#!/usr/bin/env bash
# Builds the placeholder packages (see nuget.config) from the .nuspec text beside this script.
# A placeholder .nupkg is a zip that holds only its .nuspec. Run before `dotnet restore`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v zip >/dev/null || { echo "build.sh: 'zip' is missing (eng/setup.sh installs it)" >&2; exit 1; }
for spec in "$here"/*.nuspec; do
  id=$(sed -n 's:.*<id>\(.*\)</id>.*:\1:p' "$spec")
  version=$(sed -n 's:.*<version>\(.*\)</version>.*:\1:p' "$spec")
  pkg="$here/$(echo "$id" | tr '[:upper:]' '[:lower:]').$version.nupkg"
  [ "$pkg" -nt "$spec" ] && continue
  tmp=$(mktemp -d)
  cp "$spec" "$tmp/$id.nuspec"
  (cd "$tmp" && zip -q -X "$pkg" "$id.nuspec")
  rm -rf "$tmp"
  echo "placeholder: $(basename "$pkg")"
done
