#!/usr/bin/env bash
# `make loadtest`: a fleet installing at once. N real `ostree pull` clients
# (libostree's CLI, each into its own fresh bare-user repository, the mode
# Anaconda pulls into) start together against the same archive served by
#
#   podman    podman-ocne serve: our archive server image in a private Podman
#             service (own storage under /tmp, test/scripts/containers.conf),
#             through the published port
#   cluster   kubectl ocne-image serve on the test cluster (test/cluster;
#             started if it is not up, and then stopped again), through the
#             NodePort from this host
#   nginx     Debian nginx on this host serving the same archive directory,
#             extracted from the same image: the peer
#   host      (information) the archive server binary from the same image,
#             run on this host like nginx: the difference to podman and
#             cluster is the container network path (bridge, NAT), the
#             difference to nginx is the server itself
#
# For each N, the servers take turns (round-robin, so slow phases of this
# shared machine hit all of them). Before each timed round the server gets
# one untimed pull (its files back in the page cache, which this VM drops
# after about a minute) and `sync` flushes the previous round's writes.
# Each round prints its wall time (first pull started to last pull done),
# median and slowest pull, HTTP requests (counted in the access logs of
# nginx and the Podman container; for the cluster, whose kubelet rotates
# container logs away, the clients' object count plus nginx's per-pull
# overhead) and requests/s. After timing, every repository must hold the
# commit and pass `ostree fsck`.
#
# Targets: no failed pull at any N (the issue asks for N=50), and our
# servers' wall time at most nginx's (ratio <= 1). Missed targets are marked
# MISSED. Exits 0 when everything ran, 1 when a pull failed or pulled
# something wrong, or when a server could not be set up.
#
# Fixtures (test/bench/lib.sh, cached in .cache/bench/fixtures): N up to
# LOADTEST_FULL_MAX pull the 1x bench fixture (~290 MiB, ~20k files).
# Larger N pull a small fixture (~8k files of the same kinds, ~30 MiB):
# each pull costs its client ~4 s of CPU per 20k objects, so 50 clients of
# the 1x fixture (and ~15 GB of writes) would take this 2-core machine over
# ten minutes per server, measuring mostly the clients; a run should stay
# under ~20 minutes. LOADTEST_FULL_MAX=50 pulls the 1x fixture at N=50 too.
#
# Knobs (environment):
#   LOADTEST_N          "10 25 50"  client counts
#   LOADTEST_RUNS       1           timed rounds per server and N (medians)
#   LOADTEST_SERVERS    "podman cluster nginx" (add host for the information row)
#   LOADTEST_FULL_MAX   25          largest N that pulls the 1x fixture
#   LOADTEST_REPLICAS   2           server pods for the cluster side
#   LOADTEST_FSYNC      0           1: the clients keep core.fsync on (as
#                                   Anaconda does; then the disk dominates)
#   LOADTEST_OUT        .cache/loadtest  client repositories (on disk, not
#                                   tmpfs), images, logs; each round's
#                                   repositories are deleted before the next
set -euo pipefail

# shellcheck source=test/bench/lib.sh
. "$(dirname "$0")/lib.sh"

NS_LIST=${LOADTEST_N:-"10 25 50"}
RUNS=${LOADTEST_RUNS:-1}
SERVERS=${LOADTEST_SERVERS:-"podman cluster nginx"}
FULL_MAX=${LOADTEST_FULL_MAX:-25}
REPLICAS=${LOADTEST_REPLICAS:-2}
FSYNC=${LOADTEST_FSYNC:-0}
OUT=${LOADTEST_OUT:-$ROOT/.cache/loadtest}
HELPER=$ROOT/bin/podman-ocne
LOADPULL=$CACHE/bin/loadpull
RATIO_TARGET=1.00

[[ -x $HELPER ]] || die "$HELPER missing; run make build"
command -v nginx >/dev/null || die "nginx missing; run make deps"
need_packages skopeo python3
go build -trimpath -o "$LOADPULL" ./test/bench/cmd/loadpull

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# json_get PATH: the value at PATH (keys and list indexes joined by dots)
# of the JSON on stdin; lists print one item per line.
json_get() {
  python3 -c 'import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print("\n".join(d) if isinstance(d, list) else d)' "$1"
}

