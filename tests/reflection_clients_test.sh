#!/usr/bin/env bash
# The README's grpcurl examples, run with `buf curl` (the same reflection
# protocol; grpcurl is not packaged in Debian) against the server binary.
#   tests/reflection_clients_test.sh SERVER_BINARY PG_DIR
set -euo pipefail
server=$1
pg_dir=$2
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../scripts/lib.sh
. "$here/../scripts/lib.sh"
require_buf

test_database "$pg_dir" "reflection_$$"
log=$(mktemp)
server_pid=
cleanup() {
  stop_server || true
  drop_test_database
  rm -f "$log"
}
trap cleanup EXIT
start_server "$server" "$url" "$log"
port=$server_port

call() { "$buf" curl --protocol grpc --http2-prior-knowledge "$@"; }
fail() { echo "FAIL: $*"; echo "--- server log"; cat "$log"; exit 1; }

methods=$(call --list-methods "http://127.0.0.1:$port")
for m in heroes.v1.HeroService/CreateHero heroes.v1.TeamService/ListTeams grpc.health.v1.Health/Check; do
  grep -qx "$m" <<<"$methods" || fail "list-methods lacks $m"
done

created=$(call -d '{"hero":{"name":"Deadpond","secret_name":"Dive Wilson"}}' \
  "http://127.0.0.1:$port/heroes.v1.HeroService/CreateHero")
grep -q '"secretName": "Dive Wilson"' <<<"$created" || fail "CreateHero answered: $created"
id=$(sed -n 's/.*"id": "\([0-9]*\)".*/\1/p' <<<"$created")

listed=$(call -d '{"filter":"name = \"Dead*\"","read_mask":"name"}' \
  "http://127.0.0.1:$port/heroes.v1.HeroService/ListHeroes")
grep -q '"name": "Deadpond"' <<<"$listed" || fail "ListHeroes answered: $listed"
if grep -q secretName <<<"$listed"; then fail "read_mask ignored: $listed"; fi

team=$(call -d '{"team":{"name":"Preventers"}}' "http://127.0.0.1:$port/heroes.v1.TeamService/CreateTeam")
team_id=$(sed -n 's/.*"id": "\([0-9]*\)".*/\1/p' <<<"$team")
updated=$(call -d "{\"hero\":{\"id\":$id,\"team_id\":$team_id},\"update_mask\":\"teamId\"}" \
  "http://127.0.0.1:$port/heroes.v1.HeroService/UpdateHero")
grep -q "\"teamId\": \"$team_id\"" <<<"$updated" || fail "UpdateHero answered: $updated"

got=$(call -d "{\"id\":$id,\"view\":\"FULL\"}" "http://127.0.0.1:$port/heroes.v1.HeroService/GetHero")
grep -q '"name": "Preventers"' <<<"$got" || fail "GetHero FULL answered: $got"

if bad=$(call -d '{"id":0}' "http://127.0.0.1:$port/heroes.v1.HeroService/GetHero" 2>&1); then
  fail "GetHero id 0 succeeded: $bad"
fi
grep -q invalid_argument <<<"$bad" || fail "GetHero id 0 answered: $bad"

health=$(call -d '{"service":"liveness"}' "http://127.0.0.1:$port/grpc.health.v1.Health/Check")
grep -q SERVING <<<"$health" || fail "liveness answered: $health"

stop_server || fail "server exited non-zero after SIGTERM"
grep -q "rpc method=heroes.v1.HeroService/CreateHero code=OK" "$log" || fail "no RPC log line"
echo "1 passed, 0 failed"
