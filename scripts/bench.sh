#!/usr/bin/env bash
# make bench: protomodel against the database's own limit, in one run.
#
# Starts a throwaway PostgreSQL (fsync off, for protomodel and the reference
# alike) and a release build of the server, seeds 100 000 heroes, measures
# the references with pgbench (the database's limit) and with gRPC's own
# health service on the same server (gRPC's floor: no database), then drives
# each scenario with protomodel-load, and writes a report with every figure
# as a ratio to its reference measured minutes before.
#   BENCH_SECONDS   measured seconds per scenario (default 10)
#   BENCH_CLIENTS   calls in flight (default 16)
#   BENCH_BUILD_DIR release build folder (default build-release)
#   BENCH_BASELINE  a commit: its server is built too and GetHero and
#                   CreateHero run against both in turn, three rounds each,
#                   reported as ratios (this tree's / the commit's), then
#                   counts the instructions each server spends a call
#                   (valgrind's callgrind: the same count whatever else the
#                   machine does, so a few percent show through its noise)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BENCH_BUILD_DIR:-build-release}
seconds=${BENCH_SECONDS:-10}
clients=${BENCH_CLIENTS:-16}
out=$build/bench
mkdir -p "$out"

missing=()
command -v gnuplot >/dev/null 2>&1 || missing+=(gnuplot-nox)
# The peers' stacks (tests/bench/peers): SQLModel's tutorial service on
# Debian's python3 (FastAPI, SQLModel, psycopg2, and uvicorn with what
# `uvicorn[standard]` brings: uvloop and httptools), driven by wrk.
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
/usr/bin/python3 -c 'import fastapi, sqlmodel, uvicorn, psycopg2, uvloop, httptools' 2>/dev/null ||
  missing+=(python3-fastapi python3-sqlmodel python3-uvicorn python3-psycopg2 python3-uvloop python3-httptools)
if [ -n "${BENCH_BASELINE:-}" ] && ! command -v callgrind_control >/dev/null 2>&1; then
  missing+=(valgrind)
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target protomodel-server protomodel-load protomodel-watch-load \
  protomodel-document-load protomodel-handwritten-peer protomodel >/dev/null
peers=tests/bench/peers
if [ ! -f "$peers/node/node_modules/.package-lock.json" ] ||
   [ "$peers/node/package-lock.json" -nt "$peers/node/node_modules/.package-lock.json" ]; then
  (cd "$peers/node" && npm ci --no-audit --no-fund --loglevel=error)
fi

pgbin=/usr/lib/postgresql/15/bin
export PGOPTIONS=--client-min-messages=warning
admin=$(scripts/pg.sh start "$build/bench-pg" auto --fast)
for db in bench pgbench; do
  psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
done
bench_url=${admin%/postgres}/bench
pgbench_url=${admin%/postgres}/pgbench

