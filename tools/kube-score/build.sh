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

bash "$(dirname "$0")/../go-install.sh" kube-score "github.com/zegl/kube-score/cmd/kube-score@$VERSION" "$BIN"
echo "$BIN"
