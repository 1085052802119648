#!/usr/bin/env bash
# Build one Go command from the Go module proxy (no release download) into BIN,
# once: a static binary without VCS stamping. Quiet when BIN exists; the build's
# log goes beside BIN.
#
# Usage: tools/go-install.sh <name> <package@version> <bin>
set -euo pipefail
NAME="$1" PACKAGE="$2" BIN="$3"
[ -x "$BIN" ] && exit 0

GO="$(command -v go || echo /usr/local/go/bin/go)"
[ -x "$GO" ] || { echo "tools/go-install.sh: no go toolchain found; install Go to build $NAME" >&2; exit 1; }
DIR="$(dirname "$BIN")"
mkdir -p "$DIR"
tmp="$(mktemp -d "$DIR/.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "[$NAME] building $PACKAGE (once; log: $DIR/build.log)" >&2
# -mod=mod: some modules' go.sum lack their test dependencies' sums.
if ! (cd "$tmp" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" GOBIN="$tmp" \
      "$GO" install -trimpath -ldflags "-s -w" "$PACKAGE" >"$DIR/build.log" 2>&1); then
  echo "tools/go-install.sh: go install $PACKAGE failed; last lines of $DIR/build.log:" >&2
  tail -n 30 "$DIR/build.log" >&2
  exit 1
fi
# The binary is named by the package (a /vN suffix is not its name): take the one file go install left.
built=("$tmp"/*)
[ "${#built[@]}" = 1 ] && [ -x "${built[0]}" ] || { echo "tools/go-install.sh: go install $PACKAGE left no single binary in $tmp" >&2; exit 1; }
mv -f "${built[0]}" "$BIN"
