#!/usr/bin/env bash
# Builds Podman 5 (the version this module pins) from the Go module proxy
# into $1 (default ~/.cache/ocne-image/podman5), for the e2e tests that run
# podman-ocne against it beside Debian's Podman 4.3:
#   $1/bin/podman    the podman binary (cgo: seccomp, systemd, sqlite)
#   $1/libexec/      its helper binaries: netavark, aardvark-dns, catatonit,
#                    passt/pasta, unpacked from Debian's packages
# Outside the checkout, like the cluster binaries, so fresh clones (CI)
# reuse it; nothing is rebuilt while the module and the flags are unchanged.
# About 2 min cold on 2 cores.
#
# The helpers are `apt-get download`ed and unpacked, never installed:
# installing netavark would switch Debian's Podman 4.3, which the other
# tests use, from CNI to netavark. Podman finds them through the helper
# binaries dir compiled in (go.podman.io/common's
# additionalHelperBinariesDir, as Podman's own Makefile sets it); conmon and
# runc are Debian's, at the paths Podman looks in by default.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$HOME/.cache/ocne-image/podman5}
mkdir -p "$out"
out=$(cd "$out" && pwd)

for pkg in gcc pkg-config libseccomp-dev libsystemd-dev libsqlite3-dev conmon runc; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
    { echo "podman5: Debian package $pkg missing: run make deps" >&2; exit 1; }
done

helpers=(netavark aardvark-dns catatonit passt)
version=$(awk '$1 == "require" && $2 == "github.com/containers/podman/v5" {print $3}' "$here/go.mod")
[[ -n $version ]] || { echo "podman5: no github.com/containers/podman/v5 version in $here/go.mod" >&2; exit 1; }
# Podman's own release build tags, minus the graph drivers this host lacks
# and gpgme (containers_image_openpgp signs and verifies in Go).
tags="grpcnotrace exclude_graphdriver_btrfs exclude_graphdriver_devicemapper containers_image_openpgp seccomp systemd libsqlite3"
# buildInfo must be an integer (podman version parses it as a Unix time);
# a fixed one keeps the stamp, and so the cache, stable.
ldflags="-s -w -X github.com/containers/podman/v5/libpod/define.buildInfo=0"
ldflags+=" -X go.podman.io/common/pkg/config.additionalHelperBinariesDir=$out/libexec"
stamp=$( { cat "$here/go.mod" "$here/go.sum"; echo "$tags $ldflags ${helpers[*]}"; go env GOVERSION; } | sha256sum | cut -c1-16)

exec 9>"$out/.lock"
flock 9
if [[ -x $out/bin/podman && $(cat "$out/.stamp" 2>/dev/null) == "$stamp" ]]; then
  exit 0
fi

echo "podman5: building Podman $version into $out; the first build takes minutes" >&2
start=$SECONDS
tmp=$(mktemp -d "$out/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Stale package lists name versions the mirror no longer has: refresh once.
download() { (cd "$tmp" && apt-get download -q "${helpers[@]}" >/dev/null 2>&1); }
download || { apt-get update -q >/dev/null && download; } ||
  { echo "podman5: apt-get download ${helpers[*]} failed (after apt-get update)" >&2; exit 1; }
for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
mkdir -p "$tmp/libexec"
for f in usr/lib/podman/netavark usr/lib/podman/aardvark-dns usr/bin/catatonit usr/bin/passt usr/bin/pasta; do
  cp -a "$tmp/root/$f" "$tmp/libexec/"
done
# The repository's GOFLAGS carry tags for its static binaries: not these.
(cd "$here" && CGO_ENABLED=1 GOFLAGS=-buildvcs=false go build -trimpath -tags="$tags" -ldflags="$ldflags" \
  -o "$tmp/podman" github.com/containers/podman/v5/cmd/podman)
rm -rf "$out/libexec" "$out/bin"
mkdir -p "$out/bin"
mv "$tmp/libexec" "$out/libexec"
mv "$tmp/podman" "$out/bin/podman"
echo "$stamp" >"$out/.stamp"
echo "podman5: done in $((SECONDS - start)) s" >&2
