#!/usr/bin/env bash
# Starts a real single-node Kubernetes cluster on this machine and prints
# its admin kubeconfig path as the last line of stdout (progress goes to
# stderr). `make cluster-up`; stop it with `make cluster-down` (down.sh).
#
#   etcd (Debian etcd-server, plain http on 127.0.0.1:12379)
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
#   kube-proxy v1.34.4, built from the Go module proxy by build.sh (cached)
#   containerd 1.6 + runc (Debian) with its own config, root and socket
#   bridge CNI (bridge + host-local + portmap), pods in 10.244.0.0/24
#   a plain-http registry (Debian docker-registry) on 127.0.0.1:5000 and on
#   the pod gateway 10.244.0.1:5000, which containerd pulls from over http,
#   also for ghcr.io (the builder image's default registry: a local mirror)
#   a pause image built here (no registry on the internet is reachable)
#
# Idempotent: when the cluster is up it only prints the kubeconfig path; a
# component that died is started again. Needs root. Every process it starts
# is recorded in $DIR/pids; everything it writes is under $DIR (lib.sh).
# Host settings it changes (sysctls, iptables chains, the bridge, cgroups)
# are snapshotted or known, and down.sh puts them back.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || die "run as root: the kubelet, containerd and the CNI plugins need it"

mkdir -p "$CACHE"
# One up.sh or down.sh at a time. Started processes must not inherit the
# lock (fd 8), else it would stay held for as long as they run.
exec 8>"$CACHE/.cluster.lock"
flock 8