. scripts/lib.sh
server_pid=
cleanup() {
  stop_server || true
  scripts/pg.sh stop "$build/bench-pg"
}
base_pid=
peer_pids=()
trap 'cleanup; [ -z "$base_pid" ] || kill "$base_pid" 2>/dev/null || true
      [ ${#peer_pids[@]} -eq 0 ] || kill "${peer_pids[@]}" 2>/dev/null || true' EXIT
start_server "$build/server/protomodel-server" "$bench_url" "$out/server.log" --log_rpcs=false
server=$server_pid
port=$server_port

# The server's memory with 1000 idle watches over its own while idle, first,
# while it is fresh.
echo "bench: 1000 idle watches" >&2
rss_now() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }
idle_rss=$(rss_now)
"$build/tests/bench/protomodel-watch-load" --target "127.0.0.1:$port" --watchers 1000 \
  --hold_seconds 3 >"$out/watch-hold.txt" &
hold_pid=$!
for _ in $(seq 1 600); do
  grep -q synced "$out/watch-hold.txt" 2>/dev/null && break
  sleep 0.1
done
sleep 1
held_rss=$(rss_now)
wait "$hold_pid" || true
watch_rss_mb=$(awk -v a="$held_rss" -v b="$idle_rss" 'BEGIN { printf "%.1f", (a - b) / 1024 }')

psql "$bench_url" -qc "INSERT INTO hero (name, secret_name, age)
  SELECT 'hero-' || i, 'secret-' || i, i % 100 FROM generate_series(1, 100000) AS i" \
  -c "VACUUM ANALYZE hero" >/dev/null

echo "bench: references (pgbench, $clients clients, ${seconds}s each)" >&2
"$pgbin/pgbench" -q -i -s 10 "$pgbench_url" >/dev/null 2>&1
tps() { sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -n 1; }
pg_select=$("$pgbin/pgbench" -n -S -M prepared -c "$clients" -j 2 -T "$seconds" "$pgbench_url" 2>/dev/null | tps)
echo "INSERT INTO hero (name, secret_name, age) VALUES ('bench', 'bench', 30);" >"$out/insert.sql"
pg_insert=$("$pgbin/pgbench" -n -M prepared -f "$out/insert.sql" -c "$clients" -j 2 -T "$seconds" "$bench_url" 2>/dev/null | tps)
# What an idempotent create writes: the hero and its request_id's record.
cat >"$out/insert_recorded.sql" <<'SQL'
WITH created AS (INSERT INTO hero (name, secret_name, age) VALUES ('bench', 'bench', 30) RETURNING id)
INSERT INTO protomodel_request_ids (request_id, table_name, resource_key)
SELECT gen_random_uuid(), 'hero', id::text FROM created;
SQL
pg_recorded=$("$pgbin/pgbench" -n -M prepared -f "$out/insert_recorded.sql" -c "$clients" -j 2 -T "$seconds" "$bench_url" 2>/dev/null | tps)
# The same rows eight to a statement, in the statement shape the server's
# batched creates use (db/sql/sql_build.cc, InsertBatchSql): the database's own
# rate, in rows/s, for the rows CreateHero writes with and without records.
batch=8
batch_sql() {  # batch_sql recorded|plain [ROWS]
  local rid="gen_random_uuid()" recorded= rows=${2:-$batch}
  if [ "$1" = plain ]; then rid="NULL::uuid"; fi
  if [ "$1" = recorded ]; then
    recorded=", recorded AS (INSERT INTO protomodel_request_ids (request_id, table_name, resource_key) SELECT rid, 'hero', k::text FROM input)"
  fi
  printf "WITH input AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence('hero', 'id')) AS k, v.* FROM (VALUES "
  for i in $(seq "$rows"); do
    [ "$i" -gt 1 ] && printf ', '
    printf "(%d, 'bench'::text, 'bench'::text, %d::integer, NULL::bigint, %s)" "$i" "$i" "$rid"
  done
  printf ') AS v(ord, c1, c2, c3, c4, rid)), created AS (INSERT INTO hero (id, name, secret_name, age, team_id) '
  printf 'OVERRIDING SYSTEM VALUE SELECT k, c1, c2, c3, c4 FROM input RETURNING *)%s ' "$recorded"
  printf 'SELECT input.ord, created.* FROM created JOIN input ON created.id = input.k;\n'
}
batch_rows() {  # batch_rows recorded|plain [ROWS]: rows/s
  local rows=${2:-$batch}
  batch_sql "$1" "$rows" >"$out/insert_batch_$1_$rows.sql"
  local t
  t=$("$pgbin/pgbench" -n -M prepared -f "$out/insert_batch_$1_$rows.sql" -c "$clients" -j 2 -T "$seconds" "$bench_url" 2>/dev/null | tps)
  awk -v t="$t" -v b="$rows" 'BEGIN { printf "%.1f", t * b }'
}
pg_batch_recorded=$(batch_rows recorded)
pg_batch_plain=$(batch_rows plain)
# BatchCreateHeroes' rows, a hundred to a statement, each with its record.
big_batch=100
pg_batch100_recorded=$(batch_rows recorded "$big_batch")

# Runs one scenario; prints its result line with the server's peak RSS.
# A scenario NAME:plain is NAME without request ids.
run() {
  local scenario=$1 concurrency=$2
  shift 2
  local flags=()
  case $scenario in *:plain) flags=(--request_ids=false) ;; esac
  echo 5 >"/proc/$server/clear_refs"
  local line
  line=$("$build/tests/bench/protomodel-load" --target "127.0.0.1:$port" --scenario "${scenario%:plain}" \
    --concurrency "$concurrency" --duration_seconds "$seconds" --warmup_seconds 1 "${flags[@]}" "$@")
  local rss
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
  echo "${line/scenario=${scenario%:plain} /scenario=$scenario } rss_mb=$((rss / 1024))"
}

scenarios="health_check get_hero create_hero create_hero:plain list_heroes list_heroes_deep
           update_hero batch_get_heroes batch_create_heroes conversation_read conversation_write"
results=$out/results.txt
: >"$results"
for scenario in $scenarios; do
  echo "bench: $scenario" >&2
  run "$scenario" "$clients" | tee -a "$results" >&2
done
# Where a call's CPU goes: the server's, PostgreSQL's and the load
# generator's CPU time a call, and the server's thread switches a call,
# from /proc while the scenario runs (all three share the machine's cores,
# so together they bound the calls a second).
ticks_of() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
  local total=0 pid
  for pid in $(pgrep -u postgres -x postgres); do total=$((total + $(ticks_of "$pid"))); done
  echo "$total"
}
switches_of() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'; }
profiled=$out/profile.txt
: >"$profiled"
for scenario in health_check get_hero create_hero; do
  echo "bench: $scenario, profiled" >&2
  s0=$(ticks_of "$server") p0=$(pg_ticks) c0=$(switches_of "$server")
  "$build/tests/bench/protomodel-load" --target "127.0.0.1:$port" --scenario "$scenario" \
    --concurrency "$clients" --duration_seconds "$seconds" --warmup_seconds 0 >"$out/profile-load.txt" &
  load_pid=$!
  sleep "$(awk -v s="$seconds" 'BEGIN { print s - 0.2 }')"
  l1=$(ticks_of "$load_pid")
  wait "$load_pid"
  s1=$(ticks_of "$server") p1=$(pg_ticks) c1=$(switches_of "$server")
  calls=$(sed -n 's/.* calls=\([0-9]*\).*/\1/p' "$out/profile-load.txt")
  hz=$(getconf CLK_TCK)
  awk -v sc="$scenario" -v n="$calls" -v hz="$hz" -v s=$((s1 - s0)) -v p=$((p1 - p0)) \
      -v l="$l1" -v c=$((c1 - c0)) -v secs="$seconds" 'BEGIN {
    us = 1e6 / hz / (n > 0 ? n : 1)
    # the load generator was read 0.2 s before its end: scaled to the whole run
    lu = l * us * secs / (secs - 0.2)
    printf "scenario=%s calls=%d server_us=%.1f postgres_us=%.1f load_us=%.1f switches=%.2f\n",
      sc, n, s * us, p * us, lu, c / (n > 0 ? n : 1) }' >>"$profiled"
