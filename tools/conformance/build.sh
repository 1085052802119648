#!/usr/bin/env bash
# Build (once) and cache connectconformance, the official Connect conformance
# runner (connectrpc/conformance), from the Go module proxy: no release download.
#
# Cache: ${BERTH_CONFORMANCE_CACHE:-~/.cache/berth-conformance}/<version>/connectconformance
# Prints the binary's path on the last line of stdout.
set -euo pipefail

VERSION="${BERTH_CONFORMANCE_VERSION:-v1.0.7}"
CACHE_ROOT="${BERTH_CONFORMANCE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/berth-conformance}"
DIR="$CACHE_ROOT/$VERSION"
BIN="$DIR/connectconformance"

if [ ! -x "$BIN" ]; then
  GO="$(command -v go || echo /usr/local/go/bin/go)"
  [ -x "$GO" ] || { echo "tools/conformance/build.sh: no go toolchain found; install Go to run the conformance phase" >&2; exit 1; }
  mkdir -p "$DIR"
  tmp="$(mktemp -d "$DIR/.tmp.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  echo "[conformance] building connectconformance $VERSION (once; log: $DIR/build.log)" >&2
  # -mod=mod: the module's go.sum lacks some of its test dependencies' sums.
  if ! (cd "$tmp" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" GOBIN="$tmp" \
        "$GO" install -trimpath -ldflags "-s -w" "connectrpc.com/conformance/cmd/connectconformance@$VERSION" \
        >"$DIR/build.log" 2>&1); then
    echo "tools/conformance/build.sh: go install failed; last lines of $DIR/build.log:" >&2
    tail -n 30 "$DIR/build.log" >&2
    exit 1
  fi
  mv -f "$tmp/connectconformance" "$BIN"
fi
echo "$BIN"
