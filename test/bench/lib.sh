# Shared by the `make bench` scripts: paths, the fixture cache, helpers.
# Source it; it cds to the repository root.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit
export CGO_ENABLED=0
export GOFLAGS=${GOFLAGS:--buildvcs=false -tags=containers_image_openpgp,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper}

LAYERS=${BENCH_LAYERS:-8}
EXTRA=${BENCH_EXTRA:-8000}
SMALL=${BENCH_SMALL:-12000}
BIG=${BENCH_BIG:-$((16 << 20))}
CACHE=$ROOT/.cache/bench
PLUGIN=$ROOT/bin/kubectl-ocne_image
CONVBENCH=$CACHE/bin/convbench
FIXTURE_VERSION=1 # bump when the fixture recipe changes
# shellcheck disable=SC2034 # used by the scripts that source this
TAG=1.31          # tag of the images in the OCI layouts (convbench's ImageTag)
# shellcheck disable=SC2034
REF=ock

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

# need_packages PKG...: installs the Debian packages only the benchmarks use.
need_packages() {
  local p need=()
  for p; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p"); done
  ((${#need[@]})) || return 0
  log "bench: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; }
}

command -v ostree >/dev/null || die "ostree CLI missing; run make deps"
[[ -x $PLUGIN ]] || die "$PLUGIN missing; run make build"
mkdir -p "$CACHE/bin"
go build -trimpath -o "$CONVBENCH" ./test/bench/cmd/convbench
OSTREE_VERSION=$(ostree --version | awk -F"'" '/Version/ {print $2}')

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
calc() { awk "BEGIN {printf \"$1\", $2}"; }
mib() { calc "%.1f" "$1/1048576"; }
# mark VALUE OK-EXPR: "ok" or "MISSED" (awk expression in v)
mark() { awk -v v="$1" "BEGIN {print (($2) ? \"ok\" : \"MISSED\")}"; }

# shell_words ARG...: the command line, quoting arguments with spaces.
shell_words() {
  local a out=()
  for a; do
    if [[ $a == *" "* ]]; then out+=("'$a'"); else out+=("$a"); fi
  done
  echo "${out[*]}"
}

# fixture SCALE: sets FIX to the fixture directory, building it if needed.
fixture() {
  local s=$1 extra=$((EXTRA * $1)) small=$((SMALL * $1)) big=$((BIG * $1))
  FIX=$CACHE/fixtures/x$extra-s$small-b$big-l$LAYERS-v$FIXTURE_VERSION-ostree$OSTREE_VERSION
  if [[ ! -f $FIX/stats ]]; then
    log "bench: building fixture ${s}x in $FIX (first run only)"
    rm -rf "$FIX" "$FIX.tmp"
    mkdir -p "$(dirname "$FIX")"
    local t0=$SECONDS
    "$CONVBENCH" fixture -dir "$FIX.tmp" -extra "$extra" -small "$small" -big "$big" -layers "$LAYERS" >/dev/null
    mv "$FIX.tmp" "$FIX"
    log "bench: fixture ${s}x built in $((SECONDS - t0))s"
  fi
}

# warm DIR...: reads every file, so that it is in the page cache. (Through a
# pipe: cat may splice straight to /dev/null without reading anything.)
warm() { find "$@" -type f -exec cat {} + | wc -c >/dev/null; }