done
cat "$profiled" >&2

sweep=$out/get_hero_concurrency.dat
echo "# concurrency calls_per_s" >"$sweep"
for c in 1 2 4 8 16 32 64; do
  echo "bench: get_hero at $c in flight" >&2
  line=$(run get_hero "$c")
  echo "$line" >>"$out/sweep.txt"
  echo "$c $(sed -n 's/.*calls_per_s=\([0-9.]*\).*/\1/p' <<<"$line")" >>"$sweep"
done

# `protomodel heroes import` of 100 000 heroes from a file: rows/s.
seq 1 100000 | awk '{ printf "{\"name\":\"import-%d\",\"secret_name\":\"s-%d\",\"age\":%d}\n", $1, $1, $1 % 100 }' \
  >"$out/heroes.jsonl"
echo "bench: import of 100 000 heroes" >&2
import_start=$(date +%s.%N)
"$build/client/protomodel" --target="127.0.0.1:$port" heroes import "$out/heroes.jsonl" 2>"$out/import.log" || {
  echo "bench: import failed:" >&2
  cat "$out/import.log" >&2
}
import_end=$(date +%s.%N)
import_rows=$(awk -v a="$import_start" -v b="$import_end" 'BEGIN { printf "%.1f", 100000 / (b - a) }')

# Watches: commit-to-event latency (from the event's commit_time to its
# arrival) while 1000 heroes a second are created: one watcher of every
# change; 1000 watchers each of a slice (`age = N`, 100 slices, so each
# change reaches 10 of them, as subscriptions per team would); and, as a
# stress figure, 1000 watchers of every change at 100 changes a second
# (100 000 messages a second, which the load generator also has to read on
# the same cores).
watch_run() {  # watch_run WATCHERS SLICES RATE
  echo "bench: watch latency, $1 watchers, $2 slices, $3 changes/s" >&2
  "$build/tests/bench/protomodel-watch-load" --target "127.0.0.1:$port" --watchers "$1" \
    --slices "$2" --rate "$3" --duration_seconds "$seconds" || true
}
watch_one=$(watch_run 1 0 1000)
watch_many=$(watch_run 1000 100 1000)
watch_all=$(watch_run 1000 0 100)
echo "$watch_all" >&2
echo "$watch_one" >&2
echo "$watch_many" >&2

# Live documents: appends of 100-byte updates spread over 100 conversations,
# against pgbench inserting the same rows (the update log's) at the same
# concurrency; all to one conversation from 16 writers (each append waits
# for the one before it on that row's lock); loading a 1 MB state and 1000
# updates as a reader does, against one Get of the same bytes as a state;
# append-to-watcher latency with the watcher on a second replica.
echo "bench: live documents" >&2
doc_load() { "$build/tests/bench/protomodel-document-load" --target "127.0.0.1:$port" "$@" || true; }
psql "$bench_url" -qc "CREATE SEQUENCE IF NOT EXISTS bench_update_seq" >/dev/null
update_hex=$(printf 'u%.0s' $(seq 100) | od -v -An -tx1 | tr -d ' \n')
printf '%s\n' '\set d random(1, 100)' \
  "INSERT INTO protomodel_document_updates (table_name, document_key, seq, \"update\") VALUES ('pgbench', :d::text, nextval('bench_update_seq'), '\\x$update_hex');" \
  >"$out/insert_update.sql"
pg_update=$("$pgbin/pgbench" -n -M prepared -f "$out/insert_update.sql" -c "$clients" -j 2 -T "$seconds" "$bench_url" 2>/dev/null | tps)
# The database doing an append's own work, one append a statement (the
# statement DocumentLog::Append sends, the table's triggers included), over
# 100 conversations made for it.
psql "$bench_url" -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
INSERT INTO "user" (id, email, display_name)
  VALUES ('00000000-0000-4000-8000-000000000000', 'bench-documents@example.com', 'Bench');
INSERT INTO class (id, name, owner_id, invite_code)
  VALUES ('00000000-0000-4000-8000-000000000000', 'Bench', '00000000-0000-4000-8000-000000000000', 'bench-documents');
INSERT INTO conversation (id, class_id, owner_id, raw_text, crdt_state)
  SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,
         '00000000-0000-4000-8000-000000000000', '00000000-0000-4000-8000-000000000000', '', ''
  FROM generate_series(1, 100) AS i;
