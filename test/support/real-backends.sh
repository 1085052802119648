#!/usr/bin/env bash
# Throwaway real backends for the suites that also run against them (the shippy
# e2e suite, the broker tests): a PostgreSQL cluster (Debian's postgresql 15,
# initdb in a temp folder, trust auth on 127.0.0.1) and `nats-server -js`, each on
# a free port. Prints the variables to export:
#
#   eval "$(test/support/real-backends.sh start)"
#   node --test examples/shippy/test/e2e/*.test.ts    # now with DATABASE_URL, NATS_URL
#   test/support/real-backends.sh stop "$BERTH_REAL_BACKENDS_DIR"
#
# As root, PostgreSQL runs as the `postgres` user (initdb refuses root). Logs stay
# in the folder until `stop` removes it: $BERTH_REAL_BACKENDS_DIR/{postgres,nats}.log.
set -euo pipefail

pg_bin() {
  local tool=$1
  if command -v "$tool" >/dev/null; then
    command -v "$tool"
  else
    # Debian keeps the server tools out of PATH.
    ls /usr/lib/postgresql/*/bin/"$tool" 2>/dev/null | sort -V | tail -n 1
  fi
}

free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    # Nothing answers: free (a port taken between this check and the bind makes start fail loudly).
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "real-backends: no free port found" >&2
  return 1
}

# Runs a command as the user that owns the PostgreSQL files.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local dir pg_port nats_port initdb pg_ctl nats
  initdb=$(pg_bin initdb)
  pg_ctl=$(pg_bin pg_ctl)
  nats=$(command -v nats-server || true)
  [ -x "$initdb" ] && [ -x "$pg_ctl" ] || { echo "real-backends: initdb/pg_ctl not found (apt-get install postgresql)" >&2; return 1; }
  [ -n "$nats" ] || { echo "real-backends: nats-server not found (apt-get install nats-server)" >&2; return 1; }

  dir=$(mktemp -d "${TMPDIR:-/tmp}/berth-real-backends-XXXXXX")
  chmod 755 "$dir"
  mkdir "$dir/pgdata" "$dir/nats"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir/pgdata"; touch "$dir/postgres.log"; chown postgres "$dir/postgres.log"; fi

  pg_port=$(free_port)
  as_pg "$initdb" -D "$dir/pgdata" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; return 1; }
  # Throwaway: no fsync; enough connections for every service's pool at several replicas.
  as_pg "$pg_ctl" -D "$dir/pgdata" -l "$dir/postgres.log" -w -t 60 \
    -o "-p $pg_port -c listen_addresses=127.0.0.1 -k $dir/pgdata -c fsync=off -c max_connections=200" \
    start >/dev/null || { cat "$dir/postgres.log" >&2; return 1; }

  nats_port=$(free_port)
  # Its own stdio: inheriting ours would keep `$(real-backends.sh start)` waiting for it.
  "$nats" -js -a 127.0.0.1 -p "$nats_port" -sd "$dir/nats" -l "$dir/nats.log" </dev/null >/dev/null 2>&1 &
  echo $! >"$dir/nats.pid"
  for _ in $(seq 1 300); do
    grep -q 'Server is ready' "$dir/nats.log" 2>/dev/null && break
    sleep 0.05
  done
  grep -q 'Server is ready' "$dir/nats.log" || { cat "$dir/nats.log" >&2; stop "$dir"; return 1; }

  echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/postgres"
  echo "export NATS_URL=nats://127.0.0.1:$nats_port"
  echo "export BERTH_REAL_BACKENDS_DIR=$dir"
}

stop() {
  local dir=$1
  [ -d "$dir" ] || { echo "real-backends: no folder $dir" >&2; return 1; }
  if [ -f "$dir/nats.pid" ]; then
    local pid
    pid=$(cat "$dir/nats.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  if [ -f "$dir/pgdata/postmaster.pid" ]; then
    as_pg "$(pg_bin pg_ctl)" -D "$dir/pgdata" -m fast -w stop >/dev/null || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:?usage: real-backends.sh stop <dir printed as BERTH_REAL_BACKENDS_DIR>}" ;;
  *)
    echo "usage: real-backends.sh start | stop <dir>" >&2
    exit 2
    ;;
esac
