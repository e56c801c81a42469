#!/usr/bin/env bash
# Installs the npm packages the tests use, each pinned by its lockfile: the
# test tools (tests/tools) and the Node.js client's dependencies
# (client/node); Node.js itself from Debian when the machine has none.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v npm >/dev/null 2>&1; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  echo "installing nodejs and npm with apt-get..." >&2
  export DEBIAN_FRONTEND=noninteractive
  log=$(mktemp "${TMPDIR:-/tmp}/protomodel-install-tools.XXXXXX")
  if ! { "${sudo_cmd[@]}" apt-get update -qq &&
         "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends nodejs npm; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-tools: apt-get failed (output above, also in $log)" >&2
    exit 1
  fi
  rm -f "$log"
fi

for dir in "$root/tests/tools" "$root/client/node"; do
  stamp=$dir/node_modules/.package-lock.json
  if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
    echo "installing npm packages into ${dir#"$root"/}/node_modules (npm ci)..." >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