SQL
printf '%s\n' '\set d random(1, 100)' \
  "WITH doc AS (UPDATE conversation SET update_seq = update_seq + 1, etag = gen_random_uuid()::text WHERE id = ('00000000-0000-4000-8000-' || lpad(:d::text, 12, '0'))::uuid RETURNING id::text AS k, update_seq AS seq) INSERT INTO protomodel_document_updates (table_name, document_key, seq, \"update\") SELECT 'conversation', k, seq, '\\x$update_hex' FROM doc;" \
  >"$out/append_update.sql"
pg_append=$("$pgbin/pgbench" -n -M prepared -f "$out/append_update.sql" -c "$clients" -j 2 -T "$seconds" "$bench_url" 2>/dev/null | tps)
doc_many=$(doc_load --mode append --conversations 100 --clients "$clients" --duration_seconds "$seconds")
doc_one=$(doc_load --mode append --conversations 1 --clients 16 --duration_seconds "$seconds")
doc_read=$(doc_load --mode load --snapshot_bytes 1048576 --updates 1000 --update_bytes 100)
main_pid=$server_pid
start_server "$build/server/protomodel-server" "$bench_url" "$out/replica.log" --log_rpcs=false
replica_pid=$server_pid
server_pid=$main_pid
doc_latency=$(doc_load --mode latency --replica "127.0.0.1:$server_port" --rate 200 --duration_seconds "$seconds")
kill -TERM "$replica_pid" 2>/dev/null || true
wait "$replica_pid" 2>/dev/null || true
printf '%s\n' "pgbench insert update row: $pg_update" "pgbench append statement: $pg_append" "$doc_many" "$doc_one" "$doc_read" "$doc_latency" >&2

field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<" $1"; }
line_of() { grep "scenario=$1 " "$results"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
floor=$(field "$(line_of health_check)" calls_per_s)

# The peers (tests/bench/peers): the services a user would write instead,
# each serving the same hero table on the same PostgreSQL, driven at the same
# concurrency. Each round runs a scenario on protomodel and then on each
# peer, back to back, so a ratio compares runs that shared the machine's
# mood; the report takes the median of the rounds' own ratios.
peer_rounds=${BENCH_PEER_ROUNDS:-3}
free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
start_peer() {  # start_peer NAME PORT COMMAND...: once it accepts connections
  local name=$1 port=$2
  shift 2
  "$@" >"$out/peer-$name.log" 2>&1 &
  local pid=$!
  peer_pids+=("$pid")
  local deadline=$((SECONDS + 60))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$pid" 2>/dev/null; then
      echo "bench: the $name peer did not start; its log says:" >&2
      tail -n 20 "$out/peer-$name.log" >&2
      return 1
    fi
    sleep 0.1
  done
}
fastapi_port=$(free_port)
start_peer fastapi "$fastapi_port" env DATABASE_URL="$bench_url" /usr/bin/python3 -m uvicorn \
  fastapi_heroes:app --app-dir "$peers" --workers 2 --host 127.0.0.1 --port "$fastapi_port" \
  --loop uvloop --http httptools --log-level warning --no-access-log
node_port=$(free_port)
start_peer node "$node_port" node "$peers/node/heroes.js" "$node_port" "$bench_url" proto
cpp_port=$(free_port)
start_peer handwritten "$cpp_port" "$build/tests/bench/protomodel-handwritten-peer" "$cpp_port" "$bench_url"

peer_run() {  # peer_run PEER SCENARIO DURATION: its result line
  local flags=() scenario=${2%:plain}
  case $2 in *:plain) flags=(--request_ids=false) ;; esac
  case $1 in
    fastapi)
      wrk -t 2 -c "$clients" -d "${3}s" -s "$peers/wrk_heroes.lua" "http://127.0.0.1:$fastapi_port" \
        -- "$scenario" | sed -n "s/^wrk: /scenario=$2 /p"
      return ;;
    protomodel) p=$port ;;
    node) p=$node_port ;;
    handwritten) p=$cpp_port ;;
  esac
  local line
  line=$("$build/tests/bench/protomodel-load" --target "127.0.0.1:$p" --scenario "$scenario" \
    --concurrency "$clients" --duration_seconds "$3" --warmup_seconds 0 "${flags[@]}")
  echo "${line/scenario=$scenario /scenario=$2 }"
}
peer_results=$out/peers.txt
: >"$peer_results"
peer_scenarios="get_hero create_hero:plain list_heroes"
for round in $(seq "$peer_rounds"); do
  for scenario in $peer_scenarios; do
    for peer in protomodel fastapi node handwritten; do
      echo "bench: peers round $round, $scenario on $peer" >&2
      peer_run "$peer" "$scenario" 1 >/dev/null  # warm-up
      echo "peer=$peer round=$round $(peer_run "$peer" "$scenario" "$seconds")" | tee -a "$peer_results" >&2
    done
  done
