#!/usr/bin/env bash
# Entrypoint of localhost/berth-test/postgres:15-bookworm, a local stand-in for the
# official postgres:15-bookworm image. It keeps the official entrypoint's contract,
# so manifests written for that image (env, user ids, volumes) behave the same:
#
#   POSTGRES_PASSWORD        superuser password; required for a new database unless
#                            POSTGRES_HOST_AUTH_METHOD=trust
#   POSTGRES_USER            superuser name (default postgres)
#   POSTGRES_DB              database created at first start (default: $POSTGRES_USER)
#   POSTGRES_INITDB_ARGS     extra initdb arguments (e.g. "--data-checksums")
#   POSTGRES_INITDB_WALDIR   separate WAL directory
#   POSTGRES_HOST_AUTH_METHOD  pg_hba method for "host all all all" (default: the
#                            server's password_encryption, scram-sha-256 on 15)
#   PGDATA                   data directory (default /var/lib/postgresql/data)
#   <VAR>_FILE               read POSTGRES_PASSWORD/USER/DB/INITDB_ARGS from a file
#                            (a mounted Secret), exclusive with <VAR>
#
# Started as root, it creates PGDATA and /var/run/postgresql, hands them to postgres
# (uid/gid 999) and runs itself again as that user (setpriv, in place of the official
# image's gosu). Started as any other uid it needs PGDATA (or its parent) writable;
# a uid with no /etc/passwd entry gets one from nss_wrapper while initdb runs.
# initdb only runs when PGDATA holds no database (no PG_VERSION file); scripts in
# /docker-entrypoint-initdb.d (*.sh, *.sql, *.sql.gz|xz|zst) run once after it.
# Finally `exec postgres`, so the server is PID 1 and receives the stop signal
# itself (the image's STOPSIGNAL is SIGINT: fast shutdown; SIGTERM: smart shutdown).
set -Eeo pipefail

readonly PG_UID=999 PG_GID=999

# file_env VAR [DEFAULT]: VAR from the environment, else from the file named by
# VAR_FILE, else DEFAULT; exported either way.
file_env() {
  local var="$1" def="${2:-}" fileVar="${1}_FILE"
  if [ -n "${!var:-}" ] && [ -n "${!fileVar:-}" ]; then
    echo >&2 "error: both $var and $fileVar are set (they are exclusive)"
    exit 1
  fi
  local val="$def"
  if [ -n "${!var:-}" ]; then
    val="${!var}"
  elif [ -n "${!fileVar:-}" ]; then
    val="$(<"${!fileVar}")"
  fi
  export "$var=$val"
  unset "$fileVar"
}

setup_env() {
  : "${PGDATA:=/var/lib/postgresql/data}"
  export PGDATA
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=}"
  DATABASE_ALREADY_EXISTS=
  if [ -s "$PGDATA/PG_VERSION" ]; then DATABASE_ALREADY_EXISTS=true; fi
}

# Directories the server needs; as root also make them postgres's.
create_directories() {
  mkdir -p "$PGDATA"
  # PostgreSQL refuses a group/world-accessible PGDATA; a volume may forbid chmod
  # (then the server says so itself).
  chmod 00700 "$PGDATA" || :
  mkdir -p /var/run/postgresql || :
  chmod 03775 /var/run/postgresql || :
  if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
    mkdir -p "$POSTGRES_INITDB_WALDIR"
    if [ "$(id -u)" = 0 ]; then
      find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres: '{}' +
    fi
    chmod 700 "$POSTGRES_INITDB_WALDIR"
  fi
  if [ "$(id -u)" = 0 ]; then
    find "$PGDATA" \! -user postgres -exec chown postgres: '{}' +
    find /var/run/postgresql \! -user postgres -exec chown postgres: '{}' +
  fi
}

require_password() {
  if [ "${#POSTGRES_PASSWORD}" -ge 100 ]; then
    echo >&2 "WARNING: POSTGRES_PASSWORD has 100 or more characters; psql's PGPASSWORD cannot carry it."
  fi
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    cat >&2 <<'EOF'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser (or POSTGRES_PASSWORD_FILE), or set
       POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a
       password (not recommended).
EOF
    exit 1
  fi
  if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
    echo >&2 "WARNING: POSTGRES_HOST_AUTH_METHOD=trust: every host connection is allowed without a password."
  fi
}

