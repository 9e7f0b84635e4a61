# Shared by up.sh and down.sh (sourced): where the test cluster keeps its
# things, its addresses, and how its processes are tracked.
#
# Everything the cluster writes lives under ONE directory, $DIR
# ($CLUSTER_DIR, default .cache/cluster/state): certificates, kubeconfigs,
# etcd data, containerd's root and state, the kubelet's root, pod logs, the
# registry's storage, logs, pid files, the sysctl and iptables snapshots
# down.sh restores from. The Kubernetes binaries are cached beside it in
# .cache/cluster/bin and survive cluster-down.

ROOT=$(cd "$here/../.." && pwd)
CACHE=$(realpath -m "${CLUSTER_CACHE:-$ROOT/.cache/cluster}")
BIN=$CACHE/bin
DIR=$(realpath -m "${CLUSTER_DIR:-$CACHE/state}")
# down.sh deletes $DIR: only ever one that up.sh made and marked.
MARKER=$DIR/.ocne-test-cluster

PKI=$DIR/pki
KCFG=$DIR/kubeconfig
LOGS=$DIR/logs
PIDS=$DIR/pids
RUN=$DIR/run
CTRD_SOCK=$RUN/containerd.sock
ADMIN_KUBECONFIG=$KCFG/admin.conf

API_PORT=${CLUSTER_API_PORT:-6443}
ETCD_PORT=${CLUSTER_ETCD_PORT:-12379}
ETCD_PEER_PORT=$((ETCD_PORT + 1))
REGISTRY_PORT=${CLUSTER_REGISTRY_PORT:-5000}
# The pod network: one bridge, one /24 for the only node; its gateway is the
# host as pods see it (they reach the registry there).
BRIDGE=${CLUSTER_BRIDGE:-ocne-cni0}
CNI_NETWORK=ocne-test
POD_SUBNET=10.244.0.0/24
POD_GATEWAY=10.244.0.1
CLUSTER_CIDR=10.244.0.0/16
SERVICE_CIDR=10.96.0.0/12
PAUSE_IMAGE=localhost/pause:3.10
K8S_VERSION=v1.34.4

# What the kubelet, kube-proxy and the bridge plugin may change; saved by
# up.sh before anything starts, restored by down.sh.
SYSCTLS=(
  vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes
  net.ipv4.ip_forward net.ipv6.conf.all.forwarding net.ipv4.conf.all.forwarding
  net.ipv4.conf.all.route_localnet
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_be_liberal
  net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait
)

# Processes, in start order; down.sh stops them in reverse (after the kubelet).
COMPONENTS=(registry registry-gw etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy)

log() { echo "cluster: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# pid_of NAME prints the pid of the process started for NAME if it still
# runs. A pid counts only while its command line names $DIR, so a reused
# pid is never taken for ours.
pid_of() {
  local f=$PIDS/$1.pid p
  [[ -s $f ]] || return 1
  p=$(<"$f")
  [[ $p =~ ^[0-9]+$ && -r /proc/$p/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$DIR/" || return 1
  echo "$p"
}

# stop_pid PID [SECONDS]: TERM, then KILL after the grace period.
stop_pid() {
  local p=$1 grace=${2:-20} i
  kill -TERM "$p" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$p" 2>/dev/null || return 0
    # A zombie (not our child) is as good as gone.
    [[ $(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) == Z ]] && return 0
    sleep 0.1
  done
  log "$p did not stop in ${grace}s; killing it"
  kill -KILL "$p" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
}

stop_proc() {
  local name=$1 p
  local t0=$SECONDS
  if p=$(pid_of "$name"); then
    log "stopping $name ($p)"
    stop_pid "$p" "${2:-20}"
    ((SECONDS - t0 < 3)) || log "$name took $((SECONDS - t0)) s to stop"
  fi
  rm -f "$PIDS/$name.pid"
}

kubectl() { "$BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }
ctr() { command ctr --address "$CTRD_SOCK" --namespace k8s.io "$@"; }

# The IPv4 address of the interface holding the default route: the node's
# address (the hostname resolves to 127.0.0.1 here, which will not do).
node_ip() {
  local dev
  dev=$(ip -4 -o route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit }}')
  [[ -n $dev ]] || { ip -4 -o addr show scope global | awk '{split($4, a, "/"); print a[1]; exit}'; return; }
  ip -4 -o addr show dev "$dev" scope global | awk '{split($4, a, "/"); print a[1]; exit}'
}
