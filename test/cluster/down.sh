#!/usr/bin/env bash
# Stops the test cluster up.sh started and puts the host back as it was:
# pod sandboxes are removed through CRI first (so each pod's CNI DEL runs),
# then every recorded process is stopped by pid, everything mounted under
# the state directory is unmounted, the CNI bridge and the KUBE-*/CNI-*
# iptables chains the cluster created are deleted, the kubelet's cgroups
# removed, the sysctls restored, and the state directory deleted. The
# binary cache (.cache/cluster/bin) stays. `make cluster-down`.
#
# Idempotent, and safe when nothing runs. Exits non-zero if something could
# not be put back (after trying everything else).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

[[ $(id -u) == 0 ]] || die "run as root"

mkdir -p "$CACHE"
exec 8>"$CACHE/.cluster.lock"
flock 8

failed=0
warn() {
  log "WARNING: $*"
  failed=1
}

if [[ ! -d $DIR ]]; then
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link del "$BRIDGE" || warn "could not delete bridge $BRIDGE"
  fi
  log "no cluster in $DIR: nothing to stop"
  exit "$failed"
fi
[[ -f $MARKER ]] || die "$DIR was not made by up.sh (no $(basename "$MARKER")): not touching it"
start=$SECONDS

# --- 1. Pods: the kubelet first, so it recreates nothing; then every sandbox
# through CRI, which runs the CNI DEL that frees the pod's address, portmap
# rules and network namespace.
stop_proc kubelet 30
if pid_of containerd >/dev/null && [[ -S $CTRD_SOCK ]]; then
  if [[ -x $BIN/cricleanup ]]; then
    timeout 150 "$BIN/cricleanup" "unix://$CTRD_SOCK" >&2 || warn "removing pod sandboxes through CRI failed"
  fi
  # Whatever CRI could not remove: kill its tasks, delete the containers.
  for id in $(ctr tasks ls -q 2>/dev/null); do
    ctr tasks kill -s SIGKILL "$id" >/dev/null 2>&1
    ctr tasks rm -f "$id" >/dev/null 2>&1
  done
  for id in $(ctr containers ls -q 2>/dev/null); do
    log "removing leftover container $id"
    ctr containers rm "$id" >/dev/null 2>&1 || warn "could not remove container $id"
  done
fi

# --- 2. Every process up.sh started, newest first.
for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
  stop_proc "${COMPONENTS[i]}"
done

# --- 3. Stragglers: this containerd's shims, and processes still in the
# kubelet's pod cgroups (containers whose shim died).
stragglers() {
  local p d
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "^[^ ]*containerd-shim[^ ]* .*-address $CTRD_SOCK " && echo "$p"
  done
  for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [[ -d $d ]] || continue
    grep -qxF "$d" "$DIR/cgroups.before" 2>/dev/null && continue
    find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done
}
for round in 1 2 3; do
  pids=$(stragglers | sort -un)
  [[ -n $pids ]] || break
  log "stopping leftover processes: $(echo $pids)"
  for p in $pids; do
    if ((round < 3)); then kill -TERM "$p" 2>/dev/null; else kill -KILL "$p" 2>/dev/null; fi
  done
  sleep 2
done
pids=$(stragglers | sort -un)
[[ -z $pids ]] || warn "processes still running: $(echo $pids)"

# --- 4. Mounts under the state directory (pod volumes, netns, rootfs).
mounts() { findmnt -rn -o TARGET | awk -v d="$DIR/" 'index($0, d) == 1' | sort -r; }
for round in 1 2 3; do
  m=$(mounts)
  [[ -n $m ]] || break
  while IFS= read -r t; do
    t=$(printf '%b' "$t") # findmnt -r writes a space as \x20
    umount "$t" 2>/dev/null || { ((round == 3)) && umount -l "$t" 2>/dev/null; } || true
  done <<<"$m"
done
[[ -z $(mounts) ]] || warn "still mounted under $DIR: $(mounts | tr '\n' ' ')"

