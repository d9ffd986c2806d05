#!/usr/bin/env bash
# Builds Debian packages of Geo's programs: geo-region, geo-replicator, geo-router (services: systemd unit, a conffile
# under /etc/geo, the geo system user) and geoctl, geo-migrate (tools on the PATH). Framework-dependent: each depends on
# aspnetcore-runtime-10.0 from Microsoft's Debian repository, so .NET security fixes arrive through apt without a
# rebuild of Geo, and the packages stay small (docs/deploy.md).
#
#   eng/package.sh [--out DIR] [--version X.Y.Z] [--no-build] [program ...]   (default: every program, into artifacts/packages)
# --no-build packages what eng/build.sh built (Release) instead of building again: the tests use it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

out=artifacts/packages
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -n 1)
wanted=()
build=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --no-build) build=(--no-build); shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "package: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) wanted+=("$1"); shift ;;
  esac
done
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || { echo "package: '$version' is not a Debian version" >&2; exit 2; }
command -v dpkg-deb >/dev/null || { echo "package: dpkg-deb is missing (apt-get install dpkg)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/geo-package-XXXXXX")
trap 'rm -rf "$work"' EXIT

built=0
while IFS=$'\t' read -r name project kind description; do
  case "$name" in ''|'#'*) continue ;; esac
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " == *" $name "* ]]; then continue; fi
  echo "package: $name $version"
  stage="$work/$name"
  lib="$stage/usr/lib/geo/$name"
  mkdir -p "$lib" "$stage/DEBIAN" "$stage/usr/share/doc/$name"
  dotnet publish "$project" -c Release "${build[@]}" -nologo -v quiet -clp:ErrorsOnly -o "$lib" >/dev/null
  # Only linux-x64's native libraries are ever loaded on an amd64 host.
  if [ -d "$lib/runtimes" ]; then
    find "$lib/runtimes" -mindepth 1 -maxdepth 1 -type d ! -name linux-x64 ! -name linux ! -name unix -exec rm -rf {} +
  fi
  # Debug symbols, XML docs and IIS/static-asset leftovers of the SDK have no use on a host.
  rm -f "$lib"/*.pdb "$lib"/*.xml "$lib"/web.config "$lib"/*.staticwebassets.endpoints.json
  chmod 0755 "$lib/$name"

  {
    echo "$name $version"
    echo
    echo "$description."
    echo
    echo "Installed in /usr/lib/geo/$name. Source, documentation and runbooks: the Geo repository (README.md, docs/)."
  } > "$stage/usr/share/doc/$name/README"

  depends="aspnetcore-runtime-10.0"
  if [ "$kind" = service ]; then
    depends="$depends, adduser"
    mkdir -p "$stage/etc/geo" "$stage/lib/systemd/system"
    cp "eng/debian/$name.json" "$stage/etc/geo/$name.json"
    echo "/etc/geo/$name.json" > "$stage/DEBIAN/conffiles"
    sed -e "s|@NAME@|$name|g" -e "s|@DESCRIPTION@|$description|g" eng/debian/service.in > "$stage/lib/systemd/system/$name.service"
    if [ "$name" = geo-region ]; then
      mkdir -p "$stage/usr/lib/sysctl.d"
      cp eng/debian/sysctl-geo-region.conf "$stage/usr/lib/sysctl.d/60-geo-region.conf"
    fi
    sed -e "s|@NAME@|$name|g" eng/debian/postinst.in > "$stage/DEBIAN/postinst"
    sed -e "s|@NAME@|$name|g" eng/debian/prerm.in > "$stage/DEBIAN/prerm"
    sed -e "s|@NAME@|$name|g" eng/debian/postrm.in > "$stage/DEBIAN/postrm"
    chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"
  else
    mkdir -p "$stage/usr/bin"
    ln -s "../lib/geo/$name/$name" "$stage/usr/bin/$name"
  fi

  size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
  cat > "$stage/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: amd64
Maintainer: Geo <geo@localhost>
Section: net
Priority: optional
Depends: $depends
Installed-Size: $size
Homepage: https://github.com/geo/geo
Description: $description
 Part of Geo, a geo-redundant RADIUS AAA and charging platform: each region serves its
 own subscribers and stands by for another's; see /usr/share/doc/$name/README.
CONTROL
  dpkg-deb --root-owner-group -Zxz --build "$stage" "$out/${name}_${version}_amd64.deb" >/dev/null
  echo "package: $out/${name}_${version}_amd64.deb"
  built=$((built + 1))
done < eng/debian/programs.tsv

[ "$built" -gt 0 ] || { echo "package: no program matched ${wanted[*]} (eng/debian/programs.tsv lists them)" >&2; exit 2; }
