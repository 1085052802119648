# shellcheck shell=bash
# The real node of the test cluster (BERTH_K8S_REAL_NODE=1): containerd + runc +
# a CNI bridge + kubelet + kube-proxy + CoreDNS, beside the KWOK nodes. Sourced by
# up.sh (which defines STATE, PKI, BIN, log, start, wait_for, sign_cert, api_get);
# real-node-down.sh undoes every change made here. See ../../docs/kubernetes.md and
# the tools/k8s README for why each setting is what it is.
#
# Addresses stay inside this machine: the bridge holds 198.18.0.1/16 (RFC 2544
# benchmarking space, outside 10/8, 172.16/12 and 192.168/16); real pods get
# 198.18.0.0/24, KWOK's fake pods 198.18.64.0/18, Services 198.19.0.0/16.

REAL_NODE_NAME=berth-node
REAL_NODE_BRIDGE=berth0
REAL_NODE_IP=198.18.0.1
CLUSTER_CIDR=198.18.0.0/16
CLUSTER_DNS_IP=$REAL_NODE_IP
# The sandbox ("pause") image, made by tools/images/build.sh.
PAUSE_IMAGE=localhost/berth-test/pause:3.10
# Images persist across runs (a warm run imports nothing); run state does not.
CONTAINERD_ROOT="$CACHE_ROOT/containerd-root"
CONTAINERD_SOCK="$STATE/containerd/containerd.sock"
# Kernel settings kubelet, kube-proxy and the bridge change; their values before
# up.sh are saved in $STATE/sysctl.saved and put back by real-node-down.sh.
REAL_NODE_SYSCTLS=(
  net.ipv4.ip_forward
  net.bridge.bridge-nf-call-iptables
  net.bridge.bridge-nf-call-ip6tables
  net.ipv4.conf.all.route_localnet
  vm.overcommit_memory
  vm.panic_on_oom
  kernel.panic
  kernel.panic_on_oops
  kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes
)

real_node_require() {
  [ "$(id -u)" = 0 ] || { echo "up.sh: BERTH_K8S_REAL_NODE=1 needs root (it runs containerd, kubelet and iptables)" >&2; exit 1; }
  local missing=()
  command -v containerd >/dev/null || missing+=("containerd (apt-get install containerd)")
  [ -x /usr/sbin/runc ] || missing+=("runc (apt-get install runc)")
  [ -x /usr/lib/cni/bridge ] || missing+=("CNI plugins (apt-get install containernetworking-plugins)")
  command -v iptables-save >/dev/null || missing+=("iptables (apt-get install iptables)")
  command -v ip >/dev/null || missing+=("ip (apt-get install iproute2)")
  command -v findmnt >/dev/null || missing+=("findmnt (apt-get install util-linux)")
  if [ "${#missing[@]}" -gt 0 ]; then
    printf 'up.sh: the real node needs: %s\n' "${missing[@]}" >&2
    exit 1
  fi
  for b in kubelet kube-proxy crictl coredns; do
    [ -x "$BIN/$b" ] || { echo "up.sh: missing $BIN/$b after build.sh" >&2; exit 1; }
  done
}

# The bridge exists before the API server, which binds and advertises its address
# so that pods reach it through the `kubernetes` Service.
real_node_network() {
  : >"$STATE/sysctl.saved"
  # Namespaces that are not ours, so real-node-down.sh leaves them alone.
  ls -1d /var/run/netns/cni-* >"$STATE/netns.before" 2>/dev/null || true
  # Folders outside the state dir that kubelet, libcni and ip netns make when missing.
  : >"$STATE/dirs.created"
  local dir
  for dir in /var/log/containers /var/lib/cni /var/run/netns; do
    [ -e "$dir" ] || echo "$dir" >>"$STATE/dirs.created"
  done
  for key in "${REAL_NODE_SYSCTLS[@]}"; do
    local value
    value="$(sysctl -n "$key" 2>/dev/null)" && printf '%s=%s\n' "$key" "$value" >>"$STATE/sysctl.saved"
  done
  if ! ip link show "$REAL_NODE_BRIDGE" >/dev/null 2>&1; then
    ip link add "$REAL_NODE_BRIDGE" type bridge
    touch "$STATE/bridge.created"
  fi
  ip addr replace "$REAL_NODE_IP/16" dev "$REAL_NODE_BRIDGE"
  ip link set "$REAL_NODE_BRIDGE" up
  sysctl -qw net.ipv4.ip_forward=1
  # Pod → Service → pod on the same bridge goes through kube-proxy's iptables rules.
  sysctl -qw net.bridge.bridge-nf-call-iptables=1
  log "bridge $REAL_NODE_BRIDGE $REAL_NODE_IP/16 up"
}