done
kill "${peer_pids[@]}" 2>/dev/null || true
wait "${peer_pids[@]}" 2>/dev/null || true
peer_pids=()
peer_median() {  # peer_median PEER SCENARIO: median calls/s over the rounds
  grep "^peer=$1 .*scenario=$2 " "$peer_results" | sed -n 's/.* calls_per_s=\([0-9.]*\).*/\1/p' |
    sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'
}
peer_ratio() {  # peer_ratio PEER SCENARIO: median of the rounds' protomodel/PEER
  for round in $(seq "$peer_rounds"); do
    local ours theirs
    ours=$(grep "^peer=protomodel round=$round .*scenario=$2 " "$peer_results" | sed -n 's/.* calls_per_s=\([0-9.]*\).*/\1/p')
    theirs=$(grep "^peer=$1 round=$round .*scenario=$2 " "$peer_results" | sed -n 's/.* calls_per_s=\([0-9.]*\).*/\1/p')
    awk -v a="${ours:-0}" -v b="${theirs:-0}" 'BEGIN { if (b > 0) printf "%.4f\n", a / b }'
  done | sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", v[int((NR + 1) / 2)]; else print "-" }'
}

gnuplot <<GNUPLOT
set terminal pngcairo size 800,520 noenhanced
set output "$out/get_hero_concurrency.png"
set title "GetHero throughput against calls in flight (2 cores, shared)"
set xlabel "calls in flight"
set ylabel "calls/s"
set logscale x 2
set grid
set key outside below
plot "$sweep" using 1:2 with linespoints title "GetHero", \
     $pg_select title "pgbench -S -M prepared ($clients clients)" with lines dashtype 2, \
     $floor title "gRPC's floor: health Check on the same server ($clients in flight)" with lines dashtype 3
GNUPLOT


