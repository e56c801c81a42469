#!/usr/bin/env bash
# Generates the Python stubs of proto/ into client/python/generated, or the
# folder given as the first argument (put it on sys.path), and the modules of
# google.rpc's Status and error details (third_party/googleapis: no Debian
# package ships them) that decode the details errors carry. Debian's
# python3-grpc-tools embeds protoc 3.5, which rejects proto3 `optional`, so
# the system protoc runs with gRPC's Python plugin.
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
# Messages only (no services): google/rpc/status_pb2.py and
# error_details_pb2.py. `google` is a namespace package, so google.rpc from
# this folder sits beside Debian's google.protobuf.
protoc -I "$root/third_party/googleapis" -I /usr/include \
  --python_out="$out" \
  google/rpc/status.proto google/rpc/error_details.proto
echo "generated Python stubs in $out" >&2
