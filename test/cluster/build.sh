#!/usr/bin/env bash
# Builds the Kubernetes programs the test cluster runs from the module in
# test/cluster/k8s (k8s.io/kubernetes from the Go module proxy) into
# $1 (default .cache/cluster/bin). Cached: nothing is rebuilt while the
# module and the flags are unchanged. ~4-9 min cold on 2 cores.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/.cache/cluster/bin}
mkdir -p "$bin"
bin=$(cd "$bin" && pwd)

cmds=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubeadm kubectl)
version=$(sed -n 's/^\(require\)\{0,1\}[[:space:]]*k8s.io\/kubernetes \(v[0-9][0-9.]*\)$/\2/p' "$here/k8s/go.mod")
[[ $version =~ ^v([0-9]+)\.([0-9]+)\. ]] || { echo "build: no k8s.io/kubernetes version in $here/k8s/go.mod" >&2; exit 1; }
major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}
# What Kubernetes' own build (hack/lib/version.sh, golang.sh) passes, so
# the programs report vX.Y.Z instead of v0.0.0.
tags=selinux,notest
ldflags="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
stamp=$( { cat "$here/k8s/go.mod" "$here/k8s/go.sum"; echo "$tags $ldflags"; go env GOVERSION; } | sha256sum | cut -c1-16)

exec 9>"$bin/.lock"
flock 9

# The small helpers of up.sh/down.sh (pause, cricleanup): stdlib and CRI only.
helpers=(pause cricleanup)
hstamp=$( { cat "$here/k8s/go.sum"; for h in "${helpers[@]}"; do cat "$here/k8s/$h"/*.go; done; go env GOVERSION; } | sha256sum | cut -c1-16)
ok=1
for h in "${helpers[@]}"; do [[ -x $bin/$h ]] || ok=0; done
if ! ((ok)) || [[ $(cat "$bin/.stamp-helpers" 2>/dev/null) != "$hstamp" ]]; then
  hpkgs=()
  for h in "${helpers[@]}"; do hpkgs+=("./$h"); done
  (cd "$here/k8s" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags="-s -w" -o "$bin/" "${hpkgs[@]}")
  echo "$hstamp" >"$bin/.stamp-helpers"
fi

ok=1
for c in "${cmds[@]}"; do [[ -x $bin/$c ]] || ok=0; done
if ((ok)) && [[ $(cat "$bin/.stamp" 2>/dev/null) == "$stamp" ]]; then
  exit 0
fi

echo "build: building Kubernetes $version (${cmds[*]}) into $bin; the first build takes minutes" >&2
start=$SECONDS
tmp=$(mktemp -d "$bin/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pkgs=()
for c in "${cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
# The repository's GOFLAGS carry image-library tags that mean nothing here.
(cd "$here/k8s" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -tags="$tags" -ldflags="$ldflags" -o "$tmp/" "${pkgs[@]}")
for c in "${cmds[@]}"; do mv -f "$tmp/$c" "$bin/$c"; done
echo "$stamp" >"$bin/.stamp"
echo "build: done in $((SECONDS - start)) s" >&2
