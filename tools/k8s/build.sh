#!/usr/bin/env bash
# Build (once) and cache the binaries of the test Kubernetes control plane:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok,
#   and for the real node kubelet, kube-proxy and crictl
# from Go modules only (no container registry, no release downloads).
#
# Cache: ${BERTH_K8S_CACHE:-~/.cache/berth-k8s}/<K8S_VERSION>/bin  (outside the repo)
# Each binary has a stamp file (<bin>.stamp) holding the inputs it was built from;
# a binary whose stamp matches is skipped, so re-running is cheap (idempotent).
#
# Env:
#   BERTH_K8S_CACHE   cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/berth-k8s)
#   BERTH_K8S_GO      go binary (default: go on PATH, else /usr/local/go/bin/go)
#   BERTH_K8S_BUILD_P go build -p value (default 2)
#   BERTH_K8S_FORCE=1 rebuild even if cached
# Prints the bin directory on the last line of stdout.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"

CACHE_ROOT="${BERTH_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/berth-k8s}"
BIN="$CACHE_ROOT/$K8S_VERSION/bin"
LOGDIR="$CACHE_ROOT/$K8S_VERSION/build-logs"
mkdir -p "$BIN" "$LOGDIR"

GO="${BERTH_K8S_GO:-}"
if [ -z "$GO" ]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"; else GO=/usr/local/go/bin/go; fi
fi
[ -x "$GO" ] || { echo "build.sh: no go toolchain found (set BERTH_K8S_GO)" >&2; exit 1; }

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"
P="${BERTH_K8S_BUILD_P:-2}"

log() { echo "[build.sh $(date +%H:%M:%S)] $*" >&2; }

# One build at a time per cache dir (two up.sh started together would otherwise race).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE_ROOT/$K8S_VERSION/.build.lock"
  if ! flock -n 9; then log "another build.sh is running; waiting for it"; flock 9; fi
fi
rm -rf "$BIN"/.tmp.*   # leftovers of an interrupted build

sum_files() { cat "$@" | sha256sum | cut -c1-16; }

# up_to_date NAME STAMP -> 0 if $BIN/NAME exists and its stamp equals STAMP
up_to_date() {
  [ "${BERTH_K8S_FORCE:-0}" != 1 ] && [ -x "$BIN/$1" ] && [ -f "$BIN/$1.stamp" ] &&
    [ "$(cat "$BIN/$1.stamp")" = "$2" ]
}

# run_logged LOGFILE CMD... : run with output to a log, print the tail on failure
run_logged() {
  local logf="$1"; shift
  if ! "$@" >"$logf" 2>&1; then
    echo "build.sh: command failed: $*" >&2
    echo "---- last 40 lines of $logf ----" >&2
    tail -n 40 "$logf" >&2
    exit 1
  fi
}

# ---------------------------------------------------------------- etcd
ETCD_STAMP="etcd $ETCD_VERSION $(sum_files "$HERE/etcd-wrapper/go.mod" "$HERE/etcd-wrapper/go.sum")"
if up_to_date etcd "$ETCD_STAMP"; then
  log "etcd $ETCD_VERSION: cached"
else
  grep -q "go.etcd.io/etcd/server/v3 $ETCD_VERSION" "$HERE/etcd-wrapper/go.mod" ||
    { echo "build.sh: etcd-wrapper/go.mod does not pin server/v3 $ETCD_VERSION" >&2; exit 1; }
  log "etcd $ETCD_VERSION: building (log: $LOGDIR/etcd.log)"
  t0=$(date +%s)
  tmp="$(mktemp -d "$BIN/.tmp.XXXXXX")"
  ( cd "$HERE/etcd-wrapper" &&
    run_logged "$LOGDIR/etcd.log" "$GO" build -p "$P" -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3 )
  mv -f "$tmp/etcd" "$BIN/etcd"; rmdir "$tmp"
  echo "$ETCD_STAMP" >"$BIN/etcd.stamp"
  log "etcd: built in $(( $(date +%s) - t0 ))s"
fi

# ---------------------------------------------------------------- kubernetes
K8S_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
K8S_STAMP="k8s $K8S_VERSION $(sum_files "$HERE/wrapper/go.mod" "$HERE/wrapper/go.sum")"
need=()
for b in "${K8S_BINS[@]}"; do
  if up_to_date "$b" "$K8S_STAMP"; then log "$b $K8S_VERSION: cached"; else need+=("$b"); fi
done
if [ "${#need[@]}" -gt 0 ]; then
  grep -q "k8s.io/kubernetes $K8S_VERSION" "$HERE/wrapper/go.mod" ||
    { echo "build.sh: wrapper/go.mod does not pin k8s.io/kubernetes $K8S_VERSION" >&2; exit 1; }
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  ldflags="-s -w"
  ldflags+=" -X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
  ldflags+=" -X k8s.io/component-base/version.gitMinor=$minor"
  ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  ldflags+=" -X k8s.io/component-base/version.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitMajor=1"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  pkgs=(); for b in "${need[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  log "${need[*]} $K8S_VERSION: building with $("$GO" env GOVERSION) -p $P (slow when cold: 15-30 min on 2 cores; log: $LOGDIR/k8s.log)"
  t0=$(date +%s)
  tmp="$(mktemp -d "$BIN/.tmp.XXXXXX")"
  ( cd "$HERE/wrapper" &&
    run_logged "$LOGDIR/k8s.log" "$GO" build -p "$P" -trimpath -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}" )
  for b in "${need[@]}"; do mv -f "$tmp/$b" "$BIN/$b"; echo "$K8S_STAMP" >"$BIN/$b.stamp"; done
  rmdir "$tmp"
  log "kubernetes: built in $(( $(date +%s) - t0 ))s"
fi

# ---------------------------------------------------------------- go install tools
# go_install NAME VERSION PACKAGE: tools whose module has no replace directives,
# so `go install pkg@version` builds them with their own go.sum.
go_install() {
  local name="$1" version="$2" package="$3" stamp="$1 $2"
  if up_to_date "$name" "$stamp"; then log "$name $version: cached"; return; fi
  log "$name $version: building (log: $LOGDIR/$name.log)"
  local t0 tmp
  t0=$(date +%s)
  tmp="$(mktemp -d "$BIN/.tmp.XXXXXX")"
  ( cd "$tmp" && GOFLAGS=-buildvcs=false GOBIN="$tmp" run_logged "$LOGDIR/$name.log" "$GO" install -p "$P" -trimpath -ldflags "-s -w" \
      "$package@$version" )
  mv -f "$tmp/$name" "$BIN/$name"; rmdir "$tmp"
  echo "$stamp" >"$BIN/$name.stamp"
  log "$name: built in $(( $(date +%s) - t0 ))s"
}
go_install kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok
# crictl: the real node's pods are stopped and removed through CRI on down.sh.
go_install crictl "$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl
# coredns: the cluster DNS of the real node (pods resolve <service>.<namespace>.svc).
go_install coredns "$COREDNS_VERSION" github.com/coredns/coredns

log "binaries in $BIN"
echo "$BIN"