# --- fixtures and their archive server images ----------------------------------
# fixture_for N: "full" or "small".
fixture_for() { if (($1 <= FULL_MAX)); then echo full; else echo small; fi; }
KINDS=()
for n in $NS_LIST; do
  k=$(fixture_for "$n")
  [[ " ${KINDS[*]} " == *" $k "* ]] || KINDS+=("$k")
done

declare -A COMMIT IMAGE VERSION ARCHIVE FILES BYTES
VERSION=([full]=1.31 [small]=1.30) # image tags, so both can be loaded side by side
mkdir -p "$OUT/images" "$OUT/archives"
for k in "${KINDS[@]}"; do
  if [[ $k == full ]]; then
    fixture 1
  else
    EXTRA=400 SMALL=7600 BIG=$((1 << 20)) fixture 1
  fi
  # shellcheck disable=SC1091
  source "$FIX/stats"
  COMMIT[$k]=$commit FILES[$k]=$files BYTES[$k]=$bytes
  # Made every run (a few seconds): the image carries the server as built now.
  IMAGE[$k]=$OUT/images/ock-$k.tar
  "$PLUGIN" create --local --os-registry "oci:$FIX/oci-gzip" --os-tag "$TAG" --version "${VERSION[$k]}" \
    --output "${IMAGE[$k]}" >/dev/null
  # The host's copy for nginx: the image's layers unpacked, cached by the
  # digest of the last layer (the archive), so it is exactly the bytes our
  # server serves; DIR/ostree like in the image.
  layers=$(tar -xOf "${IMAGE[$k]}" manifest.json | json_get 0.Layers)
  last=$(tail -n 1 <<<"$layers")
  ARCHIVE[$k]=$OUT/archives/${last##*/}
  if [[ ! -d ${ARCHIVE[$k]} ]]; then
    tmp=${ARCHIVE[$k]}.tmp
    rm -rf "$tmp"
    mkdir -p "$tmp/blobs"
    mkdir "$tmp/root"
    # shellcheck disable=SC2086 # digests: no spaces
    tar -xf "${IMAGE[$k]}" -C "$tmp/blobs" $layers
    for l in $layers; do tar -xf "$tmp/blobs/$l" -C "$tmp/root"; done
    mkdir "$tmp/archive"
    mv "$tmp/root/usr/share/nginx/html/ostree" "$tmp/archive/ostree"
    mv "$tmp/archive" "${ARCHIVE[$k]}"
    rm -rf "$tmp"
  fi
  log "loadtest: $k fixture: ${FILES[$k]} files, $(mib "${BYTES[$k]}") MiB, commit ${COMMIT[$k]:0:12}"
done

# --- servers -------------------------------------------------------------------
declare -A URL
CLEANUP=()
cleanup() {
  local i
  for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do eval "${CLEANUP[i]}" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_nginx() {
  local d=$OUT/nginx port
  rm -rf "$d"
  mkdir -p "$d/www" "$d/tmp"
  for k in "${KINDS[@]}"; do
    ln -s "${ARCHIVE[$k]}" "$d/www/$k"
  done
  port=$(free_port)
  # The settings a site would tune nginx with for static files. Workers run
  # as this user: the archive may sit under a home directory that nginx's
  # default user (nobody) cannot enter. Every cached open file is a
  # descriptor: the cache stays well below the limit, else nginx fails
  # requests with EMFILE (and the clients' retries hide it).
  cat >"$d/nginx.conf" <<EOF
user $(id -un);
worker_processes auto;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 4096; }
http {
  access_log $d/access.log;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  keepalive_requests 100000;
  open_file_cache max=$(($(ulimit -n) / 4)) inactive=60s;
  default_type application/octet-stream;
  client_body_temp_path $d/tmp; proxy_temp_path $d/tmp; fastcgi_temp_path $d/tmp;
  uwsgi_temp_path $d/tmp; scgi_temp_path $d/tmp;
  server {
    listen 127.0.0.1:$port;
    root $d/www;
  }
}
EOF
  nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;' 2>"$d/stderr.log" &
  NGINX_PID=$!
  CLEANUP+=("kill $NGINX_PID; wait $NGINX_PID")
  for k in "${KINDS[@]}"; do
    URL[nginx:$k]=http://127.0.0.1:$port/$k/ostree
    wait_url "${URL[nginx:$k]}/config" || { cat "$d/stderr.log" "$d/error.log" >&2; die "nginx did not answer"; }
  done
}

wait_url() { local i; for ((i = 0; i < 100; i++)); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# The server binary the images hold, run on this host.
declare -A HOST_PID
start_host() {
  local k port l0
  for k in "${KINDS[@]}"; do
    l0=$(tar -xOf "${IMAGE[$k]}" manifest.json | json_get 0.Layers | sed -n 1p)
    tar -xOf "${IMAGE[$k]}" "$l0" | tar -xO usr/bin/ocne-archive-server >"$OUT/archive-server-$k"
    chmod +x "$OUT/archive-server-$k"
    port=$(free_port)
    "$OUT/archive-server-$k" --root "${ARCHIVE[$k]}" --listen "127.0.0.1:$port" >"$OUT/host-$k.log" 2>"$OUT/host-$k.err" &
    HOST_PID[$k]=$!
    CLEANUP+=("kill $!; wait $!")
    URL[host:$k]=http://127.0.0.1:$port/ostree
    wait_url "${URL[host:$k]}/config" || { cat "$OUT/host-$k.err" >&2; die "the archive server on this host did not answer"; }
  done
}

PMDIR=
start_podman() {
  # Not under .cache: Podman refuses a runroot path over 50 characters.
  PMDIR=$(mktemp -d /tmp/plt-XXXXXX)
  PM_FLAGS=(--root "$PMDIR/root" --runroot "$PMDIR/run" --storage-driver vfs)
  CLEANUP+=("rm -rf $PMDIR")
  export CONTAINERS_CONF=$ROOT/test/scripts/containers.conf
  # podman itself, not through pm(): $! must be its pid.
  podman "${PM_FLAGS[@]}" system service --time=0 "unix://$PMDIR/podman.sock" >"$PMDIR/service.log" 2>&1 &
  local svc=$! k out port
  CLEANUP+=("kill $svc; wait $svc")
  CLEANUP+=("pm rm --all --force --time 0")
  for _ in $(seq 100); do [[ -S $PMDIR/podman.sock ]] && break; sleep 0.1; done
  for k in "${KINDS[@]}"; do
    ocne load --file "${IMAGE[$k]}" >/dev/null
    port=$(free_port)
    # (Its stderr only warns that no Kickstart is served.)
    out=$(ocne serve --name "ock-$k" --image "localhost/ock-ostree:${VERSION[$k]}" --port "$port" \
      --advertise-address 127.0.0.1 --restart no -o json 2>"$PMDIR/serve.err") ||
      { cat "$PMDIR/serve.err" >&2; die "podman-ocne serve of the $k archive failed"; }
    URL[podman:$k]=$(json_get site.ostreeURL <<<"$out")
  done
}
pm() { podman "${PM_FLAGS[@]}" "$@"; }
ocne() { HOME=$PMDIR/home "$HELPER" --url "unix://$PMDIR/podman.sock" "$@"; }

KC= NS=ocne-loadtest-$$ KUBECTL=
start_cluster() {
  need_packages skopeo
  export CLUSTER_CACHE=${CLUSTER_CACHE:-$HOME/.cache/ocne-image/cluster}
  KUBECTL=$CLUSTER_CACHE/bin/kubectl
  local up_log k dest digest out
  up_log=$(mktemp)
  KC=$(test/cluster/up.sh 2>"$up_log" | tail -n 1) || { cat "$up_log" >&2; die "the test cluster did not start"; }
  # Shared with others when it was up already: only stop what this started.
  grep -q 'already up' "$up_log" || CLEANUP=("test/cluster/down.sh" "${CLEANUP[@]}")
  rm -f "$up_log"
  CLEANUP+=("$KUBECTL --kubeconfig $KC delete namespace $NS --wait=false")
  for k in "${KINDS[@]}"; do
    dest=127.0.0.1:5000/loadtest/ock-ostree:${VERSION[$k]}
    "$PLUGIN" upload --file "${IMAGE[$k]}" --destination "docker://$dest" --tls-verify=false >/dev/null
    # By digest: the node caches tags, and every build of the server differs.
    digest=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$dest")
    out=$("$PLUGIN" serve --kubeconfig "$KC" -n "$NS" --name "ock-$k" --replicas "$REPLICAS" \
      --image "10.244.0.1:5000/loadtest/ock-ostree@$digest" --timeout 3m -o json) ||
      die "kubectl ocne-image serve of the $k archive failed"
    URL[cluster:$k]=$(json_get ostreeURL <<<"$out")
  done
}

# requests SERVER KIND: the requests the server has logged so far, or
# nothing when its log is not complete.
requests() {
  case $1 in
  nginx) grep -c "GET /$2/" "$OUT/nginx/access.log" || true ;;
  host) wc -l <"$OUT/host-$2.log" ;;
  podman) pm logs "ock-$2" 2>/dev/null | wc -l ;;
  cluster) ;;
  esac
}

