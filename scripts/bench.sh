#!/usr/bin/env bash
# make bench: protomodel against the database's own limit, in one run.
#
# Starts a throwaway PostgreSQL (fsync off, for protomodel and the reference
# alike) and a release build of the server, seeds 100 000 heroes, measures
# the references with pgbench, then drives each scenario with
# protomodel-load, and writes a report with every figure as a ratio to its
# reference measured minutes before.
#   BENCH_SECONDS   measured seconds per scenario (default 10)
#   BENCH_CLIENTS   calls in flight (default 16)
#   BENCH_BUILD_DIR release build folder (default build-release)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BENCH_BUILD_DIR:-build-release}
seconds=${BENCH_SECONDS:-10}
clients=${BENCH_CLIENTS:-16}
out=$build/bench
mkdir -p "$out"

if ! command -v gnuplot >/dev/null 2>&1; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null
fi

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target protomodel-server protomodel-load >/dev/null

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
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  scripts/pg.sh stop "$build/bench-pg"
}
trap cleanup EXIT
start_server "$build/server/protomodel-server" "$bench_url" "$out/server.log" --log_rpcs=false
server=$server_pid
port=$server_port

psql "$bench_url" -qc "INSERT INTO hero (name, secret_name, age)
  SELECT 'hero-' || i, 'secret-' || i, i % 100 FROM generate_series(1, 100000) AS i" \
  -c "VACUUM ANALYZE hero" >/dev/null

echo "bench: references (pgbench, $clients clients, ${seconds}s each)" >&2
"$pgbin/pgbench" -q -i -s 10 "$pgbench_url" >/dev/null 2>&1
tps() { sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -n 1; }
pg_select=$("$pgbin/pgbench" -n -S -M prepared -c "$clients" -j 2 -T "$seconds" "$pgbench_url" 2>/dev/null | tps)
echo "INSERT INTO hero (name, secret_name, age) VALUES ('bench', 'bench', 30);" >"$out/insert.sql"
pg_insert=$("$pgbin/pgbench" -n -M prepared -f "$out/insert.sql" -c "$clients" -j 2 -T "$seconds" "$bench_url" 2>/dev/null | tps)

# Runs one scenario; prints its result line with the server's peak RSS.
run() {
  local scenario=$1 concurrency=$2
  shift 2
  echo 5 >"/proc/$server/clear_refs"
  local line
  line=$("$build/tests/bench/protomodel-load" --target "127.0.0.1:$port" --scenario "$scenario" \
    --concurrency "$concurrency" --duration_seconds "$seconds" --warmup_seconds 1 "$@")
  local rss
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
  echo "$line rss_mb=$((rss / 1024))"
}

results=$out/results.txt
: >"$results"
for scenario in get_hero create_hero list_heroes list_heroes_deep update_hero \
                conversation_read conversation_write; do
  echo "bench: $scenario" >&2
  run "$scenario" "$clients" | tee -a "$results" >&2
done
sweep=$out/get_hero_concurrency.dat
echo "# concurrency calls_per_s" >"$sweep"
for c in 1 2 4 8 16 32 64; do
  echo "bench: get_hero at $c in flight" >&2
  line=$(run get_hero "$c")
  echo "$line" >>"$out/sweep.txt"
  echo "$c $(sed -n 's/.*calls_per_s=\([0-9.]*\).*/\1/p' <<<"$line")" >>"$sweep"
done

gnuplot <<GNUPLOT
set terminal pngcairo size 800,480 noenhanced
set output "$out/get_hero_concurrency.png"
set title "GetHero throughput against calls in flight (2 cores, shared)"
set xlabel "calls in flight"
set ylabel "calls/s"
set logscale x 2
set grid
set key left top
plot "$sweep" using 1:2 with linespoints title "GetHero", \
     $pg_select title "pgbench -S -M prepared ($clients clients)" with lines dashtype 2
GNUPLOT

field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<" $1"; }
line_of() { grep "scenario=$1 " "$results"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

report=$out/report.md
{
  echo "| scenario | calls/s | p50 ms | p99 ms | p99.9 ms | errors | MB/s | server peak RSS MB | ratio |"
  echo "|---|---|---|---|---|---|---|---|---|"
  echo "| pgbench -S -M prepared | $pg_select | | | | | | | reference |"
  echo "| pgbench insert hero | $pg_insert | | | | | | | reference |"
  first=$(field "$(line_of list_heroes)" calls_per_s)
  for scenario in get_hero create_hero list_heroes list_heroes_deep update_hero \
                  conversation_read conversation_write; do
    l=$(line_of "$scenario")
    cps=$(field "$l" calls_per_s)
    case $scenario in
      get_hero) r="$(ratio "$cps" "$pg_select") of pgbench -S" ;;
      create_hero) r="$(ratio "$cps" "$pg_insert") of pgbench insert" ;;
      list_heroes_deep) r="deep/first page time: $(ratio "$first" "$cps")" ;;
      *) r="" ;;
    esac
    echo "| $scenario | $cps | $(field "$l" p50_ms) | $(field "$l" p99_ms) | $(field "$l" p999_ms) | $(field "$l" errors) | $(field "$l" mb_per_s) | $(field "$l" rss_mb) | $r |"
  done
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
cat "$report"
echo "bench: report in $report, plot in $out/get_hero_concurrency.png" >&2
