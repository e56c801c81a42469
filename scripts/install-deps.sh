#!/usr/bin/env bash
# Installs the Debian 12 packages protomodel needs to build, test and run.
# Idempotent: does nothing when every package is already present.
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libpqxx-dev libpq-dev libabsl-dev libspdlog-dev libfmt-dev libssl-dev
  libgtest-dev libgmock-dev prometheus-cpp-dev openssl
  clang clang-14 libclang-rt-14-dev
  postgresql-15 postgresql-client-15 pgbouncer
  python3 python3-grpcio python3-protobuf
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing packages with apt-get (a few minutes): ${missing[*]}..." >&2
if [ "$(id -u)" -eq 0 ]; then
  sudo_cmd=()
else
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# apt's output only when it fails.
log=$(mktemp "${TMPDIR:-/tmp}/protomodel-install-deps.XXXXXX")
if ! { "${sudo_cmd[@]}" apt-get update -qq &&
       "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-deps: apt-get failed (output above, also in $log)" >&2
  exit 1
fi
rm -f "$log"