# server_cpu SERVER KIND: CPU seconds (user + system) the server has used so
# far: the cost of the same requests, which this shared machine's noise
# does not blur the way it blurs wall time.
server_cpu() {
  local t=0 u
  case $1 in
  nginx) proc_cpu "$NGINX_PID" $(pgrep -P "$NGINX_PID") ;;
  host) proc_cpu "${HOST_PID[$2]}" ;;
  podman) proc_cpu "$(pm inspect --format '{{.State.Pid}}' "ock-$2")" ;;
  cluster)
    # Pods: their cgroups (cgroupfs driver), pause container included.
    for u in $("$KUBECTL" --kubeconfig "$KC" -n "$NS" get pods -l "app.kubernetes.io/instance=ock-$2" -o 'jsonpath={.items[*].metadata.uid}'); do
      t=$((t + $(cat /sys/fs/cgroup/cpuacct/kubepods/*/pod"$u"/cpuacct.usage 2>/dev/null || echo 0)))
    done
    calc "%.2f" "$t/1e9"
    ;;
  esac
}
proc_cpu() {
  local t=0 p
  for p; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  calc "%.2f" "$t/$(getconf CLK_TCK)"
}

declare -A LABEL=(
  [podman]="podman-ocne serve (Podman)"
  [cluster]="kubectl ocne-image serve ($REPLICAS pods)"
  [host]="  same server on this host (info)"
  [nginx]="nginx $(nginx -v 2>&1 | sed 's|.*/||') (peer)"
)
START=$SECONDS
for s in $SERVERS; do
  case $s in
  nginx) start_nginx ;;
  podman) start_podman ;;
  cluster) start_cluster ;;
  host) start_host ;;
  *) die "unknown server $s in LOADTEST_SERVERS (podman, cluster, host, nginx)" ;;
  esac
