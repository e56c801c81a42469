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

# start_server BINARY URL LOG [FLAGS...]: starts the server on a free
# loopback port in the background; sets server_pid and server_port once it
# reports SERVING.
start_server() {
  local binary=$1 url=$2 log=$3
  shift 3
  server_port=$((20000 + RANDOM % 30000))
  "$binary" --listen "127.0.0.1:$server_port" --database_url "$url" --log_rpcs=false "$@" \
    >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 200); do
    grep -q "SERVING" "$log" && return 0
    sleep 0.05
  done
  echo "the server did not report SERVING; its log says:" >&2
  tail -n 20 "$log" >&2
  return 1
}