report=$out/report.md
get=$(field "$(line_of get_hero)" calls_per_s)
create=$(field "$(line_of create_hero)" calls_per_s)
plain=$(field "$(line_of create_hero:plain)" calls_per_s)
first=$(field "$(line_of list_heroes)" calls_per_s)
deep=$(field "$(line_of list_heroes_deep)" calls_per_s)
batch_get_rows=$(field "$(line_of batch_get_heroes)" rows_per_s)
batch_create_rows=$(field "$(line_of batch_create_heroes)" rows_per_s)
# A server that added nothing to gRPC's floor but the database's own work
# per row: each create then costs the floor's CPU time plus the batched
# rows' (both measured with the machine saturated).
bound() { awk -v f="$floor" -v r="$1" 'BEGIN { if (f > 0 && r > 0) printf "%.0f", 1 / (1 / f + 1 / r); else print 0 }'; }
bound_recorded=$(bound "$pg_batch_recorded")
bound_plain=$(bound "$pg_batch_plain")
{
  echo "| scenario | calls/s | p50 ms | p99 ms | p99.9 ms | errors | MB/s | server peak RSS MB | ratio |"
  echo "|---|---|---|---|---|---|---|---|---|"
  echo "| pgbench -S -M prepared | $pg_select | | | | | | | reference |"
  echo "| pgbench insert hero | $pg_insert | | | | | | | reference |"
  echo "| pgbench insert hero + request id record | $pg_recorded | | | | | | | reference |"
  echo "| pgbench, $batch heroes a statement (rows/s) | $pg_batch_plain | | | | | | | reference |"
  echo "| pgbench, $batch heroes + records a statement (rows/s) | $pg_batch_recorded | | | | | | | reference |"
  echo "| pgbench, $big_batch heroes + records a statement (rows/s) | $pg_batch100_recorded | | | | | | | reference |"
  for scenario in $scenarios; do
    l=$(line_of "$scenario")
    cps=$(field "$l" calls_per_s)
    case $scenario in
      health_check) r="reference: gRPC's floor" ;;
      get_hero) r="$(ratio "$cps" "$pg_select") of pgbench -S; $(ratio "$cps" "$floor") of gRPC's floor" ;;
      create_hero) r="$(ratio "$cps" "$pg_recorded") of pgbench insert + record; $(ratio "$cps" "$floor") of gRPC's floor" ;;
      create_hero:plain) r="$(ratio "$cps" "$pg_insert") of pgbench insert" ;;
      list_heroes_deep) r="deep/first page time: $(ratio "$first" "$cps")" ;;
      batch_get_heroes) r="$(field "$l" rows_per_s) rows/s: $(ratio "$(field "$l" rows_per_s)" "$get") of GetHero's calls/s" ;;
      batch_create_heroes) r="$(field "$l" rows_per_s) rows/s: $(ratio "$(field "$l" rows_per_s)" "$create") of CreateHero's calls/s, $(ratio "$(field "$l" rows_per_s)" "$pg_batch100_recorded") of pgbench's" ;;
      *) r="" ;;
    esac
    echo "| $scenario | $cps | $(field "$l" p50_ms) | $(field "$l" p99_ms) | $(field "$l" p999_ms) | $(field "$l" errors) | $(field "$l" mb_per_s) | $(field "$l" rss_mb) | $r |"
  done
  echo
  echo "Against the peers (each a median of $peer_rounds rounds taken in turn; ratio: the median of the rounds' protomodel/peer):"
  echo
  echo "| scenario | protomodel calls/s | FastAPI + SQLModel | Node grpc-js + pg | hand-written C++ | / FastAPI | / Node | / hand-written C++ |"
  echo "|---|---|---|---|---|---|---|---|"
  for scenario in $peer_scenarios; do
    echo "| $scenario | $(peer_median protomodel "$scenario") | $(peer_median fastapi "$scenario") | $(peer_median node "$scenario") | $(peer_median handwritten "$scenario") | $(peer_ratio fastapi "$scenario") | $(peer_ratio node "$scenario") | $(peer_ratio handwritten "$scenario") |"
  done
  echo
  read_mb=$(field "$(line_of conversation_read)" mb_per_s)
  write_mb=$(field "$(line_of conversation_write)" mb_per_s)
  write_rss=$(field "$(line_of conversation_write)" rss_mb)
  met() {  # met FIGURE OP GOAL
    awk -v f="$1" -v g="$3" -v op="$2" 'BEGIN { if (f == "" || f == "-") print "-";
      else if ((op == ">=" && f + 0 >= g) || (op == "<=" && f + 0 <= g)) print "yes"; else print "no" }'
  }
  target() {  # target NAME FIGURE OP GOAL
    local sign="≥"
    [ "$3" = "<=" ] && sign="≤"
    echo "| $1 | $2 | $sign $4 | $(met "$2" "$3" "$4") |"
  }
  echo "Against the targets ($clients in flight):"
  echo
  echo "| target | this run | goal | met |"
  echo "|---|---|---|---|"
  target "GetHero / FastAPI" "$(peer_ratio fastapi get_hero)" ">=" 12
  target "GetHero / Node" "$(peer_ratio node get_hero)" ">=" 2
  target "GetHero / hand-written C++" "$(peer_ratio handwritten get_hero)" ">=" 1.5
  target "GetHero / gRPC floor" "$(ratio "$get" "$floor")" ">=" 0.75
  target "CreateHero with request_id / ceiling" "$(ratio "$create" "$bound_recorded")" ">=" 0.8
  target "ListHeroes 100 / FastAPI" "$(peer_ratio fastapi list_heroes)" ">=" 20
  target "BatchGetHeroes of 100, rows/s / GetHero calls/s" "$(ratio "$batch_get_rows" "$get")" ">=" 5
  target "BatchCreateHeroes of 100, rows/s / CreateHero calls/s" "$(ratio "$batch_create_rows" "$create")" ">=" 5
  target "BatchCreateHeroes of 100, rows/s / pgbench 100 a statement" "$(ratio "$batch_create_rows" "$pg_batch100_recorded")" ">=" 0.5
  target "1 MB read MB/s" "$read_mb" ">=" 300
  target "1 MB write MB/s" "$write_mb" ">=" 200
  target "RSS with 16 x 1 MB writes MB" "$write_rss" "<=" 64
  target "WatchHeroes p99 commit-to-event, 1000 watchers (100 slices), 1000 changes/s, ms" "$(field "$watch_many" p99_ms)" "<=" 100
  target "Server RSS with 1000 idle watches over the idle server's, MB" "$watch_rss_mb" "<=" 64
  target "Append 100-byte updates over 100 conversations / pgbench inserting the rows" "$(ratio "$(field "$doc_many" appends_per_s)" "$pg_update")" ">=" 0.5
  echo
  echo "Other figures:"
  echo
  echo "| figure | this run | target |"
  echo "|---|---|---|"
  echo "| GetHero / pgbench -S | $(ratio "$get" "$pg_select") | |"
  echo "| CreateHero / pgbench insert (no request id) | $(ratio "$plain" "$pg_insert") | |"
  echo "| CreateHero (no request id), estimated ceiling: gRPC's floor plus the database's batched rows, nothing else | $bound_plain calls/s: $(ratio "$bound_plain" "$pg_insert") of pgbench insert | |"
  echo "| CreateHero with request id / pgbench insert + record | $(ratio "$create" "$pg_recorded") | |"
  echo "| CreateHero with request id, estimated ceiling likewise | $bound_recorded calls/s: $(ratio "$bound_recorded" "$pg_recorded") of pgbench insert + record | |"
  echo "| deep page / first page time | $(ratio "$first" "$deep") | ≤ 1.2 |"
  echo "| \`protomodel heroes import\` of 100 000 heroes, rows/s | $import_rows: $(ratio "$import_rows" "$pg_insert") of pgbench's one-row inserts ($pg_insert rows/s), $(ratio "$import_rows" "$pg_batch100_recorded") of its $big_batch-row inserts with records | |"
  echo "| GetHero p99 at $clients in flight, ms | $(field "$(line_of get_hero)" p99_ms) (gRPC's floor: $(field "$(line_of health_check)" p99_ms)) | ≤ 2 |"
  echo "| server peak RSS, GetHero, MB | $(field "$(line_of get_hero)" rss_mb) | ≤ 64 |"
  echo "| WatchHeroes commit-to-event, 1 watcher, p50 / p99 ms | $(field "$watch_one" p50_ms) / $(field "$watch_one" p99_ms) ($(field "$watch_one" changes_per_s) changes/s, $(field "$watch_one" missing) events missing) | |"
  echo "| WatchHeroes commit-to-event, 1000 watchers of 100 slices, p50 / p99 ms | $(field "$watch_many" p50_ms) / $(field "$watch_many" p99_ms) ($(field "$watch_many" changes_per_s) changes/s, $(field "$watch_many" missing) events missing) | |"
  echo "| pgbench inserting 100-byte update rows (the log's), rows/s | $pg_update | reference |"
  echo "| pgbench running an append's statement (update the counter, insert the row, the triggers) over 100 conversations | $pg_append | reference |"
  echo "| AppendConversationUpdate over 100 conversations, $clients in flight | $(field "$doc_many" appends_per_s)/s: $(ratio "$(field "$doc_many" appends_per_s)" "$pg_update") of pgbench's row inserts, $(ratio "$(field "$doc_many" appends_per_s)" "$pg_append") of pgbench's append statements; p50 / p99 $(field "$doc_many" p50_ms) / $(field "$doc_many" p99_ms) ms | ≥ 0.5 of pgbench's row inserts |"
  echo "| AppendConversationUpdate to one conversation, 16 writers | $(field "$doc_one" appends_per_s)/s, p50 / p99 $(field "$doc_one" p50_ms) / $(field "$doc_one" p99_ms) ms | report |"
  echo "| Loading a 1 MB state + 1000 updates (Get, then ListConversationUpdates) / GetConversation of the same bytes as one state | $(field "$doc_read" document_ms) ms / $(field "$doc_read" snapshot_ms) ms: $(field "$doc_read" ratio) | report |"
  echo "| Append-to-watcher on another replica, 200 appends/s, p50 / p99 ms | $(field "$doc_latency" p50_ms) / $(field "$doc_latency" p99_ms) ($(field "$doc_latency" received) of $(field "$doc_latency" appends) received) | ≤ 1000 |"
  echo "| WatchHeroes commit-to-event, 1000 watchers of every change, p50 / p99 ms | $(field "$watch_all" p50_ms) / $(field "$watch_all" p99_ms) ($(field "$watch_all" changes_per_s) changes/s, $(field "$watch_all" events) events, $(field "$watch_all" missing) missing) | |"
  echo
  echo "Where a call's CPU goes ($clients in flight; microseconds of CPU a call, from /proc; the three share $(nproc) cores, so $(nproc) s / (their sum) bounds the calls a second):"
  echo
  echo "| scenario | server | PostgreSQL | load generator | bound, calls/s | server thread switches a call |"
  echo "|---|---|---|---|---|---|"
  while read -r l; do
    sum=$(awk -v a="$(field "$l" server_us)" -v b="$(field "$l" postgres_us)" -v c="$(field "$l" load_us)" 'BEGIN { print a + b + c }')
    echo "| $(sed -n 's/^scenario=\([a-z_]*\).*/\1/p' <<<"$l") | $(field "$l" server_us) | $(field "$l" postgres_us) | $(field "$l" load_us) | $(awk -v s="$sum" -v n="$(nproc)" 'BEGIN { if (s > 0) printf "%.0f", n * 1e6 / s }') | $(field "$l" switches) |"
  done <"$profiled"
  echo
  echo "GetHero against calls in flight:"
  echo
  echo "| in flight | calls/s | p50 ms | p99 ms | ratio to pgbench -S |"
  echo "|---|---|---|---|---|"
  while read -r l; do
    echo "| $(field "$l" concurrency) | $(field "$l" calls_per_s) | $(field "$l" p50_ms) | $(field "$l" p99_ms) | $(ratio "$(field "$l" calls_per_s)" "$pg_select") |"
  done <"$out/sweep.txt"
} >"$report"
rm -f "$out/sweep.txt"

