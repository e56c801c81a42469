#!/usr/bin/env bash
# Generates the Python stubs of proto/ into client/python/generated, or the
# folder given as the first argument (put it on sys.path). Debian's python3-grpc-tools embeds protoc 3.5, which rejects
# proto3 `optional`, so the system protoc runs with gRPC's Python plugin.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$here/../..
out=${1:-$here/generated}
rm -rf "$out"
mkdir -p "$out"
protos=$(cd "$root/proto" && find . -name '*.proto' | sed 's|^\./||' | sort)
# shellcheck disable=SC2086
protoc -I "$root/proto" -I /usr/include \
  --python_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin \
  $protos
echo "generated Python stubs in $out" >&2
