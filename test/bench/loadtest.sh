#!/usr/bin/env bash
# `make loadtest`: a fleet installing at once. N real `ostree pull` clients
# (libostree's CLI, each into its own fresh bare-user repository, the mode
# Anaconda pulls into) start together against the same archive served by
#
#   podman         podman-ocne serve: our archive server image in a private
#                  Podman service (own storage under /tmp,
#                  test/scripts/containers.conf), through the published port
#   podman-nginx   the peer on the same path: Debian's nginx in a container
#                  built FROM our image (same archive layer), run in the same
#                  Podman service with the same port publishing
#   cluster        kubectl ocne-image serve on the test cluster (test/cluster;
#                  started if it is not up, and then stopped again), through
#                  the NodePort from this host
#   cluster-nginx  the peer on the same path: that nginx image as a
#                  Deployment with as many replicas behind a NodePort Service
#   nginx          Debian nginx on this host serving the same archive
#                  directory, extracted from the same image: the issue's peer
#   host           (information) the archive server binary from the same
#                  image, run on this host like nginx
#
# A container's replies cross the bridge, NAT and veth before they reach a
# client on the host, and the sender pays for that path: a server in a
# container costs several times the CPU per request of the same server on
# the host. So each of our servers is compared with nginx on the same path
# (podman with podman-nginx, cluster with cluster-nginx, host with nginx),
# and also with nginx on the host, the peer the issue names. Every nginx
# gets the settings a site would tune it with for static files, including
# an access log written in batches as ours is.
#
# For each N, the servers take turns (round-robin, so slow phases of this
# shared machine hit all of them). Before each timed round the server gets
# one untimed pull (its files back in the page cache, which this VM drops
# after about a minute) and `sync` flushes the previous round's writes.
# Each round prints its wall time (first pull started to last pull done),
# median and slowest pull, HTTP requests (counted in the access logs of the
# nginx on this host and the Podman containers; for the cluster, whose
# kubelet rotates container logs away, the clients' object count plus
# nginx's per-pull overhead) and requests/s. After timing, every repository
# must hold the commit and pass `ostree fsck`.
#
# Targets: no failed pull at any N (the issue asks for N=50), and our
# servers' wall time at most nginx's (ratio <= 1). Missed targets are marked
# MISSED. Exits 0 when everything ran, 1 when a pull failed or pulled
# something wrong, or when a server could not be set up.
#
# Fixtures (test/bench/lib.sh, cached in .cache/bench/fixtures): N up to
# LOADTEST_FULL_MAX pull the 1x bench fixture (~290 MiB, ~20k files).
# Larger N pull a small fixture (~4k files of the same kinds, ~20 MiB):
# each pull costs its client ~4 s of CPU per 20k objects, so 50 clients of
# the 1x fixture (and ~15 GB of writes) would take this 2-core machine over
# ten minutes per server, measuring mostly the clients. A round then serves
# 100k-200k requests at every N, and a run with the default servers takes
# about 20 minutes. LOADTEST_FULL_MAX=50 pulls the 1x fixture at every N.
#
# Knobs (environment):
#   LOADTEST_N          "10 25 50"  client counts
#   LOADTEST_RUNS       1           timed rounds per server and N (medians)
#   LOADTEST_SERVERS    "podman podman-nginx cluster cluster-nginx nginx"
#                                   (add host for the information row)
#   LOADTEST_FULL_MAX   10          largest N that pulls the 1x fixture
#   LOADTEST_REPLICAS   2           server pods for the cluster sides
#   LOADTEST_OSTREE     ostree      the clients' ostree CLI; with a current
#                                   libostree (make ostree-new prints it)
#                                   the servers' static delta is pulled
#                                   without the 2022.7 walk: the fleet row
#                                   with deltas, against nginx's loose
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
SERVERS=${LOADTEST_SERVERS:-"podman podman-nginx cluster cluster-nginx nginx"}
FULL_MAX=${LOADTEST_FULL_MAX:-10}
REPLICAS=${LOADTEST_REPLICAS:-2}
FSYNC=${LOADTEST_FSYNC:-0}
CLIENT=${LOADTEST_OSTREE:-ostree}
CLIENT_VERSION=$("$CLIENT" --version | awk -F"'" '/Version/ {print $2}')
OUT=${LOADTEST_OUT:-$ROOT/.cache/loadtest}
HELPER=$ROOT/bin/podman-ocne
LOADPULL=$CACHE/bin/loadpull
RATIO_TARGET=1.00

