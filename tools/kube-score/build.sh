#!/usr/bin/env bash
# Build (once) and cache kube-score (zegl/kube-score), the static checker that
# test/kube/kube-score.test.ts runs over berth's renders, from the Go module
# proxy: no release download.
#
# Cache: ${BERTH_KUBE_SCORE_CACHE:-~/.cache/berth-kube-score}/<version>/kube-score
# Prints the binary's path on the last line of stdout; quiet when cached.
# `build.sh --path` only prints where it is (or would be), building nothing:
# test/kube/kube-score.test.ts finds it that way, so version and cache live here alone.
set -euo pipefail

VERSION="${BERTH_KUBE_SCORE_VERSION:-v1.20.0}"
CACHE_ROOT="${BERTH_KUBE_SCORE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/berth-kube-score}"
DIR="$CACHE_ROOT/$VERSION"
BIN="$DIR/kube-score"

if [ "${1:-}" = --path ]; then echo "$BIN"; exit 0; fi

if [ ! -x "$BIN" ]; then
  GO="$(command -v go || echo /usr/local/go/bin/go)"
  [ -x "$GO" ] || { echo "tools/kube-score/build.sh: no go toolchain found; install Go to build kube-score" >&2; exit 1; }
  mkdir -p "$DIR"
  tmp="$(mktemp -d "$DIR/.tmp.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  echo "[kube-score] building kube-score $VERSION (once; log: $DIR/build.log)" >&2
  # The same flags as tools/conformance/build.sh: a static binary, no VCS stamping.
  if ! (cd "$tmp" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" GOBIN="$tmp" \
        "$GO" install -trimpath -ldflags "-s -w" "github.com/zegl/kube-score/cmd/kube-score@$VERSION" \
        >"$DIR/build.log" 2>&1); then
    echo "tools/kube-score/build.sh: go install failed; last lines of $DIR/build.log:" >&2
    tail -n 30 "$DIR/build.log" >&2
    exit 1
  fi
  mv -f "$tmp/kube-score" "$BIN"
fi
echo "$BIN"