# --- 5. Network: the bridge, and the iptables chains this cluster created
# (those that were not there before up.sh ran), with the rules that jump to them.
if ip link show "$BRIDGE" >/dev/null 2>&1; then
  ip link del "$BRIDGE" || warn "could not delete bridge $BRIDGE"
fi
for ipt in iptables ip6tables; do
  command -v "$ipt" >/dev/null || continue
  for t in filter nat mangle raw; do
    rules=$("$ipt" -w -t "$t" -S 2>/dev/null) || continue
    ours=$(awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-)/ { print $2 }' <<<"$rules" |
      while read -r c; do grep -qxF "$ipt $t $c" "$DIR/iptables.before" 2>/dev/null || echo "$c"; done)
    [[ -n $ours ]] || continue
    while IFS= read -r rule; do
      read -r _ chain _ <<<"$rule"
      target=$(sed -n 's/.* -[jg] \([^ ]*\).*/\1/p' <<<"$rule")
      [[ -n $target ]] && grep -qxF "$target" <<<"$ours" && ! grep -qxF "$chain" <<<"$ours" || continue
      eval "\"\$ipt\" -w -t \"\$t\" -D ${rule#-A }" || warn "$ipt -t $t: could not delete rule: $rule"
    done < <(grep '^-A ' <<<"$rules")
    for c in $ours; do "$ipt" -w -t "$t" -F "$c" || warn "$ipt -t $t -F $c failed"; done
    for c in $ours; do "$ipt" -w -t "$t" -X "$c" || warn "$ipt -t $t -X $c failed"; done
    log "$ipt -t $t: deleted chains $(echo $ours)"
  done
done

# --- 6. The kubelet's pod cgroups, if it made them.
for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
  [[ -d $d ]] || continue
  grep -qxF "$d" "$DIR/cgroups.before" 2>/dev/null && continue
  find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  [[ ! -d $d ]] || warn "could not remove cgroup $d"
done

# --- 7. Sysctls the kubelet, kube-proxy and the bridge plugin changed.
if [[ -f $DIR/sysctl.saved ]]; then
  while IFS='=' read -r key val; do
    f=/proc/sys/${key//.//}
    [[ -w $f ]] || continue
    [[ $(<"$f") == "$val" ]] && continue
    log "restoring $key=$val (was $(<"$f"))"
    echo "$val" >"$f" || warn "could not restore $key=$val"
  done <"$DIR/sysctl.saved"
fi

# --- 8. What the kubelet, the CNI library and the shims keep in fixed host
# paths: our entries go; a directory goes if up.sh did not find it there.
was_there() { grep -qxF "$1" "$DIR/paths.before" 2>/dev/null; }
if [[ -d /var/log/containers ]]; then
  find /var/log/containers -maxdepth 1 -lname "$DIR/*" -delete
fi
for f in /var/lib/cni/results/"$CNI_NETWORK"-*; do
  [[ -e $f ]] || continue
  id=${f#/var/lib/cni/results/"$CNI_NETWORK"-}
  id=${id%-*}
  rm -f "$f" "/var/lib/cni/results/cni-loopback-$id-lo"
done
was_there /var/lib/kubelet || rm -f /var/lib/kubelet/device-plugins/kubelet.sock
for p in /var/log/containers /var/lib/cni/results /var/lib/cni /var/lib/kubelet/device-plugins /var/lib/kubelet \
  /run/containerd/s /run/containerd; do
  [[ -d $p ]] && ! was_there "$p" && { rmdir "$p" 2>/dev/null || log "left $p in place: not empty"; }
done

# --- 9. The state directory (never across a mount still there).
if [[ -z $(mounts) ]]; then
  # Pod volumes and container layers may be read-only or immutable.
  rm -rf --one-file-system "$DIR" 2>/dev/null || { chattr -R -i "$DIR" 2>/dev/null; rm -rf --one-file-system "$DIR"; } ||
    warn "could not remove $DIR"
else
  warn "left $DIR in place: something is still mounted under it"
fi

if ((failed)); then
  log "down with warnings (see above) in $((SECONDS - start)) s"
else
  log "down in $((SECONDS - start)) s; host restored"
fi
exit "$failed"
