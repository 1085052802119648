# shellcheck shell=bash
# Undo real-node.sh: remove every pod through CRI, stop the node's processes by
# PID, and put the machine back as it was: mounts, network namespaces, cgroups,
# iptables rules, the bridge, sysctls. Sourced by down.sh (which defines STATE,
# log, stop_components); safe to run on a half-started node.

real_node_down() {
  local bin sock
  bin="$(cat "$STATE/bin-dir" 2>/dev/null || true)"
  sock="$STATE/containerd/containerd.sock"

  # kubelet first, or it recreates what is removed next.
  stop_components kubelet
  if [ -S "$sock" ] && [ -x "$bin/crictl" ]; then
    local crictl=("$bin/crictl" --runtime-endpoint "unix://$sock" --timeout 30s)
    # Stopping a sandbox runs CNI DEL (address, veth, masquerade rules) and unmounts it.
    "${crictl[@]}" rmp --all --force >>"$STATE/logs/down-crictl.log" 2>&1 ||
      log "crictl rmp failed: see $STATE/logs/down-crictl.log"
  fi
  stop_components coredns kube-proxy containerd
  # Shims outlive containerd by design; ours are the ones serving our socket.
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $sock" 2>/dev/null); do
    kill -KILL "$pid" 2>/dev/null && log "stopped containerd shim (pid $pid)"
  done
  [ -x "$bin/kube-proxy" ] && "$bin/kube-proxy" --cleanup >>"$STATE/logs/down-kube-proxy.log" 2>&1

  # Mounts under the state dir and containerd's image root (deepest first).
  local target
  findmnt -rn -o TARGET | grep -E "^($STATE|$CACHE_ROOT/containerd-root)(/|$)" | sort -r | while read -r target; do
    umount -l "$target" 2>/dev/null && log "unmounted $target"
  done
  # Network namespaces CNI made for sandboxes that were not removed cleanly.
  local netns
  for netns in /var/run/netns/cni-*; do
    [ -e "$netns" ] || continue
    grep -qx "$netns" "$STATE/netns.before" 2>/dev/null && continue
    umount "$netns" 2>/dev/null; rm -f "$netns" && log "removed network namespace $netns"
  done

  # kubelet's QoS cgroups, in every v1 hierarchy (empty once the pods are gone).
  local dir
  for dir in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/kubepods.slice; do
    [ -d "$dir" ] && find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
    [ -d "$dir" ] && log "cgroup $dir is not empty; left in place"
  done

  # iptables: kube-proxy's and the CNI plugins' chains and the rules that jump to them.
  local tool
  for tool in iptables ip6tables; do
    command -v "$tool-save" >/dev/null || continue
    if "$tool-save" | grep -qE '(KUBE-|CNI-)'; then
      "$tool-save" | grep -vE '(KUBE-|CNI-)' | "$tool-restore" && log "$tool: KUBE-* and CNI-* rules removed"
    fi
  done
  # kubelet's links to our pods' logs, and folders that did not exist before up.sh.
  local link
  for link in /var/log/containers/*.log; do
    [ -L "$link" ] && [[ "$(readlink "$link")" == "$STATE"/* ]] && rm -f "$link"
  done
  if [ -f "$STATE/dirs.created" ]; then
    while IFS= read -r dir; do rm -rf "$dir" && log "removed $dir (made by the node)"; done <"$STATE/dirs.created"
  fi

  if [ -f "$STATE/bridge.created" ]; then
    ip link del berth0 2>/dev/null && log "removed bridge berth0"
  fi
  local line
  if [ -f "$STATE/sysctl.saved" ]; then
    while IFS= read -r line; do sysctl -qw "$line" 2>/dev/null; done <"$STATE/sysctl.saved"
    log "sysctls restored"
  fi
}
