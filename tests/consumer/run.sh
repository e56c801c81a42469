#!/usr/bin/env bash
# Installs the client package from the build tree into a prefix, builds this
# out-of-tree consumer against it, and runs it (PROTOMODEL_TARGET set).
#   tests/consumer/run.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
prefix=$build/consumer-install
rm -rf "$prefix" "$build/consumer-build"
cmake --install "$build" --prefix "$prefix" >/dev/null
# CONSUMER_CXX_FLAGS: what the installed libraries need at link time too
# (the sanitizers of a sanitized build).
cmake -S "$here" -B "$build/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CXX_FLAGS="${CONSUMER_CXX_FLAGS:-}" >/dev/null
cmake --build "$build/consumer-build" -j 2 >/dev/null
"$build/consumer-build/consumer"
