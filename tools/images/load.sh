#!/usr/bin/env bash
# Import OCI image archives (from build.sh, or any `buildah push ... oci-archive:`)
# into a containerd, namespace k8s.io, where the kubelet's CRI finds them.
#
# Usage: load.sh [ARCHIVE ...]   (default: every *.oci.tar in $BERTH_TEST_IMAGES_DIR)
#
# An archive whose image is already in containerd under the same name and manifest
# digest is skipped, so re-running is cheap. The name is the archive's
# org.opencontainers.image.ref.name (build.sh writes the full image name there).
#
# Env:
#   CONTAINERD_ADDRESS     containerd socket (required)
#   BERTH_TEST_IMAGES_DIR  default archive directory (build.sh prints it; default
#                          ${BERTH_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/berth-k8s}/images/oci)
#   CONTAINERD_NAMESPACE   default k8s.io
#   CTR                    ctr binary (default: ctr on PATH)
# Progress on stderr; stdout stays empty.
set -euo pipefail

log() { echo "[images $(date +%H:%M:%S)] $*" >&2; }
die() { echo "[images $(date +%H:%M:%S)] error: $*" >&2; exit 1; }

: "${CONTAINERD_ADDRESS:?set CONTAINERD_ADDRESS to the containerd socket}"
NS="${CONTAINERD_NAMESPACE:-k8s.io}"
CTR="${CTR:-ctr}"
command -v "$CTR" >/dev/null 2>&1 || die "'$CTR' not found: install it with: apt-get install -y containerd"
[ -S "$CONTAINERD_ADDRESS" ] || die "no containerd socket at $CONTAINERD_ADDRESS"
ctr_() { "$CTR" --address "$CONTAINERD_ADDRESS" -n "$NS" "$@"; }

DIR="${BERTH_TEST_IMAGES_DIR:-${BERTH_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/berth-k8s}/images/oci}"
if [ $# -eq 0 ]; then
  shopt -s nullglob
  set -- "$DIR"/*.oci.tar
  shopt -u nullglob
  [ $# -gt 0 ] || die "no *.oci.tar in $DIR (run tools/images/build.sh first)"
fi

# archive_ref FILE -> "NAME DIGEST" of the first manifest in the archive's index.json
archive_ref() {
  local index
  index="$(tar -xOf "$1" index.json 2>/dev/null)" || return 1
  if command -v jq >/dev/null 2>&1; then
    jq -r '.manifests[0] | "\(.annotations["org.opencontainers.image.ref.name"] // "") \(.digest)"' <<<"$index"
  else
    local name digest
    name="$(grep -o '"org.opencontainers.image.ref.name":"[^"]*"' <<<"$index" | head -n1 | cut -d'"' -f4)"
    digest="$(grep -o '"digest":"sha256:[0-9a-f]*"' <<<"$index" | head -n1 | cut -d'"' -f4)"
    echo "$name $digest"
  fi
}

t_all=$(date +%s)
for file in "$@"; do
  [ -f "$file" ] || die "no such archive: $file"
  read -r name digest < <(archive_ref "$file") || die "$file: not an OCI archive (no index.json)"
  case "$name" in
    */*:* | */*@*) ;;
    *) die "$file: its index names no full image reference ('$name'); push it as oci-archive:FILE:IMAGE" ;;
  esac
  present="$(ctr_ images ls "name==$name" 2>/dev/null | awk 'NR > 1 { print $3 }')"
  if [ "$present" = "$digest" ]; then
    log "$name: already in containerd ($digest)"
    continue
  fi
  log "$name: importing $(du -h "$file" | cut -f1) from $file"
  t0=$(date +%s)
  out="$(ctr_ images import "$file" 2>&1)" || { echo "$out" >&2; die "ctr images import $file failed"; }
  present="$(ctr_ images ls "name==$name" 2>/dev/null | awk 'NR > 1 { print $3 }')"
  [ "$present" = "$digest" ] ||
    die "$name: after import containerd has '${present:-nothing}', expected $digest ($out)"
  log "$name: imported in $(( $(date +%s) - t0 ))s"
done
log "done in $(( $(date +%s) - t_all ))s"
