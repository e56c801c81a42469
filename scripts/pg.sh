#!/usr/bin/env bash
# A local PostgreSQL 15 cluster in a folder of its own, on 127.0.0.1 only.
#
#   scripts/pg.sh start DIR [PORT|auto] [--fast] [--report]
#                                                  init if needed, start, print URL
#   scripts/pg.sh stop DIR [fast|immediate]        stop (fast shutdown by default)
#   scripts/pg.sh restart DIR [fast|immediate]     stop then start on the same port
#   scripts/pg.sh url DIR [DBNAME]                 print the URL of a running cluster
#   scripts/pg.sh createdb DIR DBNAME              create the database if missing
#
# As root the cluster runs as the unprivileged `postgres` user (PostgreSQL
# refuses root). When that user cannot reach DIR, the data lives under /tmp
# and DIR is a symbolic link to it. --fast turns off fsync: for throwaway test
# clusters only. --report prints a second line after the URL: `started` when
# this call started the cluster, `running` when it found it running (a caller
# then stops only what it started).
set -euo pipefail

usage() { sed -n '2,16p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
dir=$2
shift 2

pgbin=/usr/lib/postgresql/15/bin
if [ ! -x "$pgbin/pg_ctl" ]; then
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
[ -x "$pgbin/pg_ctl" ] || { echo "pg.sh: PostgreSQL server binaries not found (run scripts/install-deps.sh)" >&2; exit 1; }

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# The real data folder: DIR itself, or the /tmp folder DIR links to.
resolve() { resolve_dir "$dir" protomodel-pg; }

port_of() { sed -n "s/^port = \([0-9]*\).*/\1/p" "$1/postgresql.auto.conf" 2>/dev/null | tail -n 1; }

url_of() { echo "postgresql://postgres@127.0.0.1:$(port_of "$1")/${2:-postgres}"; }

running() { [ -f "$1/PG_VERSION" ] && as_pg "$pgbin/pg_ctl" -D "$1" status >/dev/null 2>&1; }

init() {
  local data=$1 fast=$2
  [ -f "$data/PG_VERSION" ] && return
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$data"; fi
  chmod 700 "$data"
  as_pg "$pgbin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$data.initdb.log" 2>&1 ||
    { cat "$data.initdb.log" >&2; exit 1; }
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = ''"
    echo "max_connections = 200"
    echo "shared_buffers = 128MB"
    if [ "$fast" = 1 ]; then
      echo "fsync = off"
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
    fi
  } | as_pg tee -a "$data/postgresql.conf" >/dev/null
}

start() {
  local data=$1 port=$2
  local log="$data/server.log"
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    local p=$port
    if [ "$port" = auto ]; then p=$((20000 + RANDOM % 30000)); fi
    echo "port = $p" | as_pg tee "$data/postgresql.auto.conf" >/dev/null
    if as_pg "$pgbin/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null 2>&1; then
      return 0
    fi
    if [ "$port" != auto ]; then break; fi
  done
  echo "pg.sh: PostgreSQL did not start; its log says:" >&2
  tail -n 20 "$log" >&2 || true
  exit 1
}

case "$cmd" in
  start)
    port=auto fast=0 report=0
    for arg in "$@"; do
      case "$arg" in
        --fast) fast=1 ;;
        --report) report=1 ;;
        *) port=$arg ;;
      esac
    done
    data=$(resolve)
    init "$data" "$fast"
    state=running
    if ! running "$data"; then
      if [ "$port" = auto ] && [ -n "$(port_of "$data")" ]; then port=$(port_of "$data"); fi
      start "$data" "$port" || start "$data" auto
      state=started
    fi
    url_of "$data"
    if [ "$report" = 1 ]; then echo "$state"; fi
    ;;
  stop)
    [ -e "$dir" ] || exit 0
    data=$(readlink -f "$dir")
    if running "$data"; then as_pg "$pgbin/pg_ctl" -D "$data" -m "${1:-fast}" -w stop >/dev/null; fi
    ;;
  restart)
    data=$(readlink -f "$dir")
    as_pg "$pgbin/pg_ctl" -D "$data" -m "${1:-fast}" -w stop >/dev/null
    start "$data" "$(port_of "$data")"
    ;;
  url)
    data=$(readlink -f "$dir")
    running "$data" || { echo "pg.sh: no cluster running in $dir" >&2; exit 1; }
    url_of "$data" "${1:-postgres}"
    ;;
  createdb)
    [ $# -ge 1 ] || usage
    data=$(readlink -f "$dir")
    url=$(url_of "$data")
    if ! psql "$url" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$1'" | grep -q 1; then
      psql "$url" -qc "CREATE DATABASE \"$1\"" >/dev/null
    fi
    url_of "$data" "$1"
    ;;
  *) usage ;;
esac
