#!/usr/bin/env bash
# podman-ocne against Podman itself, on the same archive server image, for
# each Podman podman-ocne is tested with: Debian's 4.3 and the Podman 5 that
# `make podman5` builds (test/tools/podman5, ~/.cache/ocne-image/podman5):
#   1. load: `podman-ocne load --file X` (to a `podman system service`:
#      streamed over the REST socket to 4.3, the file's path handed to 5)
#      vs `podman load -i X` (the same Podman's CLI, straight into the same
#      storage). Medians and the ratio ours/podman.
#   2. serve start-up: from starting `podman-ocne serve` to the end of the
#      first successful `ostree pull` through the published port.
#
# The image is made by the plugin itself (`create --local`) from a sample
# OCK image whose tree holds one big file of BENCH_PODMAN_BIG bytes
# (default 256 MiB), cached in .cache/bench/podman/. Each Podman runs in a
# private storage root with this host's settings (test/scripts/containers.conf,
# for 5 also containers-podman5.conf: see test/harness NewPodmanRelease).
#
# Knobs: BENCH_RUNS (3), BENCH_PODMAN_BIG (bytes), BENCH_PODMAN_PORT (free port),
# OCNE_TEST_PODMAN5 (the Podman 5 binary).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
RUNS=${BENCH_RUNS:-3}
BIG=${BENCH_PODMAN_BIG:-$((256 << 20))}
CACHE=$ROOT/.cache/bench/podman
PLUGIN=$ROOT/bin/kubectl-ocne_image
HELPER=$ROOT/bin/podman-ocne
SAMPLE=$ROOT/bin/ock-sample
PODMAN5=${OCNE_TEST_PODMAN5:-$HOME/.cache/ocne-image/podman5/bin/podman}
export CONTAINERS_CONF=$ROOT/test/scripts/containers.conf

die() { echo "podman-load: $*" >&2; exit 1; }
for b in "$PLUGIN" "$HELPER" "$SAMPLE"; do [[ -x $b ]] || die "$b missing; run make build bin/ock-sample"; done
command -v podman >/dev/null || die "podman missing; run make deps"
[[ -x $PODMAN5 ]] || die "$PODMAN5 missing; run make podman5"

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
calc() { awk "BEGIN {printf \"$1\", $2}"; }
now() { date +%s.%N; }

# --- the image -----------------------------------------------------------------
archive=$CACHE/ock-big$BIG.tar
if [[ ! -f $archive ]]; then
  echo "podman-load: building a sample archive with a $((BIG >> 20)) MiB file (first run only)" >&2
  rm -rf "$CACHE/sample" "$CACHE/layout"
  mkdir -p "$CACHE"
  "$SAMPLE" --work "$CACHE/sample" --dest "oci:$CACHE/layout:1.33" --version 1.33 --layers 4 --big-file "$BIG" >/dev/null
  commit=$(ostree --repo="$CACHE/sample/repo" rev-parse ock)
  "$PLUGIN" create --local --os-registry "oci:$CACHE/layout" --version 1.33 --output-file "$archive.tmp" >/dev/null
  mv "$archive.tmp" "$archive"
  echo "$commit" >"$archive.commit"
  rm -rf "$CACHE/sample" "$CACHE/layout"
fi
commit=$(cat "$archive.commit")

