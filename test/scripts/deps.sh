#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo run for real:
# libostree's CLI, Podman (with runc: crun cannot run on this host's hybrid
# cgroups), skopeo and the registry; python3, whose shlex splits Kickstart
# lines as pykickstart does; xorriso, which builds test boot ISOs; nginx (a
# WebDAV PUT/DELETE server for the http-put plugin); libblkid-dev and gcc to
# build the real Ignition (cgo). Idempotent: apt runs only if something is
# missing.
set -euo pipefail

need=()
for pkg in ostree podman runc skopeo docker-registry uidmap gettext-base python3 xorriso nginx-core libblkid-dev gcc libc6-dev \
  libseccomp-dev libsystemd-dev libsqlite3-dev pkg-config; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "deps: Go is missing; install Go 1.26 at /usr/local/go" >&2; exit 1; }