[[ -x $HELPER ]] || die "$HELPER missing; run make build"
command -v nginx >/dev/null || die "nginx missing; run make deps"
need_packages skopeo python3
go build -trimpath -o "$LOADPULL" ./test/bench/cmd/loadpull

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
    EXTRA=200 SMALL=3800 BIG=$((1 << 20)) fixture 1
  fi
  # shellcheck disable=SC1091
  source "$FIX/stats"
  COMMIT[$k]=$commit FILES[$k]=$files BYTES[$k]=$bytes
  # Made every run (a few seconds): the image carries the server as built now.
  IMAGE[$k]=$OUT/images/ock-$k.tar
  "$PLUGIN" create --local --os-registry "oci:$FIX/oci-gzip" --os-tag "$TAG" --version "${VERSION[$k]}" \
    --output-file "${IMAGE[$k]}" >/dev/null
  # The host's copy for nginx: exactly the bytes our server serves.
  ARCHIVE[$k]=$(image_archive "${IMAGE[$k]}" "$OUT/archives")
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
  # Workers run as this user: the archive may sit under a home directory
  # that nginx's default user (nobody) cannot enter.
  nginx_conf "$(id -un)" "127.0.0.1:$port" "$d/www" "$d" "$d/access.log" >"$d/nginx.conf"
  nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;' 2>"$d/stderr.log" &
  NGINX_PID=$!
  CLEANUP+=("kill $NGINX_PID; wait $NGINX_PID")
  for k in "${KINDS[@]}"; do
    URL[nginx:$k]=http://127.0.0.1:$port/$k/ostree
    wait_url "${URL[nginx:$k]}/config" || { cat "$d/stderr.log" "$d/error.log" >&2; die "nginx did not answer"; }
  done
}

# The server binary the images hold, run on this host.
declare -A HOST_PID
start_host() {
  local k port envs
  for k in "${KINDS[@]}"; do
    image_server "${IMAGE[$k]}" "$OUT/archive-server-$k"
    port=$(free_port)
    # With the environment the image gives it.
    mapfile -t envs < <(image_env "${IMAGE[$k]}")
    env "${envs[@]}" "$OUT/archive-server-$k" --root "${ARCHIVE[$k]}" --listen "127.0.0.1:$port" >"$OUT/host-$k.log" 2>"$OUT/host-$k.err" &
    HOST_PID[$k]=$!
    CLEANUP+=("kill $!; wait $!")
    URL[host:$k]=http://127.0.0.1:$port/ostree
    wait_url "${URL[host:$k]}/config" || { cat "$OUT/host-$k.err" >&2; die "the archive server on this host did not answer"; }
  done
}

# podman_up: a private Podman service with our images loaded, once.
PMDIR=
podman_up() {
  [[ -z $PMDIR ]] || return 0
  # Not under .cache: Podman refuses a runroot path over 50 characters.
  PMDIR=$(mktemp -d /tmp/plt-XXXXXX)
  PM_FLAGS=(--root "$PMDIR/root" --runroot "$PMDIR/run" --storage-driver vfs)
  CLEANUP+=("rm -rf $PMDIR")
  export CONTAINERS_CONF=$ROOT/test/scripts/containers.conf
  # podman itself, not through pm(): $! must be its pid.
  podman "${PM_FLAGS[@]}" system service --time=0 "unix://$PMDIR/podman.sock" >"$PMDIR/service.log" 2>&1 &
  local svc=$! k
  CLEANUP+=("kill $svc; wait $svc")
  CLEANUP+=("pm rm --all --force --time 0")
  for _ in $(seq 100); do [[ -S $PMDIR/podman.sock ]] && break; sleep 0.1; done
  for k in "${KINDS[@]}"; do
    ocne load --file "${IMAGE[$k]}" >/dev/null
  done
}
pm() { podman "${PM_FLAGS[@]}" "$@"; }
ocne() { HOME=$PMDIR/home "$HELPER" --url "unix://$PMDIR/podman.sock" "$@"; }

