#!/usr/bin/env bash
# make soak: mixed load for SOAK_SECONDS (default 600) against a release
# build of the server on a throwaway PostgreSQL, sampling the server's RSS,
# open file descriptors and database connections every SOAK_SAMPLE seconds
# (default 30). Fails when RSS grows past 10% + 8 MB (peak after warm-up
# against peak near the end), descriptors by more than 4, connections past
# the pool size (plus the health check's), or any call fails.
#   SOAK_SECONDS       total load time (default 600)
#   SOAK_SAMPLE        seconds between samples (default 30)
#   SOAK_BUILD_DIR     release build folder (default build-release)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SOAK_BUILD_DIR:-build-release}
total=${SOAK_SECONDS:-600}
every=${SOAK_SAMPLE:-30}
pool=8
out=$build/soak
mkdir -p "$out"

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target protomodel-server protomodel-load >/dev/null

export PGOPTIONS=--client-min-messages=warning
admin=$(scripts/pg.sh start "$build/soak-pg" auto --fast)
psql "$admin" -qc "DROP DATABASE IF EXISTS soak WITH (FORCE)" -c "CREATE DATABASE soak" >/dev/null
url=${admin%/postgres}/soak

. scripts/lib.sh
server_pid=
load=
cleanup() {
  [ -n "$load" ] && kill "$load" 2>/dev/null || true
  stop_server || true
  scripts/pg.sh stop "$build/soak-pg"
}
trap cleanup EXIT
start_server "$build/server/protomodel-server" "$url" "$out/server.log" --log_rpcs=false --pool_size "$pool"
server=$server_pid
port=$server_port
psql "$url" -qc "INSERT INTO hero (name, secret_name, age)
  SELECT 'hero-' || i, 'secret-' || i, i % 100 FROM generate_series(1, 10000) AS i" >/dev/null

: >"$out/load.txt"
# The load: each scenario in turn, 16 calls in flight, until time is up.
(
  end=$(( $(date +%s) + total ))
  while [ "$(date +%s)" -lt "$end" ]; do
    for scenario in get_hero create_hero list_heroes update_hero conversation_write \
                    conversation_read list_heroes_deep; do
      "$build/tests/bench/protomodel-load" --target "127.0.0.1:$port" --scenario "$scenario" \
        --concurrency 16 --duration_seconds 15 --warmup_seconds 0 --heroes 10000 \
        --deep_offset 5000 --crdt_bytes 262144 >>"$out/load.txt" 2>&1 || true
      [ "$(date +%s)" -lt "$end" ] || break
    done
  done
) &
load=$!

sample() {
  local rss fds conns
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
  fds=$(ls "/proc/$server/fd" | wc -l)
  conns=$(psql "$admin" -Atc "SELECT count(*) FROM pg_stat_activity WHERE datname = 'soak'")
  echo "$(( $(date +%s) - start )) $((rss / 1024)) $fds $conns"
}

start=$(date +%s)
samples=$out/samples.txt
echo "# seconds rss_mb fds db_connections" >"$samples"
echo "soak: ${total}s of mixed load; samples every ${every}s (seconds rss_mb fds db_connections)" >&2
while kill -0 "$load" 2>/dev/null; do
  sample | tee -a "$samples" >&2
  sleep "$every"
done
sample | tee -a "$samples" >&2
wait "$load" || true
load=

# RSS moves with the scenario running, so windows are compared: the largest
# RSS between a fifth and half of the run (after warm-up) against the
# largest in its last 30%. Descriptors: the first sample after warm-up
# against the last, taken once the load has stopped.
peak() { awk -v a="$1" -v b="$2" '!/^#/ && $1 >= a && $1 <= b && $2 > m {m = $2} END {print m + 0}' "$samples"; }
rss0=$(peak $((total / 5)) $((total / 2)))
rss1=$(peak $((total * 7 / 10)) 999999999)
read -r _ _ fds0 conns0 <<<"$(awk -v t=$((total / 5)) '!/^#/ && $1 >= t {print; exit}' "$samples")"
read -r _ _ fds1 conns1 <<<"$(tail -n 1 "$samples")"
calls=$(awk '{for (i = 1; i <= NF; i++) if ($i ~ /^calls=/) {split($i, a, "="); n += a[2]}} END {print n + 0}' "$out/load.txt")
errors=$(awk '{for (i = 1; i <= NF; i++) if ($i ~ /^errors=/) {split($i, a, "="); n += a[2]}} END {print n + 0}' "$out/load.txt")
echo "soak: $calls calls, $errors errors" >&2
echo "soak: peak RSS after warm-up ${rss0} MB, in the last 30% ${rss1} MB; descriptors $fds0 then $fds1; database connections $conns0 then $conns1 (pool $pool + health 1)" >&2
status=0
if [ "$rss1" -gt $(( rss0 + rss0 / 10 + 8 )) ]; then echo "soak: FAIL: RSS grew" >&2; status=1; fi
if [ "$fds1" -gt $(( fds0 + 4 )) ]; then echo "soak: FAIL: file descriptors grew" >&2; status=1; fi
if [ "$conns1" -gt $(( pool + 1 )) ]; then echo "soak: FAIL: more database connections than the pool" >&2; status=1; fi
if [ "$errors" -gt 0 ]; then echo "soak: FAIL: calls failed" >&2; status=1; fi
[ "$status" -eq 0 ] && echo "soak: PASS" >&2
exit "$status"
