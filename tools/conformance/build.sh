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

bash "$(dirname "$0")/../go-install.sh" conformance "connectrpc.com/conformance/cmd/connectconformance@$VERSION" "$BIN"
echo "$BIN"