start_podman() {
  podman_up
  local k out port
  for k in "${KINDS[@]}"; do
    port=$(free_port)
    # (Its stderr only warns that no Kickstart is served.)
    out=$(ocne serve --name "ock-$k" --image "localhost/ock-ostree:${VERSION[$k]}" --port "$port" \
      --advertise-address 127.0.0.1 --restart no -o json 2>"$PMDIR/serve.err") ||
      { cat "$PMDIR/serve.err" >&2; die "podman-ocne serve of the $k archive failed"; }
    URL[podman:$k]=$(json_get site.ostreeURL <<<"$out")
  done
}

# nginx_image: localhost/loadtest-nginx:VERSION for each fixture, Debian's
# nginx binary and the libraries it links on top of our image: the same
# archive layer, served from the same path. Built from files on this host;
# nothing is pulled.
NGINX_IMAGE_DONE=
nginx_image() {
  [[ -z $NGINX_IMAGE_DONE ]] || return 0
  podman_up
  local k d=$PMDIR/nginx-image lib
  mkdir -p "$d/root/etc/nginx" "$d/root/tmp/tmp" "$d/root/var/log/nginx" "$d/root/usr/sbin"
  cp /usr/sbin/nginx "$d/root/usr/sbin/"
  for lib in $(ldd /usr/sbin/nginx | grep -o '/[^ ]*'); do
    mkdir -p "$d/root$(dirname "$lib")"
    cp -L "$lib" "$d/root$lib"
  done
  echo 'root:x:0:0:root:/root:/sbin/nologin' >"$d/root/etc/passwd"
  echo 'root:x:0:' >"$d/root/etc/group"
  # The access log goes to the container's log, as ours does.
  nginx_conf root 80 /usr/share/nginx/html /tmp /dev/stdout >"$d/root/etc/nginx/nginx.conf"
  for k in "${KINDS[@]}"; do
    cat >"$d/Containerfile" <<EOF
FROM localhost/ock-ostree:${VERSION[$k]}
COPY root/ /
ENTRYPOINT ["/usr/sbin/nginx", "-c", "/etc/nginx/nginx.conf", "-g", "daemon off;"]
EOF
    pm build --pull=never -q -t "localhost/loadtest-nginx:${VERSION[$k]}" "$d" >/dev/null
  done
  NGINX_IMAGE_DONE=1
}

start_podman_nginx() {
  nginx_image
  local k port
  for k in "${KINDS[@]}"; do
    port=$(free_port)
    # Published as podman-ocne serve does: all addresses, the same NAT.
    pm run -d --name "nginx-$k" -p "$port:80" "localhost/loadtest-nginx:${VERSION[$k]}" >/dev/null
    URL[podman-nginx:$k]=http://127.0.0.1:$port/ostree
    wait_url "${URL[podman-nginx:$k]}/config" || { pm logs "nginx-$k" >&2; die "nginx in Podman did not answer"; }
  done
}

# cluster_up: the test cluster and this run's namespace, once.
KC= NS=ocne-loadtest-$$ KUBECTL=
cluster_up() {
  [[ -z $KC ]] || return 0
  need_packages skopeo
  export CLUSTER_CACHE=${CLUSTER_CACHE:-$HOME/.cache/ocne-image/cluster}
  KUBECTL=$CLUSTER_CACHE/bin/kubectl
  local up_log
  up_log=$(mktemp)
  KC=$(test/cluster/up.sh 2>"$up_log" | tail -n 1) || { cat "$up_log" >&2; die "the test cluster did not start"; }
  # Shared with others when it was up already: only stop what this started.
  grep -q 'already up' "$up_log" || CLEANUP=("test/cluster/down.sh" "${CLEANUP[@]}")
  rm -f "$up_log"
  "$KUBECTL" --kubeconfig "$KC" create namespace "$NS" >/dev/null
  CLEANUP+=("$KUBECTL --kubeconfig $KC delete namespace $NS --wait=false")
}
kc() { "$KUBECTL" --kubeconfig "$KC" -n "$NS" "$@"; }

