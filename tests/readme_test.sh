#!/usr/bin/env bash
# Runs README.md's snippets as written, against a running server: every
# ```sh block with bash -eu -o pipefail, every ```python block with
# /usr/bin/python3 and every ```js block with node, each on its own, in
# order, from a copy of the repository's root; any error fails the test.
#   tests/with_server.sh SERVER PG_DIR tests/readme_test.sh BUILD_DIR [README]
#
# - A block whose fence line is preceded by `<!-- readme-test: skip: WHY -->`
#   is not run (it blocks, like `make run`, or needs files or a database the
#   test does not have); other languages (cmake, cpp, proto, console, plain
#   text) are not run either. The test lists every block and what it did.
# - `localhost:50051` in a block becomes the test server's address
#   (PROTOMODEL_TARGET, which with_server.sh sets).
# - grpcurl is not packaged in Debian: a `grpcurl` on PATH translates the
#   README's usage (-plaintext, -d, -H, HOST:PORT, list [SERVICE],
#   SERVICE/METHOD) to `buf curl` from tests/tools (make tools).
# - The copy of the root is a folder of symbolic links to the repository's
#   files, with `build` pointing at BUILD_DIR, and client/python/generated
#   (which `make python-client` writes) its own, so nothing is written into
#   the source tree.
set -euo pipefail
build_dir=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
readme=${2:-$root/README.md}
target=${PROTOMODEL_TARGET:?run me through tests/with_server.sh}
buf=$root/tests/tools/node_modules/.bin/buf
[ -x "$buf" ] || { echo "FAIL: $buf is missing: run make tools"; exit 1; }

tmp=$(mktemp -d)
# The block running, as the pid of the `timeout` that runs it: timeout makes
# a process group of its own and passes a TERM on to all of it, so nothing a
# block started outlives the test.
block_pid=
cleanup() {
  if [ -n "$block_pid" ]; then
    kill -TERM "$block_pid" 2>/dev/null || true
    wait "$block_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP
ws=$tmp/root
blocks=$tmp/blocks

# The copy of the root: DIR's entries linked into COPY, except those named in
# the rest of the arguments (paths relative to the root), which become
# folders of their own, filled the same way.
mirror() {
  local from=$1 to=$2
  shift 2
  mkdir -p "$to"
  local entry name rel own
  for entry in "$from"/* "$from"/.[!.]*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    name=${entry##*/}
    rel=${entry#"$root"/}
    case "$rel" in .git | .data | build | build-*) continue ;; esac
    own=0
    for path in "$@"; do
      [ "$path" = "$rel" ] && own=1
      case "$path" in "$rel"/*) own=1 ;; esac
    done
    if [ "$own" = 1 ] && [ -d "$entry" ]; then
      mirror "$entry" "$to/$name" "$@"
    else
      ln -s "$entry" "$to/$name"
    fi
  done
}
mirror "$root" "$ws" client/python/generated
rm -f "$ws/client/python/generated"
ln -s "$build_dir" "$ws/build"

# grpcurl, as far as the README uses it, with buf curl.
mkdir -p "$tmp/bin"
cat >"$tmp/bin/grpcurl" <<EOF
#!/usr/bin/env bash
# readme_test.sh's stand-in for grpcurl: buf curl, which speaks the same
# reflection protocol.
set -euo pipefail
args=(--protocol grpc)
scheme=
while [ \$# -gt 0 ]; do
  case "\$1" in
    -plaintext) scheme=http; args+=(--http2-prior-knowledge) ;;
    -d) args+=(-d "\$2"); shift ;;
    -H) args+=(-H "\$2"); shift ;;
    -*) echo "grpcurl (readme_test.sh): \$1 is not translated to buf curl" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
[ -n "\$scheme" ] || { echo "grpcurl (readme_test.sh): only -plaintext is translated" >&2; exit 2; }
[ \$# -ge 1 ] || { echo "grpcurl (readme_test.sh): want HOST:PORT" >&2; exit 2; }
address=\$1
shift
case "\${1:-list}" in
  list)
    if [ \$# -ge 2 ]; then
      exec "$buf" curl "\${args[@]}" --list-methods "\$scheme://\$address/\$2"
    fi
    exec "$buf" curl "\${args[@]}" --list-services "\$scheme://\$address" ;;
  */*) exec "$buf" curl "\${args[@]}" "\$scheme://\$address/\$1" ;;
  *) echo "grpcurl (readme_test.sh): '\$1' is not translated to buf curl" >&2; exit 2 ;;
