#!/usr/bin/env bash
# make fuzz: builds the libFuzzer targets (tests/fuzz) with clang in
# build-fuzz and runs each over its corpus; no database needed.
#
# The committed seeds (tests/fuzz/corpus/<target>) are copied into a working
# corpus, build-fuzz/corpus/<target>, which keeps what runs find; inputs that
# crash, leak, time out or break a property go to
# build-fuzz/artifacts/<target>/, and the script then exits 1. To keep one
# as a regression seed, copy it into tests/fuzz/corpus/<target>/.
#   FUZZ_SECONDS    seconds per target (default 60)
#   FUZZ_TARGETS    targets to run (default: filter order_by page_token mapper)
#   FUZZ_BUILD_DIR  build folder (default build-fuzz)
#   JOBS            parallel build jobs (default 2)
# Reproduce a failure: build-fuzz/tests/fuzz/fuzz_<target> <artifact file>.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FUZZ_BUILD_DIR:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
read -r -a targets <<<"${FUZZ_TARGETS:-filter order_by page_token mapper}"

scripts/install-deps.sh
# CC/CXX count only when the folder is first configured.
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPROTOMODEL_FUZZ=ON -DPROTOMODEL_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target protomodel_fuzzers

failed=()
summary=()
for target in "${targets[@]}"; do
  binary=$build/tests/fuzz/fuzz_$target
  seeds=tests/fuzz/corpus/$target
  work=$build/corpus/$target
  artifacts=$build/artifacts/$target
  log=$build/fuzz-$target.log
  [ -x "$binary" ] && [ -d "$seeds" ] || { echo "fuzz: no target '$target'" >&2; exit 64; }
  mkdir -p "$work" "$artifacts"
  for seed in "$seeds"/*; do
    [ -e "$work/${seed##*/}" ] || cp "$seed" "$work/"
  done
  dict=()
  [ -f "tests/fuzz/$target.dict" ] && dict=(-dict="tests/fuzz/$target.dict")
  echo "fuzz: $target for ${seconds}s (log: $log)"
  status=0
  "$binary" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" >"$log" 2>&1 || status=$?
  stats=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1 || true)
  rate=$(sed -n 's/^stat::average_exec_per_sec:[[:space:]]*//p' "$log")
  summary+=("$target: ${rate:-?} exec/s; ${stats:-no stats}")
  if [ "$status" -ne 0 ]; then
    failed+=("$target")
    grep -E -A3 'fuzz property violated|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error' "$log" \
      | head -n 20 >&2 || true
    ls -1 "$artifacts" >&2
  fi
done

printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}; inputs in $build/artifacts/" >&2
  exit 1
fi
echo "fuzz: no crash, leak or property violation"