node_ready() {
  [[ $(kubectl get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

# put FILE: write stdin to FILE, leaving FILE alone when it already holds
# that (kube-proxy exits when its config file is written to).
put() {
  local tmp=$1.tmp
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}

# registry_hosts: how containerd pulls (certs.d, read on every pull, so a
# running cluster follows a change at once): the test registry over plain
# http, and the builder image's default registry (shared/builderimage
# Registry) served from the test registry too, as an air-gapped site
# mirrors it. `server` is the test registry there, so a missing image
# fails locally and nothing is ever fetched from the internet.
registry_hosts() {
  local host server
  mkdir -p "$DIR/containerd/certs.d"
  for host in "127.0.0.1:$REGISTRY_PORT" "$POD_GATEWAY:$REGISTRY_PORT" ghcr.io; do
    server=$host
    [[ $host == ghcr.io ]] && server=127.0.0.1:$REGISTRY_PORT
    mkdir -p "$DIR/containerd/certs.d/$host"
    put "$DIR/containerd/certs.d/$host/hosts.toml" <<EOF
server = "http://$server"

[host."http://$server"]
  capabilities = ["pull", "resolve", "push"]
  skip_verify = true
EOF
  done
}

all_running() {
  local c
  for c in "${COMPONENTS[@]}"; do pid_of "$c" >/dev/null || return 1; done
}

if [[ -f $MARKER && -s $DIR/node-name && -f $ADMIN_KUBECONFIG ]]; then
  NODE=$(<"$DIR/node-name")
  if all_running && node_ready && kubectl -n default get serviceaccount default >/dev/null 2>&1; then
    registry_hosts
    log "already up"
    echo "$ADMIN_KUBECONFIG"
    exit 0
  fi
fi

start=$SECONDS

# Tails of the logs, for the reader of a failed run.
on_exit() {
  local rc=$? f
  ((rc)) || return 0
  log "FAILED (exit $rc) after $((SECONDS - start)) s; logs in $LOGS:"
  for f in "$LOGS"/*.log; do
    [[ -s $f ]] || continue
    echo "----- $(basename "$f") (last 15 lines)" >&2
    tail -n 15 "$f" >&2
  done
  log "run make cluster-down (test/cluster/down.sh) to clean up"
}
trap on_exit EXIT

# wait_for WHAT SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
  local what=$1 secs=$2 i
  shift 2
  for ((i = 0; i < secs * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  log "timed out after ${secs}s waiting for $what"
  return 1
}

# start_proc NAME COMMAND...: start COMMAND in its own session with its
# output in $LOGS/NAME.log and its pid in $PIDS/NAME.pid, unless the one
# started before still runs.
start_proc() {
  local name=$1 p
  shift
  if p=$(pid_of "$name"); then
    return 0
  fi
  log "starting $name"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 8>&- &
  p=$!
  echo "$p" >"$PIDS/$name.pid"
  sleep 0.2
  pid_of "$name" >/dev/null || { log "$name exited at once"; tail -n 20 "$LOGS/$name.log" >&2; return 1; }
}

# check_port PORT: nobody listens there yet.
check_port() {
  local port=$1 owner
  owner=$(ss -Hltnp "sport = :$port" 2>/dev/null | head -n 1)
  [[ -z $owner ]] && return 0
  die "port $port is already in use by something that is not this cluster: $owner"
}

# --- 1. Debian packages ------------------------------------------------------
need=()
# (No conntrack or socat: kube-proxy clears conntrack entries over netlink,
# containerd's CRI port-forward dials inside the pod's netns itself.)
for pkg in etcd-server containerd runc containernetworking-plugins iptables docker-registry curl iproute2; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
CNI_BIN=/usr/lib/cni
[[ -x $CNI_BIN/bridge && -x $CNI_BIN/host-local && -x $CNI_BIN/portmap ]] || die "CNI plugins missing in $CNI_BIN"

# --- 2. Kubernetes binaries (cached) ---------------------------------------
"$here/build.sh" "$BIN"

# --- 3. The state directory and snapshots of what we will change -----------
if [[ -e $DIR && ! -f $MARKER && -n $(ls -A "$DIR" 2>/dev/null) ]]; then
  die "$DIR exists and is not a test cluster directory; set CLUSTER_DIR elsewhere"
fi
mkdir -p "$DIR"
touch "$MARKER"
mkdir -p "$PKI" "$KCFG" "$LOGS" "$PIDS" "$RUN" "$DIR/etcd" "$DIR/registry/data" \
  "$DIR/cni/net.d" "$DIR/cni/ipam" "$DIR/containerd" "$DIR/kubelet" "$DIR/pod-logs" "$DIR/config"
chmod 700 "$DIR/etcd"

NODE_IP=$(node_ip)
[[ -n $NODE_IP ]] || die "no IPv4 address on the default route's interface"
if [[ -s $DIR/node-name ]]; then
  NODE=$(<"$DIR/node-name")
else
  NODE=${CLUSTER_NODE_NAME:-$(hostname | tr '[:upper:]' '[:lower:]')}
  [[ $NODE =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]] || NODE=ocne-test-node
  echo "$NODE" >"$DIR/node-name"
fi
if [[ -s $DIR/node-ip && $(<"$DIR/node-ip") != "$NODE_IP" ]]; then
  die "the node address changed ($(<"$DIR/node-ip") -> $NODE_IP): run make cluster-down first"
fi
echo "$NODE_IP" >"$DIR/node-ip"

# Saved once, before the first start: a restarted component must not save
# the values it changed itself.
if [[ ! -f $DIR/sysctl.saved ]]; then
  for key in "${SYSCTLS[@]}"; do
    f=/proc/sys/${key//.//}
    [[ -r $f ]] && printf '%s=%s\n' "$key" "$(<"$f")"
  done >"$DIR/sysctl.saved.tmp"
  mv "$DIR/sysctl.saved.tmp" "$DIR/sysctl.saved"
fi
if [[ ! -f $DIR/iptables.before ]]; then
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for t in filter nat mangle raw; do
      "$ipt" -w -t "$t" -S 2>/dev/null | awk -v ipt="$ipt" -v t="$t" '$1 == "-N" { print ipt, t, $2 }'
    done
  done >"$DIR/iptables.before.tmp"
  mv "$DIR/iptables.before.tmp" "$DIR/iptables.before"
fi
if [[ ! -f $DIR/paths.before ]]; then
  # Fixed host paths the kubelet (pod log links, device plugin socket),
  # the CNI library (results cache) and containerd's shims (sockets) use.
  for p in /var/log/containers /var/lib/cni /var/lib/cni/results /var/lib/kubelet \
    /var/lib/kubelet/device-plugins /run/containerd /run/containerd/s; do
    [[ -e $p ]] && echo "$p"
  done >"$DIR/paths.before.tmp"
  mv "$DIR/paths.before.tmp" "$DIR/paths.before"
fi
if [[ ! -f $DIR/cgroups.before ]]; then
  ls -d /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods 2>/dev/null >"$DIR/cgroups.before.tmp" || true
  mv "$DIR/cgroups.before.tmp" "$DIR/cgroups.before"
fi

for c in "${COMPONENTS[@]}"; do pid_of "$c" >/dev/null && continue
  case $c in
    registry | registry-gw) port=$REGISTRY_PORT ;;
    etcd) port=$ETCD_PORT ;;
    kube-apiserver) port=$API_PORT ;;
    kube-controller-manager) port=10257 ;;
    kube-scheduler) port=10259 ;;
    kubelet) port=10250 ;;
    kube-proxy) port=10256 ;;
    *) continue ;;
  esac
  # The registries share a port on two addresses: check once.
  [[ $c == registry-gw ]] && pid_of registry >/dev/null && continue
  check_port "$port"
done

# --- 4. Certificates and kubeconfigs (kubeadm phases) -----------------------
put "$DIR/config/kubeadm.yaml" <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: $NODE_IP
  bindPort: $API_PORT
nodeRegistration:
  name: $NODE
  criSocket: unix://$CTRD_SOCK
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: $K8S_VERSION
clusterName: ocne-test
certificatesDir: $PKI
networking:
  serviceSubnet: $SERVICE_CIDR
  podSubnet: $CLUSTER_CIDR
  dnsDomain: cluster.local
apiServer:
  certSANs: [127.0.0.1, localhost, $NODE_IP, $NODE]
etcd:
  external:
    endpoints: [http://127.0.0.1:$ETCD_PORT]
EOF
if [[ ! -f $PKI/apiserver.crt || ! -f $PKI/sa.key || ! -f $PKI/front-proxy-client.crt ]]; then
  log "generating certificates"
  "$BIN/kubeadm" init phase certs all --config "$DIR/config/kubeadm.yaml" >>"$LOGS/kubeadm.log" 2>&1
fi
if [[ ! -f $KCFG/admin.conf || ! -f $KCFG/super-admin.conf || ! -f $KCFG/kubelet.conf ||
  ! -f $KCFG/controller-manager.conf || ! -f $KCFG/scheduler.conf ]]; then
  log "generating kubeconfigs"
  "$BIN/kubeadm" init phase kubeconfig all --config "$DIR/config/kubeadm.yaml" --kubeconfig-dir "$KCFG" >>"$LOGS/kubeadm.log" 2>&1
fi
if [[ ! -s $KCFG/kube-proxy.conf ]]; then
  # User system:kube-proxy is bound to system:node-proxier by default RBAC.
  "$BIN/kubeadm" kubeconfig user --config "$DIR/config/kubeadm.yaml" --client-name system:kube-proxy >"$KCFG/kube-proxy.conf.tmp" 2>>"$LOGS/kubeadm.log"
  mv "$KCFG/kube-proxy.conf.tmp" "$KCFG/kube-proxy.conf"
fi
chmod 600 "$KCFG"/*.conf

# --- 5. The pod network's bridge, so the registry can listen on its gateway
# before the first pod exists (the bridge plugin adopts it).
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
  log "creating bridge $BRIDGE ($POD_GATEWAY/24)"
  ip link add "$BRIDGE" type bridge
fi
ip addr replace "$POD_GATEWAY/24" dev "$BRIDGE"
ip link set "$BRIDGE" up

put "$DIR/cni/net.d/10-$CNI_NETWORK.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_SUBNET", "gateway": "$POD_GATEWAY"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$DIR/cni/ipam"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF

# --- 6. Registry: one storage, served on loopback and on the pod gateway ----
for r in registry:127.0.0.1 registry-gw:$POD_GATEWAY; do
  name=${r%%:*} addr=${r#*:}
  put "$DIR/config/$name.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $DIR/registry/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $addr:$REGISTRY_PORT
  secret: ocne-test-cluster
EOF
  start_proc "$name" docker-registry serve "$DIR/config/$name.yml"
done

# --- 7. etcd ------------------------------------------------------------------
etcd_env=()
[[ $(uname -m) == x86_64 ]] || etcd_env=(env ETCD_UNSUPPORTED_ARCH="$(dpkg --print-architecture)")
start_proc etcd "${etcd_env[@]}" etcd --name ocne-test --data-dir "$DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "ocne-test=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new
wait_for "etcd" 60 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
wait_for "the registry" 30 curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/"
wait_for "the registry on the pod gateway" 30 curl -fsS "http://$POD_GATEWAY:$REGISTRY_PORT/v2/"

# --- 8. Control plane -----------------------------------------------------------
start_proc kube-apiserver "$BIN/kube-apiserver" \
  --advertise-address="$NODE_IP" --secure-port="$API_PORT" \
  --allow-privileged=true --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NodeRestriction --enable-bootstrap-token-auth=true \
  --client-ca-file="$PKI/ca.crt" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --requestheader-allowed-names=front-proxy-client --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" \
  --requestheader-extra-headers-prefix=X-Remote-Extra- --requestheader-group-headers=X-Remote-Group \
  --requestheader-username-headers=X-Remote-User \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range="$SERVICE_CIDR"
wait_for "kube-apiserver" 120 curl -fsSk "https://127.0.0.1:$API_PORT/readyz"

# kubeadm's admin.conf is in group kubeadm:cluster-admins, which kubeadm
# init would bind to cluster-admin: do it with the super-admin credentials.
if ! kubectl get clusterrolebinding kubeadm:cluster-admins >/dev/null 2>&1; then
  "$BIN/kubectl" --kubeconfig "$KCFG/super-admin.conf" create clusterrolebinding kubeadm:cluster-admins \
    --clusterrole=cluster-admin --group=kubeadm:cluster-admins >/dev/null
fi

start_proc kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig="$KCFG/controller-manager.conf" \
  --authentication-kubeconfig="$KCFG/controller-manager.conf" --authorization-kubeconfig="$KCFG/controller-manager.conf" \
  --bind-address=127.0.0.1 --leader-elect=false --cluster-name=ocne-test \
  --client-ca-file="$PKI/ca.crt" --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" \
  --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --controllers='*,bootstrapsigner,tokencleaner' --use-service-account-credentials=true \
  --service-cluster-ip-range="$SERVICE_CIDR"
start_proc kube-scheduler "$BIN/kube-scheduler" \
  --kubeconfig="$KCFG/scheduler.conf" \
  --authentication-kubeconfig="$KCFG/scheduler.conf" --authorization-kubeconfig="$KCFG/scheduler.conf" \
  --bind-address=127.0.0.1 --leader-elect=false

# --- 9. containerd ----------------------------------------------------------------
registry_hosts
put "$DIR/config/containerd.toml" <<EOF
version = 2
root = "$DIR/containerd/root"
state = "$DIR/containerd/state"
temp = "$DIR/containerd/tmp"
oom_score = 0

[grpc]
  address = "$CTRD_SOCK"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$DIR/containerd/opt"

  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$PAUSE_IMAGE"
    # runc may not set the kubelet's negative oom_score_adj values here.
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"

    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          Root = "$DIR/runc"

    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "$CNI_BIN"
      conf_dir = "$DIR/cni/net.d"

    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "$DIR/containerd/certs.d"
EOF
mkdir -p "$DIR/containerd/tmp"
start_proc containerd containerd --config "$DIR/config/containerd.toml"
wait_for "containerd" 60 ctr version

# The pause image, as an OCI archive built from our static pause binary.
# has_pause: the pause image is in containerd. The list is read whole before
# grep sees it: piped into grep -q under pipefail, ctr can die of SIGPIPE
# once grep has matched and left, and the pipeline then fails.
has_pause() {
  local images
  images=$(ctr images ls -q) || return 1
  grep -qxF -- "$PAUSE_IMAGE" <<<"$images"
}
if ! has_pause; then
  log "importing $PAUSE_IMAGE"
  img=$DIR/pause-image
  rm -rf "$img"
  mkdir -p "$img/rootfs" "$img/oci/blobs/sha256"
  cp "$BIN/pause" "$img/rootfs/pause"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$img/rootfs" -cf "$img/layer.tar" pause
  blob() { # blob FILE: store FILE as a blob, print "DIGEST SIZE"
    local d s
    d=$(sha256sum "$1" | cut -d' ' -f1) s=$(stat -c %s "$1")
    mv "$1" "$img/oci/blobs/sha256/$d"
    echo "sha256:$d $s"
  }
  read -r layer_digest layer_size < <(blob "$img/layer.tar")
  printf '{"architecture":"%s","os":"linux","config":{"Entrypoint":["/pause"]},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
    "$(go env GOARCH)" "$layer_digest" >"$img/config.json"
  read -r config_digest config_size < <(blob "$img/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
    "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$img/manifest.json"
  read -r manifest_digest manifest_size < <(blob "$img/manifest.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest_digest" "$manifest_size" "$PAUSE_IMAGE" "${PAUSE_IMAGE##*:}" >"$img/oci/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$img/oci/oci-layout"
  tar -C "$img/oci" -cf "$img/pause.tar" oci-layout index.json blobs
  ctr images import --base-name "${PAUSE_IMAGE%:*}" "$img/pause.tar" >>"$LOGS/ctr.log" 2>&1
  has_pause || die "$PAUSE_IMAGE is not in containerd after the import: ctr images ls -q lists $(ctr images ls -q | tr '\n' ' ')"
fi

# --- 10. kubelet and kube-proxy -------------------------------------------------------
put "$DIR/config/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$CTRD_SOCK
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $PKI/ca.crt
authorization:
  mode: Webhook
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
podLogsDir: $DIR/pod-logs
volumePluginDir: $DIR/kubelet/volume-plugins
# This host: cgroup v1 (hybrid), no systemd, no CAP_SYS_RESOURCE.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
maxOpenFiles: $(ulimit -Hn)
# A test machine's disk may well be fuller than a node's should be.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
  imagefs.inodesFree: "1%"
serializeImagePulls: false
rotateCertificates: false
EOF
start_proc kubelet "$BIN/kubelet" \
  --config="$DIR/config/kubelet.yaml" --kubeconfig="$KCFG/kubelet.conf" \
  --root-dir="$DIR/kubelet" --cert-dir="$DIR/kubelet/pki" \
  --hostname-override="$NODE" --node-ip="$NODE_IP" --oom-score-adj=0

put "$DIR/config/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $KCFG/kube-proxy.conf
hostnameOverride: $NODE
mode: iptables
clusterCIDR: $CLUSTER_CIDR
oomScoreAdj: 0
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [primary]
# Leave the host's conntrack settings and route_localnet alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
iptables:
  localhostNodePorts: false
EOF
start_proc kube-proxy "$BIN/kube-proxy" --config="$DIR/config/kube-proxy.yaml"

# --- 11. Ready ---------------------------------------------------------------------
wait_for "node $NODE to be Ready" 180 node_ready
wait_for "the default ServiceAccount" 120 kubectl -n default get serviceaccount default
all_running || die "a component stopped while the cluster came up: see $LOGS"
log "up in $((SECONDS - start)) s: node $NODE ($NODE_IP), API https://$NODE_IP:$API_PORT, registry 127.0.0.1:$REGISTRY_PORT and $POD_GATEWAY:$REGISTRY_PORT"
echo "$ADMIN_KUBECONFIG"
