#!/usr/bin/env bash
# The README's first command (`make demo`): runs the main job on a sample
# OCK OSTree image the project builds itself (the real registry is out of
# reach here), then proves the result the way users consume it: `podman
# load`, the documented `podman run` line, and libostree pulling and
# checking the archive through the published port.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
cache=$root/.cache/demo
version=1.33
port=${DEMO_PORT:-8080}
mkdir -p "$cache"

step() { printf '\n==> %s\n' "$*"; }

if [[ ! -f $cache/layout/index.json ]]; then
  step "Building the sample OCK OSTree image (real ostree commit, 4 layers)"
  rm -rf "$cache/sample" "$cache/layout"
  bin/ock-sample --work "$cache/sample" --dest "oci:$cache/layout:$version" --version "$version" --layers 4 >/dev/null
fi
commit=$(ostree --repo="$cache/sample/repo" rev-parse ock)

step "kubectl ocne-image create --type ostree --local --os-registry oci:$cache/layout"
out=$(bin/kubectl-ocne_image create --type ostree --local --os-registry "oci:$cache/layout")
echo "$out"

# Podman in its own storage, with the settings this host needs.
export CONTAINERS_CONF=$root/test/scripts/containers.conf
pm() { podman --root "$cache/podman/root" --runroot "$cache/podman/run" --storage-driver vfs "$@"; }
name=ocne-image-demo
pm rm --force --time 0 "$name" >/dev/null 2>&1 || true
trap 'pm rm --force --time 0 "$name" >/dev/null 2>&1 || true' EXIT

step "podman load -i $out"
pm load -i "$out" | grep 'Loaded image'

mkdir -p "$cache/ks"
echo "ostreesetup --nogpg --osname=ock --url=http://$(hostname -I | awk '{print $1}'):$port/ostree --ref=ock" >"$cache/ks/ock.ks"
step "podman run -d -p $port:80 -v \$PWD/ks:/usr/share/nginx/html/ks localhost/ock-ostree:latest"
pm run -d --name "$name" -p "$port:80" -v "$cache/ks:/usr/share/nginx/html/ks" localhost/ock-ostree:latest >/dev/null
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
curl -fs "http://127.0.0.1:$port/ks/ock.ks"

step "ostree pull from http://127.0.0.1:$port/ostree"
repo=$cache/pulled
rm -rf "$repo"
ostree --repo="$repo" init --mode=bare-user
ostree --repo="$repo" remote add --no-gpg-verify ock "http://127.0.0.1:$port/ostree"
ostree --repo="$repo" pull ock ock
got=$(ostree --repo="$repo" rev-parse ock:ock)
ostree --repo="$repo" fsck | tail -1
if [[ $got != "$commit" ]]; then
  echo "FAILED: pulled commit $got, the sample is $commit" >&2
  exit 1
fi
step "OK: the archive server serves commit $commit, verified by libostree"