# --- one Podman: a private storage root and its service ----------------------
# bench_podman LABEL BINARY [ENV=VALUE...] runs both measurements on it.
bench_podman() {
  local label=$1 bin=$2
  shift 2
  # A subshell: its EXIT trap stops this Podman's service whatever happens.
  (
    if (($#)); then export "$@"; fi
    # Not under .cache: Podman refuses a runroot path over 50 characters.
    pmdir=$(mktemp -d /tmp/pmb-XXXXXX)
    pm() { "$bin" --root "$pmdir/root" --runroot "$pmdir/run" --storage-driver vfs "$@"; }
    # $bin itself, not through pm(): $! must be its pid, or the kill below
    # hits the subshell and leaves the service running.
    "$bin" --root "$pmdir/root" --runroot "$pmdir/run" --storage-driver vfs system service --time=0 "unix://$pmdir/podman.sock" >"$pmdir/service.log" 2>&1 &
    svc=$!
    cleanup() {
      pm rm --all --force --time 0 >/dev/null 2>&1 || true
      kill "$svc" 2>/dev/null || true
      wait "$svc" 2>/dev/null || true
      rm -rf "$pmdir"
    }
    trap cleanup EXIT
    for _ in $(seq 100); do [[ -S $pmdir/podman.sock ]] && break; sleep 0.1; done
    url=unix://$pmdir/podman.sock
    ocne() { HOME=$pmdir/home "$HELPER" --url "$url" "$@"; }
    reset_images() { pm rmi --all --force >/dev/null 2>&1 || true; }
    bench_load
    bench_serve
  )
}

bench_load() {
  local size mo mp r t0 t1
  local -a T_OURS=() T_PODMAN=()
  size=$(stat -c %s "$archive")
  echo
  echo "=== $label load: $(calc "%.1f" "$size/1048576") MiB archive server image ($archive), median of $RUNS runs"
  echo "    ours:   podman-ocne --url $url load --file ARCHIVE  (podman system service)"
  echo "    podman: podman load -i ARCHIVE  (Podman $(pm --version | awk '{print $3}') CLI, same storage)"
  cat "$archive" >/dev/null # page cache: both sides read it warm
  # Warm-up, untimed.
  reset_images; ocne load --file "$archive" >/dev/null
  reset_images; pm load -i "$archive" >/dev/null 2>&1
  for ((r = 1; r <= RUNS; r++)); do
    reset_images; sync
    t0=$(now); ocne load --file "$archive" >/dev/null; t1=$(now)
    T_OURS+=("$(calc "%.3f" "$t1-$t0")")
    reset_images; sync
    t0=$(now); pm load -i "$archive" >/dev/null 2>&1; t1=$(now)
    T_PODMAN+=("$(calc "%.3f" "$t1-$t0")")
  done
  mo=$(median <<<"${T_OURS[*]}")
  mp=$(median <<<"${T_PODMAN[*]}")
  printf '  %-34s %7s s  (%s)\n' "podman-ocne load" "$mo" "${T_OURS[*]}"
  printf '  %-34s %7s s  (%s)\n' "podman load -i" "$mp" "${T_PODMAN[*]}"
  printf '  %-34s %7s\n' "ratio ours/podman ($label)" "$(calc "%.2f" "$mo/$mp")"
}

# --- serve start-up to the first ostree pull ---------------------------------
bench_serve() {
  local port r repo t0 t1 t2
  local -a T_SERVE=() T_PULL=() T_TOTAL=()
  reset_images
  ocne load --file "$archive" >/dev/null
  port=${BENCH_PODMAN_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
  echo
  echo "=== $label serve start-up: podman-ocne serve until the first successful ostree pull (port $port), median of $RUNS runs"
  for ((r = 0; r <= RUNS; r++)); do
    repo=$pmdir/pull
    rm -rf "$repo"
    ostree --repo="$repo" init --mode=bare-user
    ostree --repo="$repo" remote add --no-gpg-verify ock "http://127.0.0.1:$port/ostree"
    t0=$(now)
    ocne serve --port "$port" --advertise-address 127.0.0.1 --kickstart auto --replace >/dev/null
    t1=$(now)
    ostree --repo="$repo" pull ock ock >/dev/null
    t2=$(now)
    [[ $(ostree --repo="$repo" rev-parse ock:ock) == "$commit" ]] || die "$label: pulled the wrong commit"
    ocne stop >/dev/null
    if ((r > 0)); then # run 0 is the warm-up
      T_SERVE+=("$(calc "%.3f" "$t1-$t0")")
      T_PULL+=("$(calc "%.3f" "$t2-$t1")")
      T_TOTAL+=("$(calc "%.3f" "$t2-$t0")")
    fi
  done
  ostree --repo="$repo" fsck >/dev/null || die "$label: ostree fsck of the pulled repository failed"
  printf '  %-34s %7s s  (%s)\n' "serve until the repository answers" "$(median <<<"${T_SERVE[*]}")" "${T_SERVE[*]}"
  printf '  %-34s %7s s  (%s)\n' "then ostree pull (whole commit)" "$(median <<<"${T_PULL[*]}")" "${T_PULL[*]}"
  printf '  %-34s %7s s  (%s)\n' "start to first successful pull" "$(median <<<"${T_TOTAL[*]}")" "${T_TOTAL[*]}"
}

bench_podman "Podman 4.3" podman
bench_podman "Podman 5" "$PODMAN5" CONTAINERS_CONF_OVERRIDE="$ROOT/test/scripts/containers-podman5.conf" PODMAN_IGNORE_CGROUPSV1_WARNING=1
