# Shell helpers the scripts share; sourced, not run.

# Runs a command as the `postgres` user when root (PostgreSQL and PgBouncer
# refuse root), as the caller otherwise.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# resolve_dir DIR NAME: prints the real folder behind DIR, making it: DIR
# itself, or, when root and the postgres user cannot reach DIR's parent, a
# new folder under /tmp that DIR becomes a symbolic link to.
resolve_dir() {
  local dir=$1 name=$2
  if [ -L "$dir" ] || [ -d "$dir" ]; then
    readlink -f "$dir"
    return
  fi
  local parent
  parent=$(dirname "$dir")
  mkdir -p "$parent"
  if [ "$(id -u)" -ne 0 ] || runuser -u postgres -- test -x "$(readlink -f "$parent")"; then
    mkdir -p "$dir"
    readlink -f "$dir"
  else
    local real
    real=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
    ln -s "$real" "$dir"
    echo "$real"
  fi
}

# stop_server: SIGTERM to the server start_server started, if any, and
# its exit awaited; its exit status is returned (0 when none ran).
stop_server() {
  [ -n "${server_pid:-}" ] || return 0
  local pid=$server_pid status=0
  server_pid=
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || status=$?
  return "$status"
}

# start_server BINARY URL LOG [FLAGS...]: starts the server in the background
# on a loopback port the kernel picks (so parallel tests cannot collide);
# sets server_pid, and server_port once the log reports the port and a
# database that answers SERVING. Waits up to START_SERVER_SECONDS (60): a
# sanitizer build on a busy machine starts slowly. Fails, showing the log,
# if the server exits first.
start_server() {
  local binary=$1 url=$2 log=$3
  shift 3
  server_port=
  "$binary" --listen 127.0.0.1:0 --database_url "$url" "$@" >"$log" 2>&1 &
  server_pid=$!
  local deadline=$((SECONDS + ${START_SERVER_SECONDS:-60}))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if grep -q "database answers: SERVING" "$log"; then
      server_port=$(sed -n 's/.*serving gRPC on port \([0-9]*\).*/\1/p' "$log" | head -n 1)
      [ -n "$server_port" ] && return 0
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "the server exited before serving; its log says:" >&2
      tail -n 20 "$log" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "the server did not report SERVING within ${START_SERVER_SECONDS:-60}s; its log says:" >&2
  tail -n 20 "$log" >&2
  return 1
}

# require_buf: sets `buf` to the tests' buf (scripts/install-tools.sh), or
# exits 77 (CTest's skip) when it is missing.
require_buf() {
  buf=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/tools/node_modules/.bin/buf
  if [ ! -x "$buf" ]; then
    echo "SKIP: $buf is missing (scripts/install-tools.sh installs it with npm)"
    exit 77
  fi
}

# test_database PG_DIR NAME: starts (or finds) the test cluster in PG_DIR
# and makes database NAME on it; sets `admin` (the cluster's URL) and `url`
# (the new database's). Drop it with drop_test_database.
test_database() {
  local scripts
  scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  admin=$("$scripts/pg.sh" start "$1" auto --fast)
  test_database_name=$2
  url=$("$scripts/pg.sh" createdb "$1" "$2")
}

drop_test_database() {
  psql "$admin" -qc "DROP DATABASE IF EXISTS \"$test_database_name\" WITH (FORCE)" >/dev/null
}
