#!/bin/sh
# Entrypoint of localhost/berth-test/nats, as in the official nats image:
# no arguments, or a first argument that is a flag (-js, --config ..., -p 4222),
# means "run nats-server with these flags"; anything else (sh, nats-server -v)
# is run as given. exec keeps the server PID 1, so SIGTERM/SIGINT reach it.
set -e
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- nats-server "$@"
fi
exec "$@"