real_node_certs() {
  sign_cert kubelet-serving "/CN=$REAL_NODE_NAME" \
    "subjectAltName=IP:$REAL_NODE_IP,DNS:$REAL_NODE_NAME" \
    "extendedKeyUsage=serverAuth" "keyUsage=critical,digitalSignature,keyEncipherment"
  # The Node authorizer and NodeRestriction know a kubelet by this name and group.
  sign_cert kubelet-client "/O=system:nodes/CN=system:node:$REAL_NODE_NAME" \
    "extendedKeyUsage=clientAuth" "keyUsage=critical,digitalSignature,keyEncipherment"
  # Bound by default to system:node-proxier.
  sign_cert kube-proxy "/CN=system:kube-proxy" \
    "extendedKeyUsage=clientAuth" "keyUsage=critical,digitalSignature,keyEncipherment"
  # The API server's identity towards the kubelet (logs, exec, port-forward).
  sign_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" \
    "extendedKeyUsage=clientAuth" "keyUsage=critical,digitalSignature,keyEncipherment"
  sign_cert coredns "/CN=berth:coredns" \
    "extendedKeyUsage=clientAuth" "keyUsage=critical,digitalSignature,keyEncipherment"
  chmod 600 "$PKI"/*.key
}

# client_kubeconfig NAME CERT : a kubeconfig for a component's client certificate
client_kubeconfig() {
  local file="$STATE/$1.kubeconfig"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: berth-k8s
  cluster: { server: $SERVER, certificate-authority: $PKI/ca.crt }
users:
- name: $1
  user: { client-certificate: $PKI/$2.crt, client-key: $PKI/$2.key }
contexts:
- name: $1
  context: { cluster: berth-k8s, user: $1 }
current-context: $1
EOF
  chmod 600 "$file"
  echo "$file"
}

real_node_containerd() {
  mkdir -p "$STATE/containerd/state" "$STATE/cni/net.d" "$STATE/cni/ipam" "$CONTAINERD_ROOT"
  cat >"$STATE/cni/net.d/10-berth.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "berth",
  "plugins": [
    {
      "type": "bridge", "bridge": "$REAL_NODE_BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$STATE/cni/ipam",
        "ranges": [[{ "subnet": "$CLUSTER_CIDR", "rangeStart": "198.18.0.10", "rangeEnd": "198.18.0.254", "gateway": "$REAL_NODE_IP" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "loopback" }
  ]
}
EOF
  cat >"$STATE/containerd/config.toml" <<EOF
version = 2
root = "$CONTAINERD_ROOT"
state = "$STATE/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Without it every sandbox fails: this VM's bounding set lacks CAP_SYS_RESOURCE,
  # so not even root may lower oom_score_adj.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
        Root = "$STATE/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$STATE/containerd/certs.d"
EOF
  # Images are loaded, never pulled: every registry resolves to a closed local port,
  # so an image that was not loaded fails at once and nothing leaves this machine.
  mkdir -p "$STATE/containerd/certs.d/_default"
  cat >"$STATE/containerd/certs.d/_default/hosts.toml" <<EOF
server = "http://127.0.0.1:9"
[host."http://127.0.0.1:9"]
  capabilities = ["pull", "resolve"]
EOF
  start containerd containerd --config "$STATE/containerd/config.toml"
  wait_for "containerd answering" ctr --address "$CONTAINERD_SOCK" version
  # The images the node needs before its first pod (pause) and the resources'
  # stand-ins, built once and cached by tools/images; its exports (the buildah
  # storage `berth build` must use) go into the env file.
  log "images for the node (tools/images/build.sh; cold: minutes, warm: seconds)"
  bash "$REPO_ROOT/tools/images/build.sh" >"$STATE/images.env"
  # shellcheck disable=SC1091
  ( . "$STATE/images.env" && CONTAINERD_ADDRESS="$CONTAINERD_SOCK" bash "$REPO_ROOT/tools/images/load.sh" )
}

real_node_kubelet() {
  local kubeconfig port healthz
  kubeconfig="$(client_kubeconfig kubelet kubelet-client)"
  read -r port healthz < <(free_ports 2)
  echo "$port" >"$STATE/kubelet.port"
  cat >"$STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $REAL_NODE_IP
port: $port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $healthz
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $PKI/ca.crt }
authorization: { mode: Webhook }
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
# 1.35 refuses cgroup v1 unless told; containerd 1.6 cannot report its cgroup driver.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
# The VM's bounding set lacks CAP_SYS_RESOURCE: kubelet may not lower its own score.
oomScoreAdj: 0
protectKernelDefaults: false
clusterDomain: cluster.local
clusterDNS: [$CLUSTER_DNS_IP]
maxPods: 60
serializeImagePulls: false
# Images are loaded by the tests, never pulled: none may be collected.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: "200Mi", nodefs.available: "2%", imagefs.available: "2%" }
staticPodPath: ""
podLogsDir: $STATE/pod-logs
EOF
  start kubelet "$BIN/kubelet" \
    --config="$STATE/kubelet.yaml" \
    --kubeconfig="$kubeconfig" \
    --root-dir="$STATE/kubelet" \
    --cert-dir="$STATE/kubelet-pki" \
    --hostname-override="$REAL_NODE_NAME" \
    --node-ip="$REAL_NODE_IP" \
    --node-labels="berth.dev/node=real" \
    --v=1
  node_ready() {
    [ "$("${KUBECTL[@]}" get node "$REAL_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
  }
  wait_for "real node $REAL_NODE_NAME Ready" node_ready
}

real_node_proxy() {
  local kubeconfig healthz metrics
  kubeconfig="$(client_kubeconfig kube-proxy kube-proxy)"
  read -r healthz metrics < <(free_ports 2)
  cat >"$STATE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: $kubeconfig }
mode: iptables
clusterCIDR: $CLUSTER_CIDR
hostnameOverride: $REAL_NODE_NAME
bindAddress: $REAL_NODE_IP
healthzBindAddress: 127.0.0.1:$healthz
metricsBindAddress: 127.0.0.1:$metrics
# NodePorts answer on the node's bridge address only, never on eth0 or 127.0.0.1
# (which would need route_localnet).
nodePortAddresses: ["$REAL_NODE_IP/32"]
iptables: { localhostNodePorts: false }
# Leave the machine's conntrack table size alone.
conntrack: { maxPerCore: 0 }
EOF
  start kube-proxy "$BIN/kube-proxy" --config="$STATE/kube-proxy.yaml" --v=1
  wait_for "kube-proxy healthy" curl -fsS --max-time 2 "http://127.0.0.1:$healthz/healthz"
}

# CoreDNS on the bridge address, serving cluster.local from the API with an identity
# that may only list and watch what the kubernetes plugin reads. Nothing else is
# resolved (no forwarding): pods of the tests need no names outside the cluster.
real_node_dns() {
  local kubeconfig
  kubeconfig="$(client_kubeconfig coredns coredns)"
  "${KUBECTL[@]}" apply -f - >"$STATE/logs/coredns-rbac.log" 2>&1 <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: "berth:coredns" }
rules:
- apiGroups: [""]
  resources: [services, namespaces, pods]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: "berth:coredns" }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "berth:coredns" }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: "berth:coredns" }]
EOF
  cat >"$STATE/Corefile" <<EOF
cluster.local:53 {
  bind $CLUSTER_DNS_IP
  errors
  kubernetes cluster.local {
    kubeconfig $kubeconfig coredns
  }
  cache 5
}
EOF
  start coredns "$BIN/coredns" -conf "$STATE/Corefile"
  wait_for "cluster DNS answering" dns_answers
}

dns_answers() {
  # getent cannot pick a server: one A query for the kubernetes Service, answered.
  python3 - "$CLUSTER_DNS_IP" <<'PY'
import socket, struct, sys
query = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
for label in "kubernetes.default.svc.cluster.local".split("."):
    query += bytes([len(label)]) + label.encode()
query += b"\x00" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.sendto(query, (sys.argv[1], 53))
answer = s.recv(512)
sys.exit(0 if struct.unpack(">H", answer[6:8])[0] > 0 else 1)
PY
}

real_node_start() {
  real_node_containerd
  real_node_kubelet
  real_node_proxy
  real_node_dns
  kubernetes_service_ready() {
    "${KUBECTL[@]}" get endpointslices -n default -l kubernetes.io/service-name=kubernetes \
      -o jsonpath='{.items[*].endpoints[*].addresses[*]}' | grep -q "$REAL_NODE_IP"
  }
  wait_for "the kubernetes Service pointing at $REAL_NODE_IP" kubernetes_service_ready
}

real_node_env() {
  cat "$STATE/images.env"
  cat <<EOF
export CONTAINERD_ADDRESS=$CONTAINERD_SOCK
export BERTH_K8S_REAL_NODE_NAME=$REAL_NODE_NAME
export BERTH_K8S_REAL_NODE_IP=$REAL_NODE_IP
EOF
}
