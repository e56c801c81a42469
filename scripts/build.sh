#!/usr/bin/env bash
# CMake's configure and build steps for the Makefile, quietly: their output
# goes to a log in the build folder and is shown only when a step fails. With
# V=1 in the environment it is shown as it comes instead.
#   scripts/build.sh configure BUILD_DIR [CMAKE_ARGS...]
#   scripts/build.sh build BUILD_DIR JOBS [TARGET...]   (default: every target)
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,6p' "$0" >&2; exit 2; }
step=$1
dir=$2
shift 2

say() { echo "$*" >&2; }

# The log without CMake's progress and status lines and make's directory
# lines: what is left is the errors and warnings.
show_failure() {
  local log=$1 what=$2
  grep -Ev '^\[ *[0-9]+%\] (Building|Linking|Built target|Generating|Running|Automatic)|^-- |^g?make(\[[0-9]+\])?: (Entering|Leaving) directory' \
    "$log" >&2 || true
  say "$what failed; the whole output is in $log"
}

case "$step" in
  configure)
    mkdir -p "$dir"
    if [ "${V:-0}" = 1 ]; then
      exec cmake -S . -B "$dir" "$@"
    fi
    say "configuring $dir (cmake)..."
    log=$dir/configure.log
    cmake -S . -B "$dir" "$@" >"$log" 2>&1 || { status=$?; show_failure "$log" configuring; exit "$status"; }
    ;;
  build)
    jobs=${1:-2}
    shift || true
    targets=()
    [ $# -eq 0 ] || targets=(--target "$@")
    if [ "${V:-0}" = 1 ]; then
      exec cmake --build "$dir" -j "$jobs" "${targets[@]}"
    fi
    log=$dir/build.log
    if [ ! -x "$dir/server/protomodel-server" ]; then
      say "building in $dir (the first build takes ~15 min on 2 cores; V=1 shows the compiler's output)..."
    else
      say "building in $dir..."
    fi
    # On a long build, where it has got to, once a minute.
    (
      shown=""
      seconds=0
      while sleep 1; do
        seconds=$((seconds + 1))
        [ $((seconds % 60)) = 0 ] || continue
        percent=$(grep -Eo '^\[ *[0-9]+%\]' "$log" | tail -n 1 | tr -d '[] ' || true)
        if [ -n "$percent" ] && [ "$percent" != "$shown" ]; then
          say "  ... $percent after $((seconds / 60)) min"
          shown=$percent
        fi
      done
    ) &
    ticker=$!
    trap 'kill "$ticker" 2>/dev/null || true' EXIT
    status=0
    cmake --build "$dir" -j "$jobs" "${targets[@]}" >"$log" 2>&1 || status=$?
    if [ "$status" != 0 ]; then
      show_failure "$log" "the build"
      exit "$status"
    fi
    ;;
  *) sed -n '2,6p' "$0" >&2; exit 2 ;;
esac
