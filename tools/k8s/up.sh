#!/usr/bin/env bash
# Start a real, local Kubernetes control plane for tests:
#   etcd + kube-apiserver + kube-controller-manager + kube-scheduler (built by build.sh)
#   + KWOK faking 3 nodes (kwok-node-0..2) and the pod lifecycle (no containers run)
#   + with BERTH_K8S_REAL_NODE=1, one real node (containerd, runc, CNI bridge,
#     kubelet, kube-proxy, CoreDNS; see real-node.sh) that runs locally built images.
# Everything listens on 127.0.0.1 on free ports chosen at run time; with the real
# node the API server listens on the node's bridge address instead, so pods reach it.
#
# Env:
#   BERTH_K8S_STATE   run-state dir (default ${BERTH_K8S_CACHE:-~/.cache/berth-k8s}/run):
#                     kubeconfig, token, pki/, logs/, pids/, etcd data
#   BERTH_K8S_CACHE   binary cache root (see build.sh)
#   BERTH_K8S_NODES   number of fake nodes (default 3)
#   BERTH_K8S_TIMEOUT seconds to wait for each readiness step (default 120)
#   BERTH_K8S_KEEP_ON_FAIL=1  leave processes/state in place when startup fails
#   BERTH_K8S_REAL_NODE=1     add the real node (needs root; the fake nodes are then
#                     tainted kwok.x-k8s.io/node=fake:NoSchedule, so workloads land on it)
#
# Output: $BERTH_K8S_STATE/kubeconfig (admin, token auth, CA pinned) and
#         $BERTH_K8S_STATE/env (KUBECONFIG, BERTH_K8S_TOKEN, BERTH_K8S_SERVER, PATH hint).
# If a healthy control plane is already running from the same state dir, it is reused.
set -eEuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/versions.env"
CACHE_ROOT="${BERTH_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/berth-k8s}"
STATE="${BERTH_K8S_STATE:-$CACHE_ROOT/run}"
NODES="${BERTH_K8S_NODES:-3}"
TIMEOUT="${BERTH_K8S_TIMEOUT:-120}"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
if [ "${BERTH_K8S_REAL_NODE:-0}" = 1 ]; then MODE=real-node; else MODE=kwok; fi
KUBECONFIG_OUT="$STATE/kubeconfig"

