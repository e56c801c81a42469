#!/usr/bin/env bash
# Runs protomodel-server in the foreground against DATABASE_URL or, when that
# is unset, against a local PostgreSQL in PROTOMODEL_PG_DIR (default .data/pg;
# port PROTOMODEL_PG_PORT, default 55432; database `protomodel`). It starts
# that PostgreSQL when it is not running and, on exit, stops it only if it
# started it: `make migrate`, or a second `make run`, beside a running
# `make run` leaves that one's database up.
#   scripts/run.sh SERVER_BINARY [ARGS...]
# Once the server answers, it prints the address and a command to try.
set -euo pipefail
cd "$(dirname "$0")/.."
server=$1
shift
pg_dir=${PROTOMODEL_PG_DIR:-.data/pg}

say() { echo "run.sh: $*" >&2; }

# Serving, or a one-off command (`migrate`, `schema ...`, `--help`).
serving=1
listen=${PROTOMODEL_LISTEN:-0.0.0.0:50051}
next_is_listen=0
for arg in "$@"; do
  if [ "$next_is_listen" = 1 ]; then listen=$arg; next_is_listen=0; continue; fi
  case "$arg" in
    migrate | schema | --help | -help | --helpfull | --version) serving=0 ;;
    --listen=* | -listen=*) listen=${arg#*=} ;;
    --listen | -listen) next_is_listen=1 ;;
  esac
done

# A port something already answers on (another `make run`?) is refused here,
# before anything starts, with what to do about it.
if [ "$serving" = 1 ]; then
  port=${listen##*:}
  host=${listen%:*}
  case "$host" in 0.0.0.0 | "[::]" | "" | "*") host=127.0.0.1 ;; esac
  host=${host#[}
  host=${host%]}
  if [ "$port" != 0 ] && timeout 2 bash -c "exec 3<>'/dev/tcp/$host/$port'" 2>/dev/null; then
    say "something already listens on $listen (another \`make run\`?): stop it, or serve elsewhere with PROTOMODEL_LISTEN=0.0.0.0:PORT"
    exit 1
  fi
fi

# Whatever ends this script (the server exiting, a failure, a signal) stops
# the local PostgreSQL if, and only if, this script started it.
started_pg=0
# shellcheck disable=SC2317  # run from a trap
stop_pg() {
  if [ "$started_pg" = 1 ]; then
    scripts/pg.sh stop "$pg_dir"
    say "local PostgreSQL stopped"
  fi
}
trap stop_pg EXIT
# A background job of a script ignores SIGINT, so Ctrl-C reaches only this
# shell: it passes SIGTERM on, and the server drains and exits. Before the
# server runs, a signal just ends the script.
pid=
# shellcheck disable=SC2317  # run from a trap
on_signal() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
  else
    exit 130
  fi
}
trap on_signal INT TERM HUP

if [ -z "${DATABASE_URL:-}" ]; then
  if [ ! -f "$pg_dir/PG_VERSION" ]; then
    say "creating a local PostgreSQL in $pg_dir (initdb, a few seconds)..."
  fi
  state=$(scripts/pg.sh start "$pg_dir" "${PROTOMODEL_PG_PORT:-55432}" --report | tail -n 1)
  [ "$state" = started ] && started_pg=1
  DATABASE_URL=$(scripts/pg.sh createdb "$pg_dir" protomodel)
  export DATABASE_URL
  if [ "$started_pg" = 1 ]; then
    say "started the local PostgreSQL at $DATABASE_URL (data in $pg_dir); it stops when this does"
  else
    say "using the local PostgreSQL already running at $DATABASE_URL (data in $pg_dir); it stays up"
  fi
fi

# The command to try once the server answers on PORT: the CLI when it was
# built next to the server, else a health check with buf curl.
try_command() {
  local port=$1 target=""
  [ "$port" = 50051 ] || target="PROTOMODEL_TARGET=localhost:$port "
  local cli
  cli=$(realpath -m --relative-to=. "$(dirname "$server")/../client/protomodel")
  if [ -x "$cli" ]; then
    echo "${target}$cli heroes list"
  else
    echo "tests/tools/node_modules/.bin/buf curl --protocol grpc --http2-prior-knowledge" \
      "-d '{\"service\":\"\"}' http://localhost:$port/grpc.health.v1.Health/Check   # after make tools"
  fi
}

# Passes the server's log (stderr) through; once it says where it serves and
# that the database answers, adds the address and a command to try, then gets
# out of the way. It ignores Ctrl-C, so the server's last lines still show.
relay() {
  trap '' INT TERM
  local line address="" port="" ready=0
  while IFS= read -r line; do
    printf '%s\n' "$line" >&2
    case "$line" in
      *"starting: listen="*)
        address=${line#*starting: listen=}
        address=${address%% *}
        ;;
      *"serving gRPC on port "*)
        port=${line#*serving gRPC on port }
        port=${port%%[!0-9]*}
        ;;
      *"database answers: SERVING"*) ready=1 ;;
    esac
    if [ -n "$port" ] && [ "$ready" = 1 ]; then
      [ -n "$address" ] || address=0.0.0.0:$port
      address=${address%:*}:$port
      say "serving on $address; Ctrl-C stops it. Try, in another terminal:"
      echo "  $(try_command "$port")" >&2
      exec cat >&2
    fi
  done
}

if [ "$serving" = 1 ]; then
  "$server" "$@" 2> >(relay) &
else
  "$server" "$@" &
fi
pid=$!
status=0
while kill -0 "$pid" 2>/dev/null; do
  wait "$pid" && status=0 || status=$?
done
exit "$status"
