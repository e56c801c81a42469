#!/usr/bin/env bash
# Runs a command against the server binary, started on a free port with a
# database of its own on the test cluster; exports PROTOMODEL_TARGET.
#   tests/with_server.sh SERVER_BINARY PG_DIR COMMAND [ARGS...]
#
# With PROTOMODEL_TEST_SECURE=1 the server serves TLS, with a certificate for
# localhost and 127.0.0.1 from a throwaway CA, and requires a client
# certificate from that CA (mTLS) and tokens; the command also gets
# PROTOMODEL_TLS=1, PROTOMODEL_TLS_CA_FILE (that CA),
# PROTOMODEL_CLIENT_CERT_FILE and PROTOMODEL_CLIENT_KEY_FILE (a client
# certificate), PROTOMODEL_TOKEN (granted every method) and
# PROTOMODEL_TEST_SECURE_READER_TOKEN (granted */Get*,*/List* only). Without
# it those variables are cleared, so the command connects in plaintext
# without a token whatever the caller's environment holds.
#
# With PROTOMODEL_TEST_REPLICAS=2 a second server serves the same database,
# as another replica would: PROTOMODEL_TARGET_REPLICA is its address.
set -euo pipefail
server=$1
pg_dir=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../scripts/lib.sh
. "$here/../scripts/lib.sh"
secure=${PROTOMODEL_TEST_SECURE:-}
admin=$("$here/../scripts/pg.sh" start "$pg_dir" auto --fast)
db="client_$$_$RANDOM"
tmp=$(mktemp -d)
server_pid=
replica_pid=
cleanup() {
  stop_server || true
  if [ -n "$replica_pid" ]; then kill -TERM "$replica_pid" 2>/dev/null || true; wait "$replica_pid" 2>/dev/null || true; fi
  PGOPTIONS=--client-min-messages=warning psql "$admin" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
url=$("$here/../scripts/pg.sh" createdb "$pg_dir" "$db")
log=$tmp/server.log
# In the PgBouncer pass the server reaches its database through PgBouncer.
flags=()
if [ -n "${PROTOMODEL_TEST_PGBOUNCER_DIR:-}" ]; then
  url=$("$here/../scripts/pgbouncer.sh" url "$PROTOMODEL_TEST_PGBOUNCER_DIR" "$db")
  flags+=(--prepared_statements=false)
fi

# Only the flags below configure the server, and only the exports at the end
# the command, whatever the caller's environment holds.
unset PROTOMODEL_TLS PROTOMODEL_TLS_CA_FILE PROTOMODEL_TLS_CERT_FILE PROTOMODEL_TLS_KEY_FILE \
  PROTOMODEL_TLS_CLIENT_CA_FILE PROTOMODEL_CLIENT_CERT_FILE PROTOMODEL_CLIENT_KEY_FILE \
  PROTOMODEL_AUTH_TOKENS_FILE PROTOMODEL_ALLOW_PLAINTEXT_TOKENS \
  PROTOMODEL_TOKEN PROTOMODEL_TEST_SECURE_READER_TOKEN

# Runs a command quietly, showing its output only when it fails.
quiet() {
  "$@" >"$tmp/quiet.log" 2>&1 || { cat "$tmp/quiet.log" >&2; return 1; }
}

# new_token NAME PATTERNS: prints a new token and appends its line to the
# tokens file, with the CLI when it was built next to the server.
cli=$(dirname "$server")/../client/protomodel
new_token() {
  local token line
  if [ -x "$cli" ]; then
    local json
    json=$("$cli" token "$1" "$2")
    token=$(sed -n 's/.*"token":"\([^"]*\)".*/\1/p' <<<"$json")
    line=$(sed -n 's/.*"line":"\([^"]*\)".*/\1/p' <<<"$json")
  else
    token=$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')
    line="$1 $(printf %s "$token" | sha256sum | cut -d' ' -f1) $2"
  fi
  if [ -z "$token" ] || [ -z "$line" ]; then
    echo "with_server.sh: no token made for $1" >&2
    return 1
  fi
  echo "$line" >>"$tmp/tokens"
  echo "$token"
}

if [ "$secure" = 1 ]; then
  quiet openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$tmp/ca.key" \
    -out "$tmp/ca.crt" -subj "/CN=with_server.sh test CA"
  quiet openssl req -newkey rsa:2048 -nodes -keyout "$tmp/server.key" \
    -out "$tmp/server.csr" -subj /CN=localhost
  printf '%s\n' subjectAltName=DNS:localhost,IP:127.0.0.1 extendedKeyUsage=serverAuth \
    >"$tmp/server.ext"
  quiet openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" \
    -CAcreateserial -days 2 -out "$tmp/server.crt" -extfile "$tmp/server.ext"
  # mTLS: the clients present a certificate from the same CA.
  quiet openssl req -newkey rsa:2048 -nodes -keyout "$tmp/client.key" \
    -out "$tmp/client.csr" -subj /CN=with-server-client
  printf '%s\n' extendedKeyUsage=clientAuth >"$tmp/client.ext"
  quiet openssl x509 -req -in "$tmp/client.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" \
    -CAcreateserial -days 2 -out "$tmp/client.crt" -extfile "$tmp/client.ext"
  token=$(new_token with-server '*')
  reader_token=$(new_token with-server-reader '*/Get*,*/List*')
  flags+=(--tls_cert_file "$tmp/server.crt" --tls_key_file "$tmp/server.key"
          --tls_client_ca_file "$tmp/ca.crt" --auth_tokens_file "$tmp/tokens")
fi

if [ "${PROTOMODEL_TEST_REPLICAS:-1}" = 2 ]; then
  start_server "$server" "$url" "$tmp/replica.log" --log_rpcs=false "${flags[@]}"
  replica_pid=$server_pid
  export PROTOMODEL_TARGET_REPLICA="127.0.0.1:$server_port"
fi
start_server "$server" "$url" "$log" --log_rpcs=false "${flags[@]}"
port=$server_port
export PROTOMODEL_TARGET="127.0.0.1:$port"
if [ "$secure" = 1 ]; then
  export PROTOMODEL_TLS=1 PROTOMODEL_TLS_CA_FILE="$tmp/ca.crt" PROTOMODEL_TOKEN="$token" \
    PROTOMODEL_CLIENT_CERT_FILE="$tmp/client.crt" PROTOMODEL_CLIENT_KEY_FILE="$tmp/client.key" \
    PROTOMODEL_TEST_SECURE_READER_TOKEN="$reader_token"
fi
"$@"
