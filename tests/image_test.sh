#!/usr/bin/env bash
# Starts the container image (podman with runc) against the test PostgreSQL
# on the host and asks its health service, through a published port, for
# SERVING.
#   tests/image_test.sh IMAGE PG_DIR
set -euo pipefail
image=$1
pg_dir=$2
here=$(cd "$(dirname "$0")" && pwd)
buf=$here/tools/node_modules/.bin/buf
if ! command -v podman >/dev/null 2>&1; then
  echo "SKIP: podman is not installed (make image installs it)"
  exit 77
fi
podman=(podman --storage-driver vfs)
if ! "${podman[@]}" image exists "$image"; then
  echo "FAIL: image $image is missing: run make image first"
  exit 1
fi

"$here/../scripts/pg.sh" start "$pg_dir" auto --fast >/dev/null
db="image_$$"
url=$("$here/../scripts/pg.sh" createdb "$pg_dir" "$db")
pg_port=$(sed -n 's|.*:\([0-9]*\)/.*|\1|p' <<<"$url")
name="protomodel-test-$$"
cleanup() {
  "${podman[@]}" logs "$name" >"${TMPDIR:-/tmp}/$name.log" 2>&1 || true
  "${podman[@]}" rm -f "$name" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# slirp4netns with the host's loopback reachable at 10.0.2.2, where the test
# PostgreSQL listens; the server's port published on a loopback port the
# kernel picks (parallel tests cannot take it), read back with `podman port`.
"${podman[@]}" run -d --name "$name" --runtime runc \
  --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  --network slirp4netns:allow_host_loopback=true \
  --read-only --user 10001:10001 \
  -p 127.0.0.1::50051 \
  -e "DATABASE_URL=postgresql://postgres@10.0.2.2:$pg_port/$db" \
  "$image" --listen=0.0.0.0:50051 --log_format=json >/dev/null

port=$("${podman[@]}" port "$name" 50051/tcp | sed -n 's/.*:\([0-9]*\)$/\1/p' | head -n 1)
if [ -z "$port" ]; then
  echo "FAIL: podman published no port for 50051"
  exit 1
fi
status=""
for _ in $(seq 150); do
  status=$("$buf" curl --protocol grpc --http2-prior-knowledge -d '{"service":""}' \
    "http://127.0.0.1:$port/grpc.health.v1.Health/Check" 2>/dev/null || true)
  grep -q '"SERVING"' <<<"$status" && break
  sleep 0.2
done
if ! grep -q '"SERVING"' <<<"$status"; then
  echo "FAIL: the container never reported SERVING ($status)"
  "${podman[@]}" logs "$name" 2>&1 | tail -20
  exit 1
fi
echo "image: $image answered SERVING on 127.0.0.1:$port"
echo "1 passed, 0 failed"
