#!/usr/bin/env bash
# Generates the Python stubs of proto/ into client/python/generated, or the
# folder given as the first argument (put it on sys.path), and the modules of
# google.rpc's Status and error details (third_party/googleapis: no Debian
# package ships them) that decode the details errors carry. Debian's
# python3-grpc-tools embeds protoc 3.5, which rejects proto3 `optional`, so
# the system protoc runs with gRPC's Python plugin.
#   client/python/generate.sh [OUT [PROTO_ROOT...]]
# Each PROTO_ROOT is a folder of your own protos (for a server started with
# --descriptor_set): the stubs of every .proto under it go into OUT too, its
# imports resolved against the root, proto/ (protomodel/v1/options.proto) and
# /usr/include (the well-known types). E.g. my_protos/library/v1/library.proto
# becomes OUT/library/v1/library_pb2.py and library_pb2_grpc.py.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$here/../..
out=${1:-$here/generated}
shift $(($# > 0 ? 1 : 0))
for proto_root in "$@"; do
  [ -d "$proto_root" ] || { echo "generate.sh: $proto_root is not a folder" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$out"
# stubs ROOT: the stubs of every .proto under ROOT into $out.
stubs() {
  local proto_root=$1 protos
  protos=$(cd "$proto_root" && find . -name '*.proto' | sed 's|^\./||' | sort)
  if [ -z "$protos" ]; then
    echo "generate.sh: no .proto files under $proto_root" >&2
    exit 1
  fi
  # shellcheck disable=SC2086
  protoc -I "$proto_root" -I "$root/proto" -I /usr/include \
    --python_out="$out" --grpc_python_out="$out" \
    --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin \
    $protos
}
stubs "$root/proto"
for proto_root in "$@"; do
  stubs "$proto_root"
done
# Messages only (no services): google/rpc/status_pb2.py and
# error_details_pb2.py. `google` is a namespace package, so google.rpc from
# this folder sits beside Debian's google.protobuf.
protoc -I "$root/third_party/googleapis" -I /usr/include \
  --python_out="$out" \
  google/rpc/status.proto google/rpc/error_details.proto
echo "generated Python stubs in $out" >&2
