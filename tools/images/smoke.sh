#!/usr/bin/env bash
# Behaviour checks of the images build.sh makes, run the way the test node runs them:
# with runc, from an OCI bundle whose process is the image's ENTRYPOINT + CMD (or
# args given here), as root or as a pod's runAsUser with capabilities dropped and a
# read-only root filesystem. Each container has its own network namespace; the
# host's psql/curl reach it through nsenter, so nothing binds a host port.
#
# Usage: smoke.sh [node|pause|postgres|nats ...]   (default: all)
# Builds what is missing first (build.sh, cached). Leaves nothing running or mounted;
# BERTH_SMOKE_KEEP=1 keeps the bundles, data directories and logs in /tmp.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$HERE/versions.env"
RUNC=/usr/sbin/runc

log() { echo "[smoke $(date +%H:%M:%S)] $*" >&2; }
PASSED=0 FAILED=0
ok() { PASSED=$((PASSED + 1)); log "ok   $*"; }
bad() { FAILED=$((FAILED + 1)); log "FAIL $*"; }
check() { # DESCRIPTION CMD...
  local d="$1"; shift
  if "$@"; then ok "$d"; else bad "$d"; fi
}

for t in jq nsenter ip curl psql pg_isready; do
  command -v "$t" >/dev/null 2>&1 || { log "missing $t (apt-get install -y jq util-linux iproute2 curl postgresql-client)"; exit 1; }
done