T_START=$(date +%s.%N)
log() { echo "[up.sh $(date +%H:%M:%S)] $*" >&2; }
elapsed() { awk -v s="$T_START" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1fs", e-s}'; }

print_result() {
  echo "kubeconfig: $KUBECONFIG_OUT"
  echo "export KUBECONFIG=$KUBECONFIG_OUT"
}

# ------------------------------------------------------------------ reuse a running one
if [ -f "$STATE/.berth-k8s-state" ]; then
  # An env file is written last: without one, a start failed or is under way.
  all_alive=0
  [ -f "$STATE/env" ] && all_alive=1
  [ "$(cat "$STATE/mode" 2>/dev/null || echo kwok)" = "$MODE" ] || all_alive=0
  components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
  [ "$MODE" = real-node ] && components+=(containerd kubelet kube-proxy coredns)
  for n in "${components[@]}"; do
    pid="$(cat "$STATE/pids/$n.pid" 2>/dev/null || true)"
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then all_alive=0; fi
  done
  if [ "$all_alive" = 1 ]; then
    # shellcheck disable=SC1091
    . "$STATE/env"
    if curl -fsS --max-time 5 --cacert "$STATE/pki/ca.crt" -H "Authorization: Bearer $BERTH_K8S_TOKEN" \
        "$BERTH_K8S_SERVER/readyz" >/dev/null 2>&1; then
      log "control plane already running (state: $STATE, $MODE)"
      print_result
      exit 0
    fi
  fi
  log "stale state in $STATE (or another mode than $MODE): cleaning it up"
  BERTH_K8S_STATE="$STATE" "$HERE/down.sh" >&2 || true
fi

# ------------------------------------------------------------------ binaries
BIN="$("$HERE/build.sh" | tail -n 1)"
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
  [ -x "$BIN/$b" ] || { echo "up.sh: missing $BIN/$b after build.sh" >&2; exit 1; }
done
KUBECTL=("$BIN/kubectl" --kubeconfig "$KUBECONFIG_OUT")

for tool in openssl curl python3; do
  command -v "$tool" >/dev/null || { echo "up.sh: '$tool' is required (apt-get install $tool)" >&2; exit 1; }
done
if [ "$MODE" = real-node ]; then
  # shellcheck source=real-node.sh
  . "$HERE/real-node.sh"
  real_node_require
fi

if [ -e "$STATE" ] && [ ! -f "$STATE/.berth-k8s-state" ] && [ -n "$(ls -A "$STATE" 2>/dev/null)" ]; then
  echo "up.sh: $STATE exists, is not empty and is not a berth-k8s state dir; refusing to use it" >&2
  exit 1
fi
mkdir -p "$STATE"/{pki,logs,pids}
touch "$STATE/.berth-k8s-state"
echo "$MODE" >"$STATE/mode"
echo "$BIN" >"$STATE/bin-dir"

on_fail() {
  local rc=$?
  echo "up.sh: startup FAILED (rc=$rc). Last lines of the component logs:" >&2
  for f in "$STATE"/logs/*.log; do
    [ -f "$f" ] || continue
    echo "---- $f" >&2; tail -n 15 "$f" >&2
  done
  if [ "${BERTH_K8S_KEEP_ON_FAIL:-0}" = 1 ]; then
    echo "up.sh: leaving state in $STATE (BERTH_K8S_KEEP_ON_FAIL=1); run down.sh to clean up" >&2
  else
    BERTH_K8S_STATE="$STATE" "$HERE/down.sh" >&2 || true
  fi
  exit "$rc"
}
trap on_fail ERR

# ------------------------------------------------------------------ free ports
# Ask the kernel for N distinct free ports on 127.0.0.1 (all sockets held open together).
free_ports() {
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
  else
    local out=() p
    while [ "${#out[@]}" -lt "$1" ]; do
      p=$(( 20000 + RANDOM % 30000 ))
      [[ " ${out[*]} " == *" $p "* ]] && continue
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
      out+=("$p")
    done
    echo "${out[*]}"
  fi
}
read -r ETCD_PORT ETCD_PEER_PORT API_PORT KCM_PORT SCHED_PORT KWOK_PORT < <(free_ports 6)
API_HOST=127.0.0.1
[ "$MODE" = real-node ] && API_HOST=$REAL_NODE_IP
SERVER="https://$API_HOST:$API_PORT"
log "ports: etcd=$ETCD_PORT apiserver=$API_PORT controller-manager=$KCM_PORT scheduler=$SCHED_PORT kwok=$KWOK_PORT"

# ------------------------------------------------------------------ pki + auth
PKI="$STATE/pki"
# Outside 10/8, 172.16/12 and 192.168/16, so test traffic plainly stays on this machine.
SERVICE_CIDR=198.19.0.0/16
SERVICE_IP=198.19.0.1
# EC P-256 keys: RSA key generation can take >10 s on a loaded 2-core machine.
EC_KEY=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
# sign_cert NAME SUBJECT EXTENSIONS... : $PKI/NAME.{key,crt} signed by the test CA
sign_cert() {
  local name="$1" subj="$2"; shift 2
  (
    cd "$PKI"
    openssl req "${EC_KEY[@]}" -keyout "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
    printf '%s\n' "$@" >"$name.ext"
    openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile "$name.ext" -out "$name.crt" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
  )
}
openssl req -x509 "${EC_KEY[@]}" -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 3650 -subj "/CN=berth-k8s-test-ca" 2>/dev/null
sign_cert apiserver "/CN=kube-apiserver" \
  "subjectAltName=IP:127.0.0.1,IP:$API_HOST,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" \
  "extendedKeyUsage=serverAuth" "keyUsage=critical,digitalSignature,keyEncipherment"
# client cert the apiserver uses towards aggregated apiservers (requestheader auth)
sign_cert front-proxy-client "/CN=front-proxy-client" \
  "extendedKeyUsage=clientAuth" "keyUsage=critical,digitalSignature,keyEncipherment"
openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/sa.key"
openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
[ "$MODE" = real-node ] && real_node_certs
TOKEN="berth-$(openssl rand -hex 16)"
# token,user,uid,"group1,group2"
printf '%s,%s,%s,"%s"\n' "$TOKEN" "berth-admin" "berth-admin" "system:masters" >"$PKI/tokens.csv"
echo "$TOKEN" >"$STATE/token"
chmod 600 "$PKI"/*.key "$PKI/tokens.csv" "$STATE/token"

CA_DATA="$(base64 -w0 <"$PKI/ca.crt")"
cat >"$KUBECONFIG_OUT" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: berth-k8s
  cluster:
    server: $SERVER
    certificate-authority-data: $CA_DATA
users:
- name: berth-admin
  user:
    token: $TOKEN
contexts:
- name: berth-k8s
  context:
    cluster: berth-k8s
    user: berth-admin
    namespace: default
current-context: berth-k8s
EOF
chmod 600 "$KUBECONFIG_OUT"

# ------------------------------------------------------------------ process helpers
# start NAME BINARY ARGS... : run detached (own session), log + pid in the state dir
start() {
  local name="$1"; shift
  setsid "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name.pid"
  log "started $name (pid $!, log $STATE/logs/$name.log)"
}
# wait_for DESC CMD... : retry CMD until it succeeds or TIMEOUT; fail if a component died
wait_for() {
  local desc="$1"; shift
  local deadline=$(( $(date +%s) + TIMEOUT ))
  until "$@" >/dev/null 2>&1; do
    for pf in "$STATE"/pids/*.pid; do
      if ! kill -0 "$(cat "$pf")" 2>/dev/null; then
        echo "up.sh: $(basename "$pf" .pid) exited while waiting for $desc" >&2; return 1
      fi
    done
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "up.sh: timed out after ${TIMEOUT}s waiting for $desc" >&2; return 1
    fi
    sleep 0.3
  done
  log "$desc ($(elapsed))"
}
api_get() {
  curl -fsS --max-time 5 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $TOKEN" "$SERVER$1"
}

# ------------------------------------------------------------------ etcd
start etcd "$BIN/etcd" \
  --name=berth \
  --data-dir="$STATE/etcd-data" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="berth=http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster-state=new \
  --unsafe-no-fsync \
  --quota-backend-bytes=2147483648 \
  --log-level=warn
wait_for "etcd healthy" curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health"

# ------------------------------------------------------------------ kube-apiserver
if [ "$MODE" = real-node ]; then
  real_node_network
  # The default (lease) endpoint reconciler gives the `kubernetes` Service this
  # address; the API server reaches the kubelet by its InternalIP, verified.
  api_mode_flags=(
    --kubelet-preferred-address-types=InternalIP,Hostname
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt"
    --kubelet-client-key="$PKI/apiserver-kubelet-client.key"
    --kubelet-certificate-authority="$PKI/ca.crt"
  )
else
  # Nothing outside this machine's loopback could use an endpoint: none is published.
  api_mode_flags=(--endpoint-reconciler-type=none)
fi
start kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address="$API_HOST" \
  --advertise-address="$API_HOST" \
  --secure-port="$API_PORT" \
  --cert-dir="$PKI" \
  --tls-cert-file="$PKI/apiserver.crt" \
  --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --token-auth-file="$PKI/tokens.csv" \
  --authorization-mode=Node,RBAC \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" \
  --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  "${api_mode_flags[@]}" \
  --requestheader-client-ca-file="$PKI/ca.crt" \
  --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User \
  --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" \
  --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --allow-privileged=true \
  --profiling=false \
  --v=1
wait_for "kube-apiserver ready" api_get /readyz

# ------------------------------------------------------------------ controller-manager
start kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig="$KUBECONFIG_OUT" \
  --authentication-kubeconfig="$KUBECONFIG_OUT" \
  --authorization-kubeconfig="$KUBECONFIG_OUT" \
  --bind-address=127.0.0.1 \
  --secure-port="$KCM_PORT" \
  --leader-elect=false \
  --controllers='*' \
  --service-account-private-key-file="$PKI/sa.key" \
  --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" \
  --cluster-signing-key-file="$PKI/ca.key" \
  --cluster-name=berth-k8s \
  --profiling=false \
  --v=1

# ------------------------------------------------------------------ scheduler
cat >"$STATE/scheduler.yaml" <<EOF
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: $KUBECONFIG_OUT
leaderElection:
  leaderElect: false
EOF
start kube-scheduler "$BIN/kube-scheduler" \
  --config="$STATE/scheduler.yaml" \
  --authentication-kubeconfig="$KUBECONFIG_OUT" \
  --authorization-kubeconfig="$KUBECONFIG_OUT" \
  --bind-address=127.0.0.1 \
  --secure-port="$SCHED_PORT" \
  --v=1

# ------------------------------------------------------------------ kwok
# default stages copied from sigs.k8s.io/kwok@$KWOK_VERSION kustomize/stage (node/fast,
# node/heartbeat-with-lease, pod/fast) + berth's pod-never-ready stage.
: >"$STATE/kwok.yaml"
for f in "$HERE"/stages/*.yaml; do
  { echo "---"; cat "$f"; } >>"$STATE/kwok.yaml"
done
start kwok "$BIN/kwok" \
  --kubeconfig="$KUBECONFIG_OUT" \
  --config="$STATE/kwok.yaml" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-lease-duration-seconds=40 \
  --cidr=198.18.64.0/18 \
  --node-ip=198.18.250.1 \
  --server-address="127.0.0.1:$KWOK_PORT"

# ------------------------------------------------------------------ fake nodes
nodes_yaml="$STATE/nodes.yaml"
: >"$nodes_yaml"
# Beside a real node, fake nodes take only pods that tolerate them (KWOK's own convention).
fake_taints='spec: {}'
[ "$MODE" = real-node ] && fake_taints='spec:
  taints:
  - { key: kwok.x-k8s.io/node, value: fake, effect: NoSchedule }'

for i in $(seq 0 $(( NODES - 1 ))); do
  cat >>"$nodes_yaml" <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
  labels:
    beta.kubernetes.io/arch: amd64
    beta.kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    topology.kubernetes.io/zone: kwok-zone-$i
    type: kwok
$fake_taints
status:
  addresses:
  - type: InternalIP
    address: 198.18.250.$(( i + 1 ))
  - type: Hostname
    address: kwok-node-$i
  allocatable:
    cpu: "32"
    memory: 256Gi
    pods: "110"
  capacity:
    cpu: "32"
    memory: 256Gi
    pods: "110"
EOF
done
"${KUBECTL[@]}" apply -f "$nodes_yaml" >"$STATE/logs/nodes-apply.log" 2>&1
nodes_ready() {
  local n
  n="$("${KUBECTL[@]}" get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '^True$')"
  [ "$n" -ge "$NODES" ]
}
wait_for "$NODES kwok nodes Ready" nodes_ready
wait_for "default service account" "${KUBECTL[@]}" -n default get serviceaccount default
# the kube-controller-manager and scheduler have no readiness signal besides /healthz
wait_for "kube-controller-manager healthy" curl -fsSk --max-time 2 "https://127.0.0.1:$KCM_PORT/healthz"
wait_for "kube-scheduler healthy" curl -fsSk --max-time 2 "https://127.0.0.1:$SCHED_PORT/healthz"

[ "$MODE" = real-node ] && real_node_start

cat >"$STATE/env" <<EOF
export KUBECONFIG=$KUBECONFIG_OUT
export BERTH_K8S_SERVER=$SERVER
export BERTH_K8S_TOKEN=$TOKEN
export BERTH_K8S_CA=$PKI/ca.crt
export BERTH_K8S_BIN=$BIN
EOF
[ "$MODE" = real-node ] && real_node_env >>"$STATE/env"
trap - ERR
log "control plane up in $(elapsed): $SERVER ($K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION, $MODE)"
log "kubectl: $BIN/kubectl   env file: $STATE/env   logs: $STATE/logs"
print_result