start_cluster() {
  cluster_up
  local k dest digest out
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

# start_cluster_nginx: the nginx image as a Deployment with the same number
# of replicas behind a NodePort Service, reached from this host the same
# way as serve's.
start_cluster_nginx() {
  cluster_up
  nginx_image
  local k dest digest node port
  node=$(kc get nodes -o 'jsonpath={.items[0].status.addresses[?(@.type=="InternalIP")].address}')
  for k in "${KINDS[@]}"; do
    dest=127.0.0.1:5000/loadtest/nginx:${VERSION[$k]}
    pm push -q --tls-verify=false "localhost/loadtest-nginx:${VERSION[$k]}" "docker://$dest"
    digest=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$dest")
    kc apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: nginx-$k}
spec:
  replicas: $REPLICAS
  selector: {matchLabels: {app: nginx-$k}}
  template:
    metadata: {labels: {app: nginx-$k}}
    spec:
      # serve's seccomp profile; nginx's master needs root, which serve's
      # pods are not.
      securityContext: {seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: nginx
        image: 10.244.0.1:5000/loadtest/nginx@$digest
        ports: [{containerPort: 80}]
        readinessProbe: {httpGet: {path: /ostree/config, port: 80}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: nginx-$k}
spec:
  type: NodePort
  selector: {app: nginx-$k}
  ports: [{port: 80, targetPort: 80}]
EOF
    kc rollout status "deployment/nginx-$k" --timeout 3m >/dev/null || die "nginx in the cluster did not become ready"
    port=$(kc get service "nginx-$k" -o 'jsonpath={.spec.ports[0].nodePort}')
    URL[cluster-nginx:$k]=http://$node:$port/ostree
    wait_url "${URL[cluster-nginx:$k]}/config" || die "nginx in the cluster did not answer on $node:$port"
  done
}

# requests SERVER KIND: the requests the server has logged so far, or
# nothing when its log is not complete.
requests() {
  case $1 in
  nginx) grep -c "GET /$2/" "$OUT/nginx/access.log" || true ;;
  host) wc -l <"$OUT/host-$2.log" ;;
  podman) pm logs "ock-$2" 2>/dev/null | wc -l ;;
  podman-nginx) pm logs "nginx-$2" 2>/dev/null | grep -c '"GET ' || true ;;
  cluster | cluster-nginx) ;;
  esac
}

# server_cpu SERVER KIND: CPU seconds (user + system) the server has used so
# far: the cost of the same requests, which this shared machine's noise
# does not blur the way it blurs wall time.
server_cpu() {
  local pid
  case $1 in
  nginx) proc_cpu "$NGINX_PID" $(pgrep -P "$NGINX_PID") ;;
  host) proc_cpu "${HOST_PID[$2]}" ;;
  podman | podman-nginx)
    if [[ $1 == podman ]]; then pid=$(pm inspect --format '{{.State.Pid}}' "ock-$2"); else
      pid=$(pm inspect --format '{{.State.Pid}}' "nginx-$2"); fi
    # shellcheck disable=SC2046 # pids: one word each
    proc_cpu "$pid" $(pgrep -P "$pid")
    ;;
  cluster) pods_cpu "app.kubernetes.io/instance=ock-$2" ;;
  cluster-nginx) pods_cpu "app=nginx-$2" ;;
  esac
}
# pods_cpu SELECTOR: CPU seconds of the pods' cgroups (cgroupfs driver),
# pause containers included.
pods_cpu() {
  local t=0 u
  for u in $(kc get pods -l "$1" -o 'jsonpath={.items[*].metadata.uid}'); do
    t=$((t + $(cat /sys/fs/cgroup/cpuacct/kubepods/*/pod"$u"/cpuacct.usage 2>/dev/null || echo 0)))
  done
  calc "%.2f" "$t/1e9"
}
proc_cpu() {
  local t=0 p
  for p; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  calc "%.2f" "$t/$(getconf CLK_TCK)"
}

NGINX_VERSION=$(nginx -v 2>&1 | sed 's|.*/||')
declare -A LABEL=(
  [podman]="podman-ocne serve (Podman)"
  [podman-nginx]="  nginx $NGINX_VERSION in Podman (peer)"
  [cluster]="kubectl ocne-image serve ($REPLICAS pods)"
  [cluster-nginx]="  nginx $NGINX_VERSION, $REPLICAS pods (peer)"
  [nginx]="nginx $NGINX_VERSION on this host (peer)"
  [host]="our server on this host (info)"
)
# Which nginx each of ours is compared with: the one on the same path.
declare -A PEER=([podman]=podman-nginx [cluster]=cluster-nginx [host]=nginx)
START=$SECONDS
for s in $SERVERS; do
  case $s in
  nginx) start_nginx ;;
  podman) start_podman ;;
  podman-nginx) start_podman_nginx ;;
  cluster) start_cluster ;;
  cluster-nginx) start_cluster_nginx ;;
  host) start_host ;;
  *) die "unknown server $s in LOADTEST_SERVERS (podman, podman-nginx, cluster, cluster-nginx, nginx, host)" ;;
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
  line=$("$LOADPULL" -url "${URL[$s:$k]}" -n "$n" -dir "$OUT/clients" -commit "${COMMIT[$k]}" -ostree "$CLIENT" "${fsync_flag[@]}" 2>"$OUT/loadpull.err") || rc=$?
  if ((rc)); then
    cat "$OUT/loadpull.err" >&2
    [[ -n $line ]] || die "loadpull against $s failed to run"
  fi
  eval "$(tr ' ' '\n' <<<"$line" | sed 's/^/R_/')"
  return $rc
}