done
log "loadtest: servers up in $((SECONDS - START))s"
for k in "${KINDS[@]}"; do for s in $SERVERS; do log "  $s $k: ${URL[$s:$k]}"; done; done

# --- rounds --------------------------------------------------------------------
fsync_flag=()
[[ $FSYNC == 1 ]] && fsync_flag=(-fsync)
FAILED=0
declare -A WALL P50 MAX REQ OBJ FAIL PERPULL CPU

# pull SERVER KIND N: one round; sets the R_* values from loadpull's line.
pull() {
  local s=$1 k=$2 n=$3 line rc=0
  rm -rf "$OUT/clients"
  line=$("$LOADPULL" -url "${URL[$s:$k]}" -n "$n" -dir "$OUT/clients" -commit "${COMMIT[$k]}" "${fsync_flag[@]}" 2>"$OUT/loadpull.err") || rc=$?
  if ((rc)); then
    cat "$OUT/loadpull.err" >&2
    [[ -n $line ]] || die "loadpull against $s failed to run"
  fi
  eval "$(tr ' ' '\n' <<<"$line" | sed 's/^/R_/')"
  return $rc
}

echo
echo "=== $(nproc) CPUs, ostree $OSTREE_VERSION; clients: ostree pull into bare-user repos (core.fsync=$([[ $FSYNC == 1 ]] && echo true || echo false)), all started at once"
for k in "${KINDS[@]}"; do
  echo "    $k fixture: ${FILES[$k]} files, $(mib "${BYTES[$k]}") MiB; archive $(du -sm "${ARCHIVE[$k]}" | cut -f1) MiB, $(find "${ARCHIVE[$k]}" -type f | wc -l) files; commit ${COMMIT[$k]:0:12}"
done
echo "    command per round: $LOADPULL -url URL -n N -dir $OUT/clients -commit COMMIT ${fsync_flag[*]}"

