#!/usr/bin/env bash
# Runs a command against the server binary, started on a free port with a
# database of its own on the test cluster; exports PROTOMODEL_TARGET.
#   tests/with_server.sh SERVER_BINARY PG_DIR COMMAND [ARGS...]
set -euo pipefail
server=$1
pg_dir=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
admin=$("$here/../scripts/pg.sh" start "$pg_dir" auto --fast)
db="client_$$_$RANDOM"
url=$("$here/../scripts/pg.sh" createdb "$pg_dir" "$db")
log=$(mktemp)
# In the PgBouncer pass the server reaches its database through PgBouncer.
flags=()
if [ -n "${PROTOMODEL_TEST_PGBOUNCER_DIR:-}" ]; then
  url=$("$here/../scripts/pgbouncer.sh" url "$PROTOMODEL_TEST_PGBOUNCER_DIR" "$db")
  flags+=(--prepared_statements=false)
fi
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 30000))
  "$server" --listen "127.0.0.1:$port" --database_url "$url" --log_rpcs=false "${flags[@]}" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do
    grep -q "database answers: SERVING" "$log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$pid" 2>/dev/null && break
done
cleanup() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  PGOPTIONS=--client-min-messages=warning psql "$admin" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
  rm -f "$log"
}
trap cleanup EXIT
export PROTOMODEL_TARGET="127.0.0.1:$port"
"$@"
