#!/usr/bin/env bash
# Runs protomodel-server in the foreground against DATABASE_URL or, when that
# is unset, against a local PostgreSQL in .data/pg (port PROTOMODEL_PG_PORT,
# default 55432, database `protomodel`), which it starts and, on exit, stops.
#   scripts/run.sh SERVER_BINARY [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
server=$1
shift

local_pg=0
if [ -z "${DATABASE_URL:-}" ]; then
  local_pg=1
  scripts/pg.sh start .data/pg "${PROTOMODEL_PG_PORT:-55432}" >/dev/null
  DATABASE_URL=$(scripts/pg.sh createdb .data/pg protomodel)
  export DATABASE_URL
  echo "run.sh: local PostgreSQL at $DATABASE_URL (data in .data/pg)" >&2
fi

stop_pg() {
  if [ "$local_pg" = 1 ]; then
    scripts/pg.sh stop .data/pg
    echo "run.sh: local PostgreSQL stopped" >&2
  fi
}

# A background job of a script ignores SIGINT, so Ctrl-C reaches only this
# shell: it passes SIGTERM on, and the server drains and exits.
"$server" "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM
status=0
while kill -0 "$pid" 2>/dev/null; do
  wait "$pid" && status=0 || status=$?
done
stop_pg
exit "$status"