for n in $NS_LIST; do
  k=$(fixture_for "$n")
  for ((r = 1; r <= RUNS; r++)); do
    for s in $SERVERS; do
      key=$n:$s
      if ! pull "$s" "$k" 1; then # counts: a fleet's first node would have failed
        FAILED=1
        FAIL[$key]=$((${FAIL[$key]:-0} + 1))
        log "loadtest: $s, N=$n: the warm-up pull failed"
      fi
      before=$(requests "$s" "$k")
      sync
      cpu0=$(server_cpu "$s" "$k")
      if pull "$s" "$k" "$n"; then :; else
        FAILED=1
        log "loadtest: $s, N=$n: $R_failed pulls failed, $R_bad pulled something wrong"
      fi
      cpu1=$(server_cpu "$s" "$k")
      after=$(requests "$s" "$k")
      # loadpull's fsck and clean-up run after the pulls: the server is idle.
      CPU[$n:$s]+=" $(calc "%.2f" "$cpu1 - $cpu0")"
      WALL[$key]+=" $R_wall" P50[$key]+=" $R_p50" MAX[$key]+=" $R_max" OBJ[$key]+=" $R_objects"
      FAIL[$key]=$((${FAIL[$key]:-0} + R_failed + R_bad))
      if [[ -n $after ]]; then
        REQ[$key]+=" $((after - before))"
        # What a client asks for besides objects (summary, deltas, refs).
        PERPULL[$k]=$(((after - before - R_objects) / n))
      fi
      log "loadtest: N=$n $s run $r: ${R_wall}s, $R_failed failed"
    done
  done
done

# --- report --------------------------------------------------------------------
SUMMARY=()
fmt='%-34s %7s %-22s %6s %6s %9s %8s %8s %8s  %-7s %-14s\n'
for n in $NS_LIST; do
  k=$(fixture_for "$n")
  echo
  printf "$fmt" "N=$n, $k fixture, median of $RUNS" "wall" "(each run)" "p50" "max" "requests" "req/s" "srv CPU" "CPU/req" "failed" "time/nginx"
  printf "$fmt" "" "s" "" "s" "s" "" "" "s" "us" "" "<= $RATIO_TARGET"
  ref=
  [[ " $SERVERS " == *" nginx "* ]] && ref=$(median <<<"${WALL[$n:nginx]}")
  for s in $SERVERS; do
    key=$n:$s
    wall=$(median <<<"${WALL[$key]}")
    req= note=
    [[ -n ${REQ[$key]:-} ]] && req=$(median <<<"${REQ[$key]}")
    if [[ -z $req && -n ${PERPULL[$k]:-} ]]; then
      req=$(calc "%d" "$(median <<<"${OBJ[$key]}") + ${PERPULL[$k]} * $n")
      note="*"
    fi
    rps= cpu=$(median <<<"${CPU[$key]}") cpr=
    [[ -n $req ]] && rps=$(calc "%.0f" "$req/$wall") cpr=$(calc "%.0f" "$cpu*1e6/$req")
    fmark=$(mark "${FAIL[$key]}" "v == 0")
    ratio=
    if [[ -n $ref && $s != nginx ]]; then
      ratio=$(calc "%.2f" "$wall/$ref")
      ratio="$ratio $(mark "$ratio" "v <= $RATIO_TARGET")"
      SUMMARY+=("N=$n $s: failed pulls ${FAIL[$key]} $fmark; wall time / nginx's $ratio")
    else
      SUMMARY+=("N=$n $s: failed pulls ${FAIL[$key]} $fmark")
    fi
    printf "$fmt" "${LABEL[$s]}" "$wall" "(${WALL[$key]# })" "$(median <<<"${P50[$key]}")" "$(median <<<"${MAX[$key]}")" \
      "$req$note" "$rps" "$cpu" "$cpr" "${FAIL[$key]} $fmark" "$ratio"
  done
done
echo "(wall: first pull started to last pull done; p50/max: single pulls; requests from the access logs, * computed:"
echo " the clients' objects plus the per-pull requests the logged servers saw, as the kubelet rotates container logs away;"
echo " srv CPU: the server's user+system CPU during the round (the pods' cgroups for the cluster), CPU/req per request)"
echo
echo "=== summary (targets: no failed pull; wall time ours / nginx <= $RATIO_TARGET)"
printf '  %s\n' "${SUMMARY[@]}"
echo
echo "loadtest: done in $((SECONDS - START))s"
exit $FAILED
