#!/usr/bin/env bash
# `make bench`, in-cluster half: what building in the cluster costs.
#
#  1. `create` in the test cluster (test/cluster) against `create --local` on
#     this machine, both pulling the 1x bench fixture (lib.sh) from the
#     cluster's registry: the ratio is the overhead of the builder pod
#     (scheduling, start, status polling) and of bringing the result back.
#  2. Our transfer of the result (HTTP through a port-forward, digest
#     checked: the rate `create -v` reports) against `kubectl exec cat` of
#     the same bytes from a pod: the throughput ratio (> 1: ours is faster).
#     The exec side is timed around the whole kubectl command; ours inside
#     the plugin, from the first request: on a ~180 MiB file the difference
#     (one process start) is a few percent.
#
# Starts the test cluster when it is not up, and then stops it again. Every
# side runs once to warm up (the node pulls the images), then BENCH_RUNS
# times, alternating; medians are shown. Exits 0 when all measurements ran.
set -euo pipefail

# shellcheck source=test/bench/lib.sh
. "$(dirname "$0")/lib.sh"

RUNS=${BENCH_RUNS:-3}
OUT=${BENCH_OUT:-$CACHE/out}/cluster
NS=ocne-bench
need_packages time busybox-static skopeo

export CLUSTER_CACHE=${CLUSTER_CACHE:-$HOME/.cache/ocne-image/cluster}
up_log=$(mktemp)
KC=$(test/cluster/up.sh 2>"$up_log" | tail -n 1) || { cat "$up_log" >&2; die "the test cluster did not start"; }
cleanup() {
  "$KUBECTL" --kubeconfig "$KC" delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
  rm -rf "$OUT"
}
if grep -q 'already up' "$up_log"; then
  trap cleanup EXIT
else # ours: leave the host as it was
  trap 'cleanup; test/cluster/down.sh >/dev/null 2>&1' EXIT
fi
rm -f "$up_log"
KUBECTL=$CLUSTER_CACHE/bin/kubectl
REG=127.0.0.1:5000    # the registry, from this machine
PODREG=10.244.0.1:5000 # the same, from the node and pods

fixture 1
rm -rf "$OUT"
mkdir -p "$OUT"
skopeo copy -q --dest-tls-verify=false "oci:$FIX/oci-gzip:$TAG" "docker://$REG/bench/ock-ostree:$TAG"
# By digest: the node caches tags, and each build of the plugin differs.
pushed=$("$PLUGIN" builder-image --destination "docker://$REG/ocne/builder:bench" --tls-verify=false)
BUILDER=$PODREG/ocne/builder@${pushed#*@}

SIDES=(local cluster)
declare -A LABEL=([local]="create --local (pull from the registry)" [cluster]="create in the cluster (builder pod)")
command_for() {
  local o=$2
  case $1 in
  local) CMD=("$PLUGIN" create --local --os-registry "$REG/bench/ock-ostree" --os-tag "$TAG" --version "$TAG" --tls-verify=false --output-file "$o/ock.tar") ;;
  cluster) CMD=("$PLUGIN" create --kubeconfig "$KC" -n "$NS" --builder-image "$BUILDER" --os-registry "$PODREG/bench/ock-ostree"
    --os-tag "$TAG" --version "$TAG" --tls-verify=false --output-file "$o/ock.tar" -v) ;;
  esac
}

declare -A T
FETCH_RATES=""
measure() { # SIDE RUN
  local o=$OUT/$1-$2 tf e
  mkdir -p "$o"
  command_for "$1" "$o"
  tf=$(mktemp)
  sync
  /usr/bin/time -f '%e' -o "$tf" "${CMD[@]}" >"$o.out" 2>"$o.log" || { cat "$o.log" >&2; die "$1 failed: $(shell_words "${CMD[@]}")"; }
  e=$(<"$tf")
  rm -f "$tf"
  [[ $2 == warmup ]] && return 0
  T[$1]+=" $e"
  if [[ $1 == cluster ]]; then
    # "fetched N bytes in S s (R MiB/s)"
    FETCH_RATES+=" $(sed -n 's/^fetched \([0-9]*\) bytes in \([0-9.]*\) s.*/\1 \2/p' "$o.log" | awk '{printf "%.1f", $1/1048576/$2}')"
    RESULT=$o/ock.tar
  fi
}

echo
echo "=== in-cluster create vs --local, 1x fixture ($FIX)"
for side in "${SIDES[@]}"; do
  command_for "$side" OUT
  printf '    %-8s %s\n' "$side:" "$(shell_words "${CMD[@]}")"
done
for side in "${SIDES[@]}"; do measure "$side" warmup; done
for ((r = 1; r <= RUNS; r++)); do
  for side in "${SIDES[@]}"; do measure "$side" "run$r"; done
done
loc=$(median <<<"${T[local]}") clu=$(median <<<"${T[cluster]}")
printf '  %-42s %6s s  (%s)\n' "${LABEL[local]}" "$loc" "${T[local]# }"
printf '  %-42s %6s s  (%s)\n' "${LABEL[cluster]}" "$clu" "${T[cluster]# }"
OVERHEAD=$(calc "%.2f" "$clu/$loc")
echo "  in-cluster / local: $OVERHEAD"

# --- transfer: our fetch vs kubectl exec cat -----------------------------------
SIZE=$(stat -c %s "$RESULT")
want=$(sha256sum "$RESULT" | cut -d' ' -f1)
digest=$("$CONVBENCH" catimage -busybox /bin/busybox -file "$RESULT" -dest "docker://$REG/bench/cat:bench")
"$KUBECTL" --kubeconfig "$KC" -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: exec-cat}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: cat
    image: $PODREG/bench/cat@$digest
    command: [/bin/busybox, sleep, "3600"]
EOF
"$KUBECTL" --kubeconfig "$KC" -n "$NS" wait --for=condition=Ready pod/exec-cat --timeout=120s >/dev/null
EXEC_RATES=""
for ((r = 0; r <= RUNS; r++)); do # run 0 warms up
  tf=$(mktemp)
  /usr/bin/time -f '%e' -o "$tf" "$KUBECTL" --kubeconfig "$KC" -n "$NS" exec exec-cat -- /bin/busybox cat "/data/$(basename "$RESULT")" >"$OUT/exec-cat.tar"
  e=$(<"$tf")
  rm -f "$tf"
  [[ $(sha256sum "$OUT/exec-cat.tar" | cut -d' ' -f1) == "$want" ]] || die "kubectl exec cat returned other bytes"
  ((r)) && EXEC_RATES+=" $(calc "%.1f" "$SIZE/1048576/$e")"
done
ours=$(median <<<"$FETCH_RATES") theirs=$(median <<<"$EXEC_RATES")
TRANSFER=$(calc "%.2f" "$ours/$theirs")
echo
echo "=== transfer of the $(mib "$SIZE") MiB result from the pod"
printf '  %-42s %6s MiB/s  (%s)\n' "ours: port-forward, HTTP, sha256 checked" "$ours" "${FETCH_RATES# }"
printf '  %-42s %6s MiB/s  (%s)\n' "kubectl exec cat" "$theirs" "${EXEC_RATES# }"
echo "  ours / kubectl exec cat: $TRANSFER"
echo
echo "=== summary: in-cluster create / --local $OVERHEAD; transfer ours / kubectl exec cat $TRANSFER ($RUNS runs, $(nproc) CPUs)"