if [ -n "${BENCH_BASELINE:-}" ]; then
  # The baseline's own server on a database of its own, seeded alike; the
  # load generator is this tree's, so both answer the same calls.
  base_src=$build/baseline-src
  rm -rf "$base_src" && mkdir -p "$base_src"
  git archive "$BENCH_BASELINE" | tar -x -C "$base_src"
  echo "bench: building the baseline $(git rev-parse --short "$BENCH_BASELINE")" >&2
  cmake -S "$base_src" -B "$build/baseline" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build/baseline" -j "${JOBS:-2}" --target protomodel-server >/dev/null
  # Both servers on fresh databases seeded alike (the first one's holds the
  # rows the scenarios above wrote): like for like.
  stop_server
  pair_server() {  # pair_server SIDE BINARY: sets pair_pid and pair_port
    local db=${admin%/postgres}/bench_$1
    psql "$admin" -qc "DROP DATABASE IF EXISTS bench_$1 WITH (FORCE)" -c "CREATE DATABASE bench_$1" >/dev/null
    start_server "$2" "$db" "$out/server-$1.log" --log_rpcs=false
    pair_pid=$server_pid pair_port=$server_port
    psql "$db" -qc "INSERT INTO hero (name, secret_name, age)
      SELECT 'hero-' || i, 'secret-' || i, i % 100 FROM generate_series(1, 100000) AS i" \
      -c "VACUUM ANALYZE hero" >/dev/null
  }
  pair_server base "$build/baseline/server/protomodel-server"
  base_pid=$pair_pid base_port=$pair_port
  pair_server head "$build/server/protomodel-server"
  head_port=$pair_port
  paired=$out/paired.txt
  : >"$paired"
  for round in 1 2 3; do
    for scenario in get_hero create_hero; do
      for side in head base; do
        p=$head_port
        [ "$side" = base ] && p=$base_port
        echo "bench: round $round, $scenario on $side" >&2
        echo "side=$side $("$build/tests/bench/protomodel-load" --target "127.0.0.1:$p" \
          --scenario "$scenario" --concurrency "$clients" --duration_seconds "$seconds" \
          --warmup_seconds 1)" >>"$paired"
      done
    done
  done
  # The median of each round's this-tree/baseline ratio: a round's two runs
  # share the machine's mood, so their ratio keeps less of it.
  paired_ratio() {  # paired_ratio SCENARIO
    grep "scenario=$1 " "$paired" | sed -n 's/^side=\([a-z]*\) .*calls_per_s=\([0-9.]*\).*/\1 \2/p' |
      awk '$1 == "head" { h = $2 } $1 == "base" && $2 > 0 { printf "%.4f\n", h / $2 }' |
      sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }'
  }
  median() {  # median SIDE SCENARIO FIELD
    grep "side=$1 .*scenario=$2 " "$paired" | sed -n "s/.* $3=\([0-9.]*\).*/\1/p" | sort -g |
      awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
  }
  # Instructions a call costs the server: each server under callgrind,
  # counting only while the load runs; the load's calls divide the count.
  counted=$out/instructions.txt
  : >"$counted"
  count_instructions() {  # count_instructions SIDE BINARY DATABASE_URL
    local log=$out/callgrind-$1.log pid port
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/callgrind-$1.%p" \
      "$2" --listen 127.0.0.1:0 --database_url "$3" --log_rpcs=false --migrate=false >"$log" 2>&1 &
    pid=$!
    local deadline=$((SECONDS + 120))
    until grep -q "database answers: SERVING" "$log"; do
      [ "$SECONDS" -lt "$deadline" ] && kill -0 "$pid" 2>/dev/null || { tail "$log" >&2; return 1; }
      sleep 0.5
    done
    port=$(sed -n 's/.*serving gRPC on port \([0-9]*\).*/\1/p' "$log" | head -n 1)
    for scenario in get_hero create_hero; do
      "$build/tests/bench/protomodel-load" --target "127.0.0.1:$port" --scenario "$scenario" \
        --concurrency "$clients" --duration_seconds 2 --warmup_seconds 0 >/dev/null
      for round in 1 2; do
        echo "bench: instructions, $scenario on $1, round $round" >&2
        callgrind_control -z "$pid" >/dev/null
        callgrind_control -i on "$pid" >/dev/null
        local line calls total dump
        line=$("$build/tests/bench/protomodel-load" --target "127.0.0.1:$port" \
          --scenario "$scenario" --concurrency "$clients" --duration_seconds 8 --warmup_seconds 0)
        callgrind_control -i off "$pid" >/dev/null
        callgrind_control -d "$pid" >/dev/null
        sleep 1
        dump=$(ls -t "$out/callgrind-$1.$pid".* | head -n 1)
        total=$(sed -n 's/^totals: //p' "$dump")
        calls=$(field "$line" calls)
        echo "side=$1 scenario=$scenario instructions_per_call=$((total / calls))" >>"$counted"
      done
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    rm -f "$out/callgrind-$1".*[0-9]
  }
  count_instructions head "$build/server/protomodel-server" "${admin%/postgres}/bench_head"
  count_instructions base "$build/baseline/server/protomodel-server" "${admin%/postgres}/bench_base"
  least() {  # least SIDE SCENARIO: the smaller of the rounds
    grep "side=$1 scenario=$2 " "$counted" | sed -n 's/.*instructions_per_call=\([0-9]*\).*/\1/p' |
      sort -n | head -n 1
  }
  {
    echo
    echo "Instructions the server spends a call (callgrind; the smaller of two rounds):"
    echo
    echo "| scenario | this tree | $(git rev-parse --short "$BENCH_BASELINE") | ratio |"
    echo "|---|---|---|---|"
    for scenario in get_hero create_hero; do
      h=$(least head "$scenario") b=$(least base "$scenario")
      echo "| $scenario | $h | $b | $(ratio "$h" "$b") |"
    done
  } >>"$report"
  {
    echo
    echo "This tree against $(git rev-parse --short "$BENCH_BASELINE") (3 rounds, taken in turn; medians, and the median of the rounds' own ratios):"
    echo
    echo "| scenario | this tree calls/s | baseline calls/s | ratio | this tree p99 ms | baseline p99 ms |"
    echo "|---|---|---|---|---|---|"
    for scenario in get_hero create_hero; do
      h=$(median head "$scenario" calls_per_s) b=$(median base "$scenario" calls_per_s)
      echo "| $scenario | $h | $b | $(paired_ratio "$scenario") | $(median head "$scenario" p99_ms) | $(median base "$scenario" p99_ms) |"
    done
  } >>"$report"
fi
cat "$report"
echo "bench: report in $report, plot in $out/get_hero_concurrency.png" >&2
