#!/usr/bin/env bash
# scripts/run.sh (`make run`, `make migrate`) stops only the local PostgreSQL
# it started: `make migrate`, and a second `make run`, beside a running
# `make run` leave its database up and its server serving; the first, on
# SIGTERM (Ctrl-C), stops the server and the PostgreSQL it started.
# On a cluster of its own in a temporary folder (PROTOMODEL_PG_DIR), never
# .data/pg.
#   tests/run_sh_test.sh SERVER_BINARY
set -euo pipefail
server=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$here/..
buf=$here/tools/node_modules/.bin/buf
if [ ! -x "$buf" ]; then
  echo "SKIP: $buf is missing (make tools installs it with npm)"
  exit 77
fi

tmp=$(mktemp -d)
chmod 755 "$tmp"   # the postgres user keeps the cluster in it when we are root
export PROTOMODEL_PG_DIR=$tmp/pg PROTOMODEL_PG_PORT=auto PROTOMODEL_LISTEN=127.0.0.1:0
unset DATABASE_URL PROTOMODEL_TLS_CERT_FILE PROTOMODEL_TLS_KEY_FILE PROTOMODEL_TLS_CLIENT_CA_FILE \
  PROTOMODEL_AUTH_TOKENS_FILE PROTOMODEL_HEALTH_LISTEN PROTOMODEL_METRICS_LISTEN
first_pid=
cleanup() {
  if [ -n "$first_pid" ]; then
    kill -TERM "$first_pid" 2>/dev/null || true
    wait "$first_pid" 2>/dev/null || true
  fi
  "$root/scripts/pg.sh" stop "$PROTOMODEL_PG_DIR" immediate 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  echo "--- the first run.sh's output"
  cat "$tmp/first.log"
  exit 1
}
pg_up() { "$root/scripts/pg.sh" url "$PROTOMODEL_PG_DIR" >/dev/null 2>&1; }
call() { "$buf" curl --protocol grpc --http2-prior-knowledge "$@"; }

# The first `make run`: starts its PostgreSQL and the server.
"$root/scripts/run.sh" "$server" >"$tmp/first.log" 2>&1 &
first_pid=$!
port=
for _ in $(seq 600); do
  if grep -q "database answers: SERVING" "$tmp/first.log" && grep -q "Try, in another terminal" "$tmp/first.log"; then
    port=$(sed -n 's/.*serving gRPC on port \([0-9]*\).*/\1/p' "$tmp/first.log" | head -n 1)
    [ -n "$port" ] && break
  fi
  kill -0 "$first_pid" 2>/dev/null || fail "run.sh exited before serving"
  sleep 0.1
done
[ -n "$port" ] || fail "run.sh did not serve within 60 s"
grep -q "started the local PostgreSQL" "$tmp/first.log" || fail "run.sh did not say it started PostgreSQL"
grep -q "creating a local PostgreSQL in $PROTOMODEL_PG_DIR" "$tmp/first.log" ||
  fail "run.sh did not say it creates the cluster"
grep -q "serving on 127.0.0.1:$port" "$tmp/first.log" || fail "run.sh did not print the address"
pg_up || fail "no PostgreSQL in $PROTOMODEL_PG_DIR while the first run.sh serves"

serves() {
  local health created
  health=$(call -d '{"service":""}' "http://127.0.0.1:$port/grpc.health.v1.Health/Check" 2>&1) ||
    fail "health check failed ($1): $health"
  grep -q '"status": "SERVING"' <<<"$health" || fail "health ($1): $health"
  # A write: the server still reaches its database.
  created=$(call -d "{\"team\":{\"name\":\"after $1\"}}" \
    "http://127.0.0.1:$port/heroes.v1.TeamService/CreateTeam" 2>&1) || fail "CreateTeam ($1): $created"
  grep -q "\"name\": \"after $1\"" <<<"$created" || fail "CreateTeam ($1): $created"
}
serves start

# `make migrate` beside it: finds the cluster running, applies nothing new,
# exits 0 and leaves the cluster up.
if ! migrate=$("$root/scripts/run.sh" "$server" migrate 2>&1); then
  echo "$migrate"
  fail "run.sh SERVER migrate failed"
fi
grep -q "using the local PostgreSQL already running" <<<"$migrate" ||
  { echo "$migrate"; fail "migrate did not say it found the cluster running"; }
pg_up || { echo "$migrate"; fail "run.sh SERVER migrate stopped the PostgreSQL the first run.sh serves from"; }
kill -0 "$first_pid" 2>/dev/null || fail "the first run.sh exited"
serves migrate

# A second `make run` on the port the first serves on: refused at once, and
# the cluster stays up.
if second=$(PROTOMODEL_LISTEN=127.0.0.1:$port timeout 60 "$root/scripts/run.sh" "$server" 2>&1); then
  echo "$second"
  fail "a second run.sh on port $port succeeded"
fi
grep -q "something already listens on 127.0.0.1:$port" <<<"$second" ||
  { echo "$second"; fail "the second run.sh did not say the port is taken"; }
pg_up || { echo "$second"; fail "a second run.sh stopped the PostgreSQL the first serves from"; }
serves second

# The first, on SIGTERM (what Ctrl-C turns into): the server drains, and the
# PostgreSQL it started stops.
kill -TERM "$first_pid"
status=0
wait "$first_pid" || status=$?
first_pid=
[ "$status" = 0 ] || fail "the first run.sh exited $status after SIGTERM"
grep -q "local PostgreSQL stopped" "$tmp/first.log" || fail "the first run.sh did not stop its PostgreSQL"
if pg_up; then fail "PostgreSQL still runs after the run.sh that started it stopped"; fi

# Started by someone else (a cluster already running), run.sh leaves it up.
"$root/scripts/pg.sh" start "$PROTOMODEL_PG_DIR" auto >/dev/null
"$root/scripts/run.sh" "$server" migrate >"$tmp/migrate.log" 2>&1 ||
  { cat "$tmp/migrate.log"; fail "migrate against a running cluster failed"; }
pg_up || fail "run.sh SERVER migrate stopped a cluster it did not start"
echo "1 passed, 0 failed"