esac
EOF
chmod +x "$tmp/bin/grpcurl"
export PATH="$tmp/bin:$PATH"
# As a user's shell: no make of ours around the README's `make`.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

# The fenced blocks: one file each, and an index line per block:
# NUMBER<TAB>LINE<TAB>LANGUAGE<TAB>run|skip<TAB>WHY
mkdir -p "$blocks"
/usr/bin/python3 - "$readme" "$blocks" "$target" <<'EOF'
import re, sys
readme, out, target = sys.argv[1:]
lines = open(readme, encoding="utf-8").read().split("\n")
run = {"sh": "sh", "python": "py", "js": "js"}
index = []
i = 0
while i < len(lines):
    m = re.match(r"^(\s*)(```+|~~~+)\s*([\w+-]*)", lines[i])
    if not m:
        i += 1
        continue
    indent, fence, lang = m.group(1), m.group(2), m.group(3)
    start = i + 1
    body = []
    i += 1
    while i < len(lines) and not lines[i].strip().startswith(fence):
        line = lines[i]
        body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
        i += 1
    i += 1
    n = len(index) + 1
    before = lines[start - 2].strip() if start >= 2 else ""
    skip = re.match(r"<!--\s*readme-test:\s*skip:?\s*(.*?)\s*-->$", before)
    if skip:
        status, why = "skip", skip.group(1) or "marked skip"
    elif lang in run:
        status, why = "run", ""
    else:
        status, why = "skip", "%s is not run" % (lang or "plain text")
    text = "\n".join(body) + "\n"
    if status == "run":
        text = text.replace("localhost:50051", target)
    with open("%s/%d.%s" % (out, n, run.get(lang, "txt")), "w", encoding="utf-8") as f:
        f.write(text)
    index.append("%d\t%d\t%s\t%s\t%s" % (n, start, lang or "-", status, why))
with open(out + "/index", "w") as f:
    f.write("\n".join(index) + "\n")
EOF

ran=() skipped=() failed=()
declare -A ran_lang=()
while IFS=$'\t' read -r n line lang action why; do
  where="README.md:$line ($lang)"
  if [ "$action" = skip ]; then
    skipped+=("$where: $why")
    continue
  fi
  echo "=== $where"
  sed 's/^/    | /' "$blocks/$n".*
  case "$lang" in
    sh) cmd=(bash -eu -o pipefail "$blocks/$n.sh") ;;
    python) cmd=(/usr/bin/python3 "$blocks/$n.py") ;;
    # In the root, as a file there would be: require('./client/node').
    js) cp "$blocks/$n.js" "$ws/readme_test_block_$n.js"
        cmd=(node "$ws/readme_test_block_$n.js") ;;
  esac
  (cd "$ws" && exec timeout 300 "${cmd[@]}") >"$tmp/out" 2>&1 </dev/null &
  block_pid=$!
  rc=0
  wait "$block_pid" || rc=$?
  block_pid=
  sed 's/^/    > /' "$tmp/out"
  if [ "$rc" = 0 ]; then
    echo "--- ok"
    ran+=("$where")
    ran_lang[$lang]=1
  else
    echo "--- FAILED (exit $rc)"
    failed+=("$where")
  fi
done <"$blocks/index"

echo
echo "ran ${#ran[@]} blocks:"
for b in "${ran[@]}"; do echo "  $b"; done
echo "skipped ${#skipped[@]} blocks:"
for b in "${skipped[@]}"; do echo "  $b"; done
# The test proves nothing if the README's fences changed under it.
for lang in sh python js; do
  [ -n "${ran_lang[$lang]:-}" ] || failed+=("no $lang block ran")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED:"
  for b in "${failed[@]}"; do echo "  $b"; done
  exit 1
fi
echo "${#ran[@]} passed, 0 failed"
