#!/usr/bin/env bash
# The wire contract cannot break by accident: `buf breaking` compares proto/
# against the committed v1 descriptor set (proto/v1.binpb) with the rules in
# proto/buf.yaml (WIRE_JSON plus RPC and service deletion). Then it proves
# the check has teeth: mutated copies of proto/ (a renumbered, removed,
# retyped or renamed field, a removed RPC) must each fail with the expected
# rule, and additive or source-only changes must pass. Offline: no BSR
# modules, the well-known types are built into buf.
#   tests/proto_breaking_test.sh [PROTO_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
proto=$(cd "${1:-$here/../proto}" && pwd)
baseline=$proto/v1.binpb
buf=$here/tools/node_modules/.bin/buf
if [ ! -x "$buf" ]; then
  echo "SKIP: $buf is missing (scripts/install-tools.sh installs it with npm)"
  exit 77
fi
[ -f "$baseline" ] || { echo "FAIL: no baseline $baseline (make proto-baseline)"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export BUF_CACHE_DIR=$tmp/cache
passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

# breaking DIR [FLAGS]: buf breaking's exit code (0 clean, 100 violations,
# else an error such as a proto that does not compile); its output in $tmp/out.
breaking() {
  local rc=0
  "$buf" breaking "$@" --against "$baseline" >"$tmp/out" 2>&1 || rc=$?
  return "$rc"
}

# The real check.
if breaking "$proto"; then
  ok "proto/ is compatible with the v1 baseline"
else
  rc=$?
  bad "proto/ breaks the v1 contract (buf breaking exit $rc):"
  cat "$tmp/out"
  echo "A deliberate break needs a new package version or 'make proto-baseline';"
  echo "see docs/DEVELOPING.md, \"Changing the contract\"."
fi

# mutant NAME FILE SED_SCRIPT EXPECT: a copy of proto/ with SED_SCRIPT applied
# to FILE, which must change it; EXPECT is "pass" or the buf rule ID the
# check must report (with exit code 100, so a mutant that fails to compile
# does not count as caught).
mutant() {
  local name=$1 file=$2 script=$3 expect=$4 dir=$tmp/$1 rc=0
  cp -r "$proto" "$dir"
  sed -i -e "$script" "$dir/$file"
  if cmp -s "$proto/$file" "$dir/$file"; then
    bad "$name: the mutation no longer applies to $file; update this test"
    return
  fi
  breaking "$dir" --error-format json || rc=$?
  if [ "$expect" = pass ]; then
    if [ "$rc" -eq 0 ]; then ok "$name passes"; else bad "$name: exit $rc, want 0"; cat "$tmp/out"; fi
  elif [ "$rc" -eq 100 ] && grep -q "\"type\":\"$expect\"" "$tmp/out"; then
    ok "$name is caught ($expect)"
  else
    bad "$name: exit $rc, want 100 with $expect"
    cat "$tmp/out"
  fi
}

heroes=heroes/v1/heroes.proto
mutant renumbered_field "$heroes" 's/^\(  string secret_name\) = 3 /\1 = 7 /' \
  FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED
mutant removed_field "$heroes" '/^  optional int32 age = 4 /d' \
  FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED
mutant retyped_field "$heroes" 's/^  optional int32 age = 4 /  optional string age = 4 /' \
  FIELD_WIRE_JSON_COMPATIBLE_TYPE
mutant renamed_field "$heroes" 's/^  string secret_name = 3 /  string alias = 3 /' \
  FIELD_SAME_JSON_NAME
mutant removed_rpc "$heroes" '/^  rpc DeleteHero(/d' RPC_NO_DELETE
mutant added_field "$heroes" '/^message Hero {$/a\  string nickname = 100;' pass
mutant file_option "$heroes" 's/^option cc_enable_arenas = true;/option cc_enable_arenas = false;/' pass

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
