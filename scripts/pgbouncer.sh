#!/usr/bin/env bash
# A local PgBouncer in transaction pooling mode, in front of a PostgreSQL on
# 127.0.0.1, in a folder of its own: every database name passes through
# (`* =` in [databases]), so per-suite test databases work.
#
#   scripts/pgbouncer.sh start DIR PG_URL    start (or find running), print URL
#   scripts/pgbouncer.sh stop DIR            stop
#   scripts/pgbouncer.sh url DIR [DBNAME]    print the URL of a running one
#
# As root it runs as the `postgres` user (PgBouncer refuses root).
set -euo pipefail

usage() { sed -n '2,10p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
dir=$2
shift 2

bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
[ -x "$bin" ] || { echo "pgbouncer.sh: pgbouncer not found (run scripts/install-deps.sh)" >&2; exit 1; }

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# The real folder: under /tmp when the postgres user cannot reach DIR.
resolve() { resolve_dir "$dir" protomodel-pgbouncer; }

port_of() { sed -n 's/^listen_port = \([0-9]*\)$/\1/p' "$1/pgbouncer.ini" 2>/dev/null; }
url_of() { echo "postgresql://postgres@127.0.0.1:$(port_of "$1")/${2:-postgres}"; }
running() { [ -f "$1/pgbouncer.pid" ] && kill -0 "$(cat "$1/pgbouncer.pid")" 2>/dev/null; }

write_config() {
  local data=$1 pg_port=$2 port=$3
  cat >"$data/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$pg_port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $data/userlist.txt
admin_users = postgres
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits
server_login_retry = 1
logfile = $data/pgbouncer.log
pidfile = $data/pgbouncer.pid
EOF
  echo '"postgres" ""' >"$data/userlist.txt"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$data"; fi
}

case "$cmd" in
  start)
    [ $# -ge 1 ] || usage
    pg_port=${1##*:}         # postgresql://user@127.0.0.1:PORT/db, or a port
    pg_port=${pg_port%%/*}
    data=$(resolve)
    # One left running in front of another PostgreSQL port is replaced.
    if running "$data" && ! grep -q "^\* = host=127.0.0.1 port=$pg_port\$" "$data/pgbouncer.ini"; then
      "$0" stop "$dir"
    fi
    if ! running "$data"; then
      started=0
      for attempt in 1 2 3 4 5 6 7 8 9 10; do
        write_config "$data" "$pg_port" $((20000 + RANDOM % 30000))
        rm -f "$data/pgbouncer.pid"
        as_pg "$bin" -d "$data/pgbouncer.ini" >/dev/null 2>&1 || true
        for _ in $(seq 50); do
          running "$data" && { started=1; break; }
          sleep 0.1
        done
        [ "$started" = 1 ] && break
      done
      if [ "$started" != 1 ]; then
        echo "pgbouncer.sh: PgBouncer did not start; its log says:" >&2
        tail -n 20 "$data/pgbouncer.log" >&2 || true
        exit 1
      fi
    fi
    url_of "$data"
    ;;
  stop)
    [ -e "$dir" ] || exit 0
    data=$(readlink -f "$dir")
    if running "$data"; then
      pid=$(cat "$data/pgbouncer.pid")
      kill "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    ;;
  url)
    data=$(readlink -f "$dir")
    running "$data" || { echo "pgbouncer.sh: no PgBouncer running in $dir" >&2; exit 1; }
    url_of "$data" "${1:-postgres}"
    ;;
  *) usage ;;
esac