run_initdb() {
  local uid gid wrapper nss_passwd='' nss_group=''
  uid="$(id -u)" gid="$(id -g)"
  # initdb looks the current uid up in the user database; an arbitrary uid (e.g. a
  # pod's runAsUser) has no entry, so nss_wrapper supplies one for this command.
  if ! getent passwd "$uid" >/dev/null 2>&1; then
    for wrapper in /usr/lib/x86_64-linux-gnu/libnss_wrapper.so /usr/lib/*/libnss_wrapper.so /usr/lib/libnss_wrapper.so; do
      [ -s "$wrapper" ] || continue
      nss_passwd="$(mktemp)" nss_group="$(mktemp)"
      printf 'postgres:x:%s:%s:PostgreSQL:%s:/bin/false\n' "$uid" "$gid" "$PGDATA" >"$nss_passwd"
      printf 'postgres:x:%s:\n' "$gid" >"$nss_group"
      export LD_PRELOAD="$wrapper" NSS_WRAPPER_PASSWD="$nss_passwd" NSS_WRAPPER_GROUP="$nss_group"
      break
    done
  fi
  local args=()
  if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then args+=(--waldir "$POSTGRES_INITDB_WALDIR"); fi
  # POSTGRES_INITDB_ARGS is word-split on purpose (as in the official image).
  # --pwfile: a trailing newline, since initdb rejects an empty file.
  # shellcheck disable=SC2086
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    "${args[@]}" $POSTGRES_INITDB_ARGS
  if [ -n "$nss_passwd" ]; then
    rm -f "$nss_passwd" "$nss_group"
    unset LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
  fi
}

# Remote ("host") connections: every user, every database, password required.
setup_hba() {
  local method
  method="$(postgres -C password_encryption "$@")"
  : "${POSTGRES_HOST_AUTH_METHOD:=$method}"
  printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
}

# psql_db DB ARGS...: psql as the superuser over the Unix socket.
psql_db() {
  local db="$1"; shift
  PGHOST='' PGHOSTADDR='' psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" \
    --no-password --no-psqlrc ${db:+--dbname "$db"} "$@"
}
# psql_local ARGS...: into POSTGRES_DB (what init scripts run against).
psql_local() { psql_db "$POSTGRES_DB" "$@"; }

# A server on the Unix socket only, for creating the database and running init scripts.
temp_server_start() {
  PGUSER="${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -w start \
    -o "$(printf '%q ' "$@" -c listen_addresses= -p "${PGPORT:-5432}")"
}

temp_server_stop() {
  PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
}

create_database() {
  local exists
  exists="$(psql_db postgres --set db="$POSTGRES_DB" --tuples-only \
    <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")"
  if [ -z "$exists" ]; then
    psql_db postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
}

run_init_files() {
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh)
        # shellcheck disable=SC1090 # the user's own init script
        if [ -x "$f" ]; then echo "$0: running $f"; "$f"; else echo "$0: sourcing $f"; . "$f"; fi ;;
      *.sql) echo "$0: running $f"; psql_local -f "$f" ;;
      *.sql.gz) echo "$0: running $f"; gunzip -c "$f" | psql_local ;;
      *.sql.xz) echo "$0: running $f"; xzcat "$f" | psql_local ;;
      *.sql.zst) echo "$0: running $f"; zstd -dc "$f" | psql_local ;;
      *) echo "$0: ignoring $f" ;;
    esac
  done
}

# Arguments that make postgres print something and exit need no data directory.
wants_help() {
  local arg
  for arg; do
    case "$arg" in -'?' | --help | --describe-config | -V | --version) return 0 ;; esac
  done
  return 1
}

main() {
  if [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi

  if [ "$1" = postgres ] && ! wants_help "$@"; then
    setup_env
    create_directories
    if [ "$(id -u)" = 0 ]; then
      HOME=/var/lib/postgresql exec setpriv --reuid="$PG_UID" --regid="$PG_GID" --init-groups \
        "${BASH_SOURCE[0]}" "$@"
    fi

    if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
      require_password
      # Fail before initdb, not halfway, if the init scripts are unreadable.
      ls /docker-entrypoint-initdb.d/ >/dev/null
      run_initdb
      shift # "postgres"; the rest are server options
      setup_hba "$@"
      export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
      temp_server_start "$@"
      create_database
      run_init_files
      temp_server_stop
      unset PGPASSWORD
      set -- postgres "$@"
      echo
      echo 'PostgreSQL init process complete; ready for start up.'
      echo
    else
      echo
      echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
      echo
    fi
  fi

  exec "$@"
}

main "$@"
