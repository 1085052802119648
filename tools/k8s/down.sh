#!/usr/bin/env bash
# Stop the test control plane started by up.sh and delete its run state
# (kubeconfig, certs, logs, etcd data). The binary cache is kept.
#
# Env: BERTH_K8S_STATE / BERTH_K8S_CACHE as for up.sh.
#      BERTH_K8S_KEEP_LOGS=DIR  copy the component logs to DIR before deleting the state.
set -uo pipefail

CACHE_ROOT="${BERTH_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/berth-k8s}"
STATE="${BERTH_K8S_STATE:-$CACHE_ROOT/run}"
log() { echo "[down.sh $(date +%H:%M:%S)] $*" >&2; }

if [ ! -d "$STATE" ]; then log "nothing to do ($STATE does not exist)"; exit 0; fi
if [ ! -f "$STATE/.berth-k8s-state" ]; then
  echo "down.sh: $STATE is not a berth-k8s state dir (no .berth-k8s-state marker); not touching it" >&2
  exit 1
fi

# pid_ok NAME PID : PID is alive and really is our NAME binary (guards against pid reuse)
pid_ok() {
  kill -0 "$2" 2>/dev/null || return 1
  local exe; exe="$(readlink "/proc/$2/exe" 2>/dev/null || true)"
  [ -z "$exe" ] || [ "$(basename "${exe% (deleted)}")" = "$1" ]
}

# stop_components NAME... : SIGTERM them all at once, wait up to 10 s, then SIGKILL what is left.
stop_components() {
  local name pid
  declare -A pids=()
  for name in "$@"; do
    pf="$STATE/pids/$name.pid"
    [ -f "$pf" ] || continue
    pid="$(cat "$pf")"
    if pid_ok "$name" "$pid"; then kill -TERM "$pid" 2>/dev/null && pids[$name]=$pid; fi
    rm -f "$pf"
  done
  for _ in $(seq 1 50); do
    left=0
    for name in "${!pids[@]}"; do pid_ok "$name" "${pids[$name]}" && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.2
  done
  for name in "${!pids[@]}"; do
    if pid_ok "$name" "${pids[$name]}"; then
      log "$name (pid ${pids[$name]}) ignored SIGTERM; sending SIGKILL"
      kill -KILL "${pids[$name]}" 2>/dev/null || true
    fi
    log "stopped $name (pid ${pids[$name]})"
  done
}

# The real node first: its pods are removed through the API's kubelet and containerd.
if [ -f "$STATE/mode" ] && [ "$(cat "$STATE/mode")" = real-node ]; then
  # shellcheck source=real-node-down.sh
  . "$(dirname "${BASH_SOURCE[0]}")/real-node-down.sh"
  real_node_down
fi
# The control plane's state is thrown away, so the order does not matter.
stop_components kwok kube-scheduler kube-controller-manager kube-apiserver etcd

if [ -n "${BERTH_K8S_KEEP_LOGS:-}" ] && [ -d "$STATE/logs" ]; then
  mkdir -p "$BERTH_K8S_KEEP_LOGS" && cp -r "$STATE/logs/." "$BERTH_K8S_KEEP_LOGS/" && log "logs copied to $BERTH_K8S_KEEP_LOGS"
fi
rm -rf "$STATE"
log "removed $STATE"