echo
echo "=== $(nproc) CPUs, client ostree $CLIENT_VERSION ($CLIENT); clients: ostree pull into bare-user repos (core.fsync=$([[ $FSYNC == 1 ]] && echo true || echo false)), all started at once"
for k in "${KINDS[@]}"; do
  echo "    $k fixture: ${FILES[$k]} files, $(mib "${BYTES[$k]}") MiB; archive $(du -sm "${ARCHIVE[$k]}" | cut -f1) MiB, $(find "${ARCHIVE[$k]}" -type f | wc -l) files; commit ${COMMIT[$k]:0:12}"
done
echo "    command per round: $LOADPULL -url URL -n N -dir $OUT/clients -commit COMMIT -ostree $CLIENT ${fsync_flag[*]}"

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
      # The access logs are written in batches, up to a second late.
      sleep 1.2
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
# ratio N SERVER PEER: "R ok|MISSED", SERVER's median wall time over PEER's,
# or nothing when PEER did not run.
ratio() {
  [[ " $SERVERS " == *" $3 "* && $2 != "$3" ]] || return 0
  local r
  r=$(calc "%.2f" "$(median <<<"${WALL[$1:$2]}")/$(median <<<"${WALL[$1:$3]}")")
  echo "$r $(mark "$r" "v <= $RATIO_TARGET")"
}
SUMMARY=()
fmt='%-38s %7s %-22s %6s %6s %9s %8s %8s %8s  %-7s %-12s %-12s\n'
for n in $NS_LIST; do
  k=$(fixture_for "$n")
  echo
  printf "$fmt" "N=$n, $k fixture, median of $RUNS" "wall" "(each run)" "p50" "max" "requests" "req/s" "srv CPU" "CPU/req" "failed" "/same path" "/nginx host"
  printf "$fmt" "" "s" "" "s" "s" "" "" "s" "us" "" "<= $RATIO_TARGET" "<= $RATIO_TARGET"
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
    same= host= line="N=$n $s: failed pulls ${FAIL[$key]} $fmark"
    if [[ -n ${PEER[$s]:-} ]]; then
      same=$(ratio "$n" "$s" "${PEER[$s]}")
      host=$(ratio "$n" "$s" nginx)
      [[ -n $same ]] && line+="; wall time / ${PEER[$s]}'s $same"
      [[ -n $host && ${PEER[$s]} != nginx ]] && line+="; / nginx's on the host $host"
    fi
    SUMMARY+=("$line")
    printf "$fmt" "${LABEL[$s]}" "$wall" "(${WALL[$key]# })" "$(median <<<"${P50[$key]}")" "$(median <<<"${MAX[$key]}")" \
      "$req$note" "$rps" "$cpu" "$cpr" "${FAIL[$key]} $fmark" "$same" "$host"
  done
done
echo "(wall: first pull started to last pull done; p50/max: single pulls; requests from the access logs, * computed:"
echo " the clients' objects plus the per-pull requests the logged servers saw, as the kubelet rotates container logs away;"
echo " srv CPU: the server's user+system CPU during the round (the pods' cgroups for the cluster), CPU/req per request;"
echo " /same path: wall time over nginx's on the same network path (Podman, cluster, host); /nginx host: over nginx's on this host)"
echo
echo "=== summary (targets: no failed pull; wall time ours / nginx's <= $RATIO_TARGET)"
printf '  %s\n' "${SUMMARY[@]}"
echo
echo "loadtest: done in $((SECONDS - START))s"
exit $FAILED