WANT=("$@")
[ ${#WANT[@]} -gt 0 ] || WANT=(node pause postgres nats)
eval "$("$HERE/build.sh" "${WANT[@]}")"

TMP="$(mktemp -d /tmp/berth-images-smoke.XXXXXX)"
IDS=() CTRS=()
cleanup() {
  local id c
  for id in "${IDS[@]}"; do "$RUNC" delete -f "$id" >/dev/null 2>&1 || true; done
  for c in "${CTRS[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  if [ "${BERTH_SMOKE_KEEP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# Capabilities containerd gives a container by default (as root).
DEFAULT_CAPS='["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER","CAP_MKNOD","CAP_NET_RAW","CAP_SETGID","CAP_SETUID","CAP_SETFCAP","CAP_SETPCAP","CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_KILL","CAP_AUDIT_WRITE"]'

# start NAME IMAGE [options] [-- ARGS...]: run IMAGE's entrypoint (with ARGS in place
# of CMD) under runc in the background. Options:
#   --user UID:GID   (default: the image's user)   --restricted  (no caps, read-only
#   root, no new privileges: a pod's restricted securityContext)
#   --bind SRC:DST   --tmpfs DST   --env K=V
# Sets PID (runc's) and CID; the log is $TMP/NAME.log.
start() {
  local name="$1" image="$2"; shift 2
  local user="" restricted=false mounts='[]' envs='[]' args=() have_args=false
  while [ $# -gt 0 ]; do
    case "$1" in
      --user) user="$2"; shift 2 ;;
      --restricted) restricted=true; shift ;;
      --bind) mounts="$(jq -c --arg s "${2%%:*}" --arg d "${2#*:}" '. + [{destination: $d, type: "bind", source: $s, options: ["rbind", "rw"]}]' <<<"$mounts")"; shift 2 ;;
      --tmpfs) mounts="$(jq -c --arg d "$2" '. + [{destination: $d, type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"]}]' <<<"$mounts")"; shift 2 ;;
      --env) envs="$(jq -c --arg e "$2" '. + [$e]' <<<"$envs")"; shift 2 ;;
      --) shift; args=("$@"); have_args=true; break ;;
      *) log "start: bad option $1"; exit 2 ;;
    esac
  done
  local dir="$TMP/bundle-$name" c rootfs cfg uid gid
  mkdir -p "$dir"
  c="$(buildah from --pull=never --name "berth-smoke-$name-$$" "$image")"
  CTRS+=("$c")
  rootfs="$(buildah mount "$c")"
  cfg="$(buildah inspect --type image "$image" | jq -c '.OCIv1.config')"
  [ -n "$user" ] || user="$(jq -r '.User // ""' <<<"$cfg")"
  [ -n "$user" ] || user=0:0
  uid="${user%%:*}" gid="${user#*:}"
  [ "$gid" != "$user" ] || gid=0
  local argv
  if $have_args; then argv="$(printf '%s\n' "${args[@]}" | jq -R . | jq -sc .)"; else argv="$(jq -c '.Cmd // []' <<<"$cfg")"; fi
  (cd "$dir" && "$RUNC" spec)
  jq --arg root "$rootfs" --arg host "$name" --argjson cfg "$cfg" --argjson argv "$argv" \
    --argjson uid "$uid" --argjson gid "$gid" --argjson restricted "$restricted" \
    --argjson caps "$DEFAULT_CAPS" --argjson mounts "$mounts" --argjson envs "$envs" '
    .root = {path: $root, readonly: $restricted}
    | .hostname = $host
    | .process.terminal = false
    | .process.args = (($cfg.Entrypoint // []) + $argv)
    | .process.env = (($cfg.Env // []) + $envs)
    | .process.cwd = (if ($cfg.WorkingDir // "") == "" then "/" else $cfg.WorkingDir end)
    | .process.user = {uid: $uid, gid: $gid}
    | .process.noNewPrivileges = $restricted
    | .process.capabilities = (if $restricted then {} else
        {bounding: $caps, effective: $caps, permitted: $caps} end)
    | .mounts += $mounts' "$dir/config.json" >"$dir/config.json.new"
  mv "$dir/config.json.new" "$dir/config.json"
  CID="berth-smoke-$name-$$"
  IDS+=("$CID")
  "$RUNC" run --bundle "$dir" "$CID" >"$TMP/$name.log" 2>&1 </dev/null &
  PID=$!
  for _ in $(seq 50); do
    [ "$("$RUNC" state "$CID" 2>/dev/null | jq -r .status)" = running ] && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  return 0
}

proc_of() { awk '/^Name:/ { n = $2 } /^Uid:/ { u = $2 } END { print n, u }' "/proc/$1/status"; }
ctr_pid() { "$RUNC" state "$1" 2>/dev/null | jq -r .pid; }
in_netns() { local p; p="$(ctr_pid "$1")"; shift; nsenter -t "$p" -n -- "$@"; }

# stop CID RUNC_PID SIGNAL: send the signal, wait up to 30 s; sets RC (runc's exit status).
stop() {
  "$RUNC" kill "$1" "$3" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$2" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$2" 2>/dev/null; then "$RUNC" kill "$1" KILL 2>/dev/null || true; fi
  RC=0; wait "$2" || RC=$?
  "$RUNC" delete -f "$1" >/dev/null 2>&1 || true
}

# wait_for SECONDS CMD...: retry until CMD succeeds.
wait_for() {
  local n=$(($1 * 5)); shift
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

# ------------------------------------------------------------------ pause
smoke_pause() {
  local p zombies
  start pause "localhost/berth-test/pause:$PAUSE_VERSION"
  p="$(ctr_pid "$CID")"
  check "pause: PID 1 is pause, running as 65535, the image's user (got '$(proc_of "$p")')" \
    test "$(proc_of "$p")" = "pause 65535"
  # An orphan in the pod's PID namespace is re-parented to pause, which must reap it.
  nsenter -t "$p" -p -- /bin/sh -c 'sleep 0.5 & exit 0'
  sleep 0.2
  check "pause: an orphan is re-parented to it" sh -c "ps -o comm= --ppid $p | grep -q sleep"
  sleep 1
  zombies="$(pgrep -c -r Z -P "$p" || true)"
  check "pause: reaps orphans (zombies left: $zombies)" test "$zombies" = 0
  stop "$CID" "$PID" TERM
  check "pause: exits 0 on SIGTERM (got $RC)" test "$RC" = 0
}

# ------------------------------------------------------------------ postgres
pg_query() { # CID PASSWORD SQL
  in_netns "$1" env PGPASSWORD="$2" psql -X -h 127.0.0.1 -U postgres -d postgres -tAc "$3"
}

smoke_postgres() {
  local image="localhost/berth-test/postgres:$PG_MAJOR-$DEBIAN_SUITE" data out

  # 1. As root (the image's default), empty volume at PGDATA.
  data="$TMP/data-pg-root"; mkdir -p "$data"
  start pg-root "$image" --env POSTGRES_PASSWORD=s3cret --bind "$data:/var/lib/postgresql/data"
  if wait_for 60 in_netns "$CID" pg_isready -q -h 127.0.0.1 -p 5432; then
    out="$(pg_query "$CID" s3cret 'select current_user')" || true
    check "postgres as root: psql over TCP with the password (got '$out')" test "$out" = postgres
    # initdb trusts loopback (as in the official image); the pg_hba line the
    # entrypoint adds governs every other address. A pod IP stands in here: a test
    # address on the container's own loopback device, inside its own namespace.
    in_netns "$CID" ip addr add 198.51.100.7/32 dev lo
    out="$(in_netns "$CID" env PGPASSWORD=wrong psql -X -h 198.51.100.7 -U postgres -tAc 'select 1' 2>&1)" || true
    check "postgres as root: a wrong password from a non-loopback address is refused" grep -q 'password authentication failed' <<<"$out"
    out="$(in_netns "$CID" env PGPASSWORD=s3cret psql -X -h 198.51.100.7 -U postgres -tAc 'select 1' 2>&1)" || true
    check "postgres as root: the right one is accepted (got '$out')" test "$out" = 1
    out="$(pg_query "$CID" s3cret 'show password_encryption')" || true
    check "postgres as root: passwords are scram-sha-256 (got '$out')" test "$out" = scram-sha-256
    out="$(pg_query "$CID" s3cret "select count(*) from pg_hba_file_rules where type = 'host' and 'all' = any(database) and 'all' = any(user_name) and address = 'all' and auth_method = 'scram-sha-256'")" || true
    check "postgres as root: pg_hba has 'host all all all scram-sha-256'" test "$out" = 1
    out="$(pg_query "$CID" s3cret 'show listen_addresses')" || true
    check "postgres as root: listen_addresses is '*' (got '$out')" test "$out" = '*'
    check "postgres as root: PGDATA owned by 999" test "$(stat -c %u:%g "$data")" = 999:999
    local p; p="$(ctr_pid "$CID")"
    check "postgres as root: PID 1 is postgres, running as uid 999 (got '$(proc_of "$p")')" \
      test "$(proc_of "$p")" = "postgres 999"
  else
    bad "postgres as root: not ready in 60 s"; tail -n 20 "$TMP/pg-root.log" >&2
  fi
  stop "$CID" "$PID" TERM
  check "postgres as root: SIGTERM is a smart shutdown, exit 0 (got $RC)" \
    sh -c "test $RC = 0 && grep -q 'received smart shutdown request' '$TMP/pg-root.log'"

  # 2. Restart on the same data: no initdb, same password.
  start pg-root2 "$image" --bind "$data:/var/lib/postgresql/data"
  if wait_for 60 in_netns "$CID" pg_isready -q -h 127.0.0.1 -p 5432; then
    check "postgres restart: skips initialization" grep -q 'Skipping initialization' "$TMP/pg-root2.log"
    out="$(pg_query "$CID" s3cret 'select 1')" || true
    check "postgres restart: data kept (login works)" test "$out" = 1
  else
    bad "postgres restart: not ready in 60 s"; tail -n 20 "$TMP/pg-root2.log" >&2
  fi
  stop "$CID" "$PID" INT
  check "postgres restart: SIGINT (the image's STOPSIGNAL) is a fast shutdown, exit 0 (got $RC)" \
    sh -c "test $RC = 0 && grep -q 'received fast shutdown request' '$TMP/pg-root2.log'"

  # 3. As uid 999 like a pod (restricted, read-only root): PGDATA's parent is a
  #    writable volume, /var/run/postgresql an emptyDir; custom user and database.
  data="$TMP/data-pg-999"; mkdir -p "$data"; chown 999:999 "$data"
  start pg-999 "$image" --user 999:999 --restricted --bind "$data:/var/lib/postgresql" \
    --tmpfs /var/run/postgresql --tmpfs /tmp \
    --env POSTGRES_PASSWORD=pw999 --env POSTGRES_USER=shippy --env POSTGRES_DB=vessels
  if wait_for 60 in_netns "$CID" pg_isready -q -h 127.0.0.1 -p 5432; then
    out="$(in_netns "$CID" env PGPASSWORD=pw999 psql -X -h 127.0.0.1 -U shippy -d vessels -tAc 'select current_user, current_database()')" || true
    check "postgres as 999 (restricted): POSTGRES_USER/POSTGRES_DB honoured (got '$out')" test "$out" = 'shippy|vessels'
  else
    bad "postgres as 999: not ready in 60 s"; tail -n 20 "$TMP/pg-999.log" >&2
  fi
  stop "$CID" "$PID" TERM
  check "postgres as 999: clean exit (got $RC)" test "$RC" = 0

  # 4. An arbitrary uid with no /etc/passwd entry (nss_wrapper during initdb).
  data="$TMP/data-pg-any"; mkdir -p "$data"; chown 4242:4242 "$data"
  start pg-any "$image" --user 4242:4242 --restricted --bind "$data:/pgdata" \
    --tmpfs /var/run/postgresql --tmpfs /tmp --env PGDATA=/pgdata/data --env POSTGRES_PASSWORD=pwany
  if wait_for 60 in_netns "$CID" pg_isready -q -h 127.0.0.1 -p 5432; then
    out="$(pg_query "$CID" pwany 'select 1')" || true
    check "postgres as uid 4242 (no passwd entry): initdb and login" test "$out" = 1
  else
    bad "postgres as uid 4242: not ready in 60 s"; tail -n 20 "$TMP/pg-any.log" >&2
  fi
  stop "$CID" "$PID" TERM

  # 5. No password, no trust: refuses to initialise.
  data="$TMP/data-pg-nopw"; mkdir -p "$data"
  start pg-nopw "$image" --bind "$data:/var/lib/postgresql/data"
  RC=0; wait "$PID" || RC=$?
  "$RUNC" delete -f "$CID" >/dev/null 2>&1 || true
  check "postgres without POSTGRES_PASSWORD: exits 1 with the official message" \
    sh -c "test $RC = 1 && grep -q 'superuser password is not specified' '$TMP/pg-nopw.log'"
}

# ------------------------------------------------------------------ nats
smoke_nats() {
  local image="localhost/berth-test/nats:$NATS_VERSION" data out

  # 1. Defaults (CMD: --config /etc/nats/nats-server.conf), as root.
  start nats-root "$image"
  if wait_for 20 in_netns "$CID" curl -fsS http://127.0.0.1:8222/healthz; then
    out="$(in_netns "$CID" curl -fsS http://127.0.0.1:8222/varz | jq -r '"\(.version) \(.port) \(.cluster.cluster_port)"')" || true
    check "nats defaults: version, client and cluster ports from the config (got '$out')" test "$out" = "$NATS_VERSION 4222 6222"
    check "nats defaults: client port answers INFO" \
      sh -c "timeout 3 nsenter -t $(ctr_pid "$CID") -n -- bash -c 'exec 3<>/dev/tcp/127.0.0.1/4222; head -c 4 <&3' | grep -q INFO"
  else
    bad "nats defaults: /healthz not up in 20 s"; tail -n 20 "$TMP/nats-root.log" >&2
  fi
  # nats-server itself exits 1 after a SIGTERM shutdown and 0 after SIGINT.
  stop "$CID" "$PID" TERM
  check "nats defaults: SIGTERM shuts the server down (exit $RC, as upstream: 1)" \
    sh -c "test $RC = 1 && grep -q 'Server Exiting' '$TMP/nats-root.log'"

  # 2. Flags only (entrypoint prepends nats-server), uid 1000, restricted, JetStream in /data.
  data="$TMP/data-nats"; mkdir -p "$data"; chown 1000:1000 "$data"
  start nats-1000 "$image" --user 1000:1000 --restricted --bind "$data:/data" -- -js -sd /data -m 8222
  if wait_for 20 in_netns "$CID" curl -fsS 'http://127.0.0.1:8222/healthz?js-enabled-only=true'; then
    out="$(in_netns "$CID" curl -fsS http://127.0.0.1:8222/jsz | jq -r .config.store_dir)" || true
    check "nats as 1000 with -js -sd /data: JetStream on, store in /data (got '$out')" \
      sh -c "test '$out' = /data/jetstream || test '$out' = /data"
    check "nats as 1000: store written as uid 1000" test "$(stat -c %u "$data/jetstream")" = 1000
  else
    bad "nats as 1000: JetStream not up in 20 s"; tail -n 20 "$TMP/nats-1000.log" >&2
  fi
  stop "$CID" "$PID" INT
  check "nats as 1000: exits 0 on SIGINT (got $RC)" test "$RC" = 0

  # 3. A non-flag command runs as given.
  start nats-cmd "$image" -- nats-server --version
  RC=0; wait "$PID" || RC=$?
  "$RUNC" delete -f "$CID" >/dev/null 2>&1 || true
  check "nats: 'nats-server --version' runs as given" grep -q "v$NATS_VERSION" "$TMP/nats-cmd.log"
}

# ------------------------------------------------------------------ node
# What `berth build` does: buildah bud of a Dockerfile FROM node:24-bookworm-slim
# (short name, --pull=never), npm install from the registry in a RUN, USER node.
smoke_node() {
  local ctx="$TMP/node-ctx" tag="localhost/berth-smoke/node-app:$$" c out
  mkdir -p "$ctx"
  cat >"$ctx/Dockerfile" <<'EOF'
FROM node:24-bookworm-slim
WORKDIR /app
RUN chown node:node /app
USER node
RUN npm init -y >/dev/null && npm install --no-audit --no-fund zod@4 >/dev/null
CMD ["node", "-e", "console.log(require('zod').z.string().parse('ok'), process.getuid())"]
EOF
  if buildah bud --quiet --pull=never --network host --runtime "$RUNC" -t "$tag" "$ctx" >"$TMP/bud.log" 2>&1; then
    ok "node: buildah bud FROM node:24-bookworm-slim with npm install in a RUN"
    c="$(buildah from --pull=never "$tag")"; CTRS+=("$c")
    out="$(buildah run --runtime "$RUNC" --network none "$c" -- node -e "console.log(require('/app/node_modules/zod').z.string().parse('ok'), process.getuid())" 2>&1)" || true
    check "node: the built app runs as node (got '$out')" test "$out" = "ok 1000"
    buildah rm "$c" >/dev/null 2>&1 || true
    buildah rmi "$tag" >/dev/null 2>&1 || true
  else
    bad "node: buildah bud failed"; tail -n 20 "$TMP/bud.log" >&2
  fi
}

for w in "${WANT[@]}"; do "smoke_$w"; done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
