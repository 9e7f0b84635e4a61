#!/usr/bin/env bash
# The README's first command (`make demo`): runs the main job on a sample
# OCK OSTree image the project builds itself (the real registry is out of
# reach here), then proves the result the way users consume it: the
# companion podman-ocne loads it into Podman over the socket API and serves
# it with a generated Kickstart, and libostree pulls and checks the archive
# through the published port.
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

# A Podman service of its own (own storage, the settings this host needs),
# which podman-ocne drives over its REST socket as it would the user's.
export CONTAINERS_CONF=$root/test/scripts/containers.conf
sock=$cache/podman.sock
podman --root "$cache/podman/root" --runroot "$cache/podman/run" --storage-driver vfs \
  system service --time=0 "unix://$sock" >"$cache/podman-service.log" 2>&1 &
service=$!
name=ocne-image-demo
trap 'bin/podman-ocne --url "unix://$sock" stop --name "$name" >/dev/null 2>&1 || true; kill $service 2>/dev/null || true' EXIT
for _ in $(seq 50); do [[ -S $sock ]] && break; sleep 0.2; done
po() { bin/podman-ocne --url "unix://$sock" "$@"; }

step "podman-ocne load --file $out"
po load --file "$out"

step "podman-ocne serve --kickstart auto --port $port"
po serve --name "$name" --port "$port" --replace --kickstart auto \
  --kickstart-dir "$cache/ks" --ignition-dir "$cache/ignition"
curl -fs "http://127.0.0.1:$port/ks/ock.ks" | grep -E '^(ostreesetup|bootloader)'

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
step "OK: the archive server serves commit $commit, verified by libostree; the Kickstart above installs from it"
