#!/usr/bin/env bash
# Builds the release archives for every krew platform into dist/ and writes
# dist/ocne-image.yaml, the krew manifest with their URLs and sha256 filled in.
# The Linux plugin archives also hold ocne-image-builder, the program of the
# builder image.
# For the Linux platforms it also archives podman-ocne (the Podman companion)
# and the Ignition hosting plugins we ship, which are installed by hand
# (README), and writes dist/SHA256SUMS for every archive.
# Usage: krew/dist.sh VERSION LDFLAGS   (the Makefile's `make dist` calls it)
# PLATFORMS="linux/amd64" limits the build and DIST_DIR moves the output
# (tests use both); a platform left out keeps its placeholder.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$1 ldflags=$2
release_url=${RELEASE_URL:-https://github.com/ocne-image/ocne-image/releases/download/$version}
dist=${DIST_DIR:-dist}
rm -rf "$dist" && mkdir -p "$dist"
declare -A sums
for platform in ${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}; do
  os=${platform%/*} arch=${platform#*/}
  stage=$dist/stage-${os}-${arch}
  mkdir -p "$stage"
  GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$stage/kubectl-ocne_image" ./kubectl-ocne
  # The builder image runs Linux only: builder-image packs this program
  # from beside the plugin, where krew installs the whole archive.
  if [[ $os == linux ]]; then
    GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$stage/ocne-image-builder" ./kubectl-ocne/builder
  fi
  cp krew/kubectl_complete-ocne_image README.md "$stage/"
  archive=$dist/kubectl-ocne_image_${version}_${os}_${arch}.tar.gz
  # Fixed owner and mtime: the same commit yields the same archive.
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$stage" -cf - . | gzip -n >"$archive"
  rm -rf "$stage"
  sums[${os}_${arch}]=$(sha256sum "$archive" | cut -d' ' -f1)
  [[ $os == linux ]] || continue
  for cmd in podman-ocne:podman-helper ocne-ignition-http-put:plugins/http-put ocne-ignition-matchbox:plugins/matchbox; do
    name=${cmd%%:*}
    mkdir -p "$stage"
    GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$stage/$name" "./${cmd#*:}"
    cp README.md "$stage/"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$stage" -cf - . |
      gzip -n >"$dist/${name}_${version}_${os}_${arch}.tar.gz"
    rm -rf "$stage"
  done
done
(cd "$dist" && sha256sum -- *.tar.gz >SHA256SUMS)
export VERSION=$version RELEASE_URL=$release_url
for k in "${!sums[@]}"; do export "SHA256_$k=${sums[$k]}"; done
# Drop the platform entries that were not built, then fill in the rest.
awk -v built=" ${!sums[*]} " '
  /^  - selector:/ { flush(); inblock = 1 }
  inblock && /^  [^ -]/ { flush(); inblock = 0 }
  inblock { block = block $0 "\n"; if ($1 == "os:") os = $2; if ($1 == "arch:") arch = $2; next }
  { print }
  END { flush() }
  function flush() {
    if (block != "" && index(built, " " os "_" arch " ")) printf "%s", block
    block = ""; os = ""; arch = ""
  }' krew/ocne-image.yaml | envsubst >"$dist/ocne-image.yaml"
echo "$dist/ocne-image.yaml"
