#!/usr/bin/env bash
# Your own protos, no rebuild: a proto that is not in the repository is
# compiled into a descriptor set, its migration generated (`schema new`) and
# applied (`migrate`), and the unmodified server binary serves it, described
# and called through reflection (`buf curl`, as grpcurl would) and the CLI,
# with health, errors and their details, and by the Node client (connectTo,
# own_protos_example.js) and the Python one (generate.sh's stubs of the
# folder, example.py's connect) from the .proto files. A set whose method
# fits no verb stops start-up naming the method.
#   tests/own_protos_test.sh SERVER_BINARY PG_DIR CLI_BINARY
set -euo pipefail
server=$1
pg_dir=$2
cli=$3
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../scripts/lib.sh
. "$here/../scripts/lib.sh"
require_buf

test_database "$pg_dir" "own_protos_$$"
work=$(mktemp -d)
log=$work/server.log
server_pid=
cleanup() {
  stop_server || true
  drop_test_database
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$log" ] && { echo "--- server log"; cat "$log"; }; exit 1; }

# A library's catalogue: nothing of it is in this repository.
mkdir -p "$work/protos/library/v1" "$work/migrations"
cat >"$work/protos/library/v1/library.proto" <<'EOF'
syntax = "proto3";
package library.v1;

import "google/protobuf/duration.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
import "protomodel/v1/options.proto";
import "protomodel/v1/watch.proto";

enum Genre {
  GENRE_UNSPECIFIED = 0;
  NOVEL = 1;
  SCIENCE_FICTION = 2;
  MODERNIST = 3;
}

message Size {
  int32 width_mm = 1;
  int32 height_mm = 2;
}

message Book {
  option (protomodel.v1.table) = {name: "book"};
  int64 id = 1 [(protomodel.v1.column) = {primary_key: true generated: KEY_GENERATION_IDENTITY}];
  string title = 2 [(protomodel.v1.column) = {required: true index: true}];
  string isbn = 3 [(protomodel.v1.column) = {unique: true pattern: "[0-9]{13}"}];
  optional int32 pages = 4;
  bool lent = 5;
  double rating = 6;
  google.protobuf.Timestamp added_at = 7 [(protomodel.v1.column) = {server_default: SERVER_DEFAULT_NOW}];
  Genre genre = 8;
  uint64 copies_sold = 9;
  google.protobuf.Duration reading_time = 10;
  google.protobuf.Int32Value edition = 11;
  repeated string tags = 12;
  map<string, string> notes = 13;
  Size size = 14;
  bytes cover = 15;
  uint32 shelf = 16;
  float weight_kg = 17;
}

message CreateBookRequest { Book book = 1; string request_id = 2; }
message GetBookRequest { int64 id = 1; }
message ListBooksRequest {
  int32 page_size = 1;
  string page_token = 2;
  string filter = 3;
  string order_by = 4;
  google.protobuf.FieldMask read_mask = 5;
}
message ListBooksResponse { repeated Book books = 1; string next_page_token = 2; }
message UpdateBookRequest { Book book = 1; google.protobuf.FieldMask update_mask = 2; }
message DeleteBookRequest { int64 id = 1; }
message WatchBooksRequest {
  string filter = 1;
  string resume_token = 2;
  google.protobuf.FieldMask read_mask = 3;
}
message WatchBooksResponse {
  protomodel.v1.ChangeType type = 1;
  Book book = 2;
  string resume_token = 3;
  google.protobuf.Timestamp commit_time = 4;
}

service BookService {
  rpc CreateBook(CreateBookRequest) returns (Book);
  rpc GetBook(GetBookRequest) returns (Book);
  rpc ListBooks(ListBooksRequest) returns (ListBooksResponse);
  rpc UpdateBook(UpdateBookRequest) returns (Book);
  rpc DeleteBook(DeleteBookRequest) returns (google.protobuf.Empty);
  rpc WatchBooks(WatchBooksRequest) returns (stream WatchBooksResponse);
}
EOF
protoc -I "$work/protos" -I "$here/../proto" --include_imports \
  --descriptor_set_out="$work/library.binpb" "$work/protos/library/v1/library.proto"
own=(--descriptor_set "$work/library.binpb" --migrations_dir "$work/migrations")

# The migration, generated from the descriptors against the database, then
# applied: the server's own track and this one.
written=$("$server" schema new library "${own[@]}" --database_url "$url") ||
  fail "schema new failed: $written"
[ "$written" = "$work/migrations/0001_library.sql" ] || fail "schema new wrote $written"
grep -q 'CREATE TABLE "book"' "$written" || fail "the migration lacks the table: $(cat "$written")"
"$server" migrate "${own[@]}" --database_url "$url" >"$work/migrate.log" 2>&1 ||
  fail "migrate failed: $(cat "$work/migrate.log")"
"$server" schema check "${own[@]}" --database_url "$url" >"$work/check.log" 2>&1 ||
  fail "schema check after migrate: $(cat "$work/check.log")"

start_server "$server" "$url" "$log" "${own[@]}"
base="http://127.0.0.1:$server_port"
call() { "$buf" curl --protocol grpc --http2-prior-knowledge "$@"; }

methods=$(call --list-methods "$base")
for m in library.v1.BookService/CreateBook library.v1.BookService/ListBooks grpc.health.v1.Health/Check; do
  grep -qx "$m" <<<"$methods" || fail "reflection does not list $m: $methods"
done
if grep -q heroes.v1 <<<"$methods"; then fail "the built-in services are served too: $methods"; fi

health=$(call -d '{"service":"library.v1.BookService"}' "$base/grpc.health.v1.Health/Check")
grep -q SERVING <<<"$health" || fail "health of library.v1.BookService: $health"

create() { call -d "$1" "$base/library.v1.BookService/CreateBook"; }
dune=$(create '{"book":{"title":"Dune","isbn":"9780441013593","pages":412,"rating":4.5,
  "genre":"SCIENCE_FICTION","copiesSold":"18446744073709551615","readingTime":"36000s",
  "edition":2,"tags":["classic","desert"],"notes":{"shelf":"B2"},"size":{"widthMm":110},
  "cover":"AAEC","shelf":4000000000,"weightKg":0.25}}')
grep -q '"title": "Dune"' <<<"$dune" || fail "CreateBook answered: $dune"
grep -q '"addedAt"' <<<"$dune" || fail "no server-set timestamp: $dune"
id=$(sed -n 's/.*"id": "\([0-9]*\)".*/\1/p' <<<"$dune")
create '{"book":{"title":"Emma","isbn":"9780141439587","lent":true,"rating":3.9,
  "genre":"NOVEL","copiesSold":"7","readingTime":"5400.5s","edition":1,"tags":["classic"],
  "shelf":12,"weightKg":0.5}}' >/dev/null
create '{"book":{"title":"Ulysses","isbn":"9780199535675","pages":730,"rating":3.7,
  "genre":"MODERNIST","copiesSold":"18446744073709551614","readingTime":"90000s",
  "weightKg":1.125}}' >/dev/null

got=$(call -d "{\"id\":$id}" "$base/library.v1.BookService/GetBook")
for want in '"isbn": "9780441013593"' '"genre": "SCIENCE_FICTION"' \
  '"copiesSold": "18446744073709551615"' '"readingTime": "36000s"' '"edition": 2' \
  '"desert"' '"shelf": "B2"' '"widthMm": 110' '"cover": "AAEC"' '"shelf": 4000000000' \
  '"weightKg": 0.25'; do
  grep -qF "$want" <<<"$got" || fail "GetBook lacks $want: $got"
done

list() { call -d "$1" "$base/library.v1.BookService/ListBooks"; }
titles() { { grep -o '"title": "[A-Za-z]*"' || true; } | sed 's/"title": //; s/"//g' | tr '\n' ' '; }
for case in \
  '{"filter":"pages > 500"}|Ulysses ' \
  '{"filter":"pages = null"}|Emma ' \
  '{"filter":"lent = true"}|Emma ' \
  '{"filter":"rating >= 3.8","order_by":"rating desc"}|Dune Emma ' \
  '{"filter":"title = \"D*\" OR isbn = \"9780199535675\"","order_by":"title"}|Dune Ulysses ' \
  '{"filter":"added_at > \"2000-01-01T00:00:00Z\"","order_by":"id"}|Dune Emma Ulysses ' \
  '{"filter":"added_at = null"}|' \
  '{"filter":"added_at != null AND pages = null"}|Emma ' \
  '{"filter":"genre = NOVEL OR genre = \"MODERNIST\"","order_by":"genre desc"}|Ulysses Emma ' \
  '{"filter":"genre > NOVEL","order_by":"genre"}|Dune Ulysses ' \
  '{"filter":"copies_sold >= 18446744073709551614","order_by":"copies_sold desc"}|Dune Ulysses ' \
  '{"filter":"reading_time < \"5400.6s\""}|Emma ' \
  '{"filter":"reading_time > \"36000s\""}|Ulysses ' \
  '{"filter":"edition = null"}|Ulysses ' \
  '{"filter":"edition >= 1","order_by":"edition desc"}|Dune Emma ' \
  '{"filter":"tags:\"classic\"","order_by":"title"}|Dune Emma ' \
  '{"filter":"NOT tags:\"desert\"","order_by":"title"}|Emma Ulysses ' \
  '{"filter":"size != null"}|Dune ' \
  '{"filter":"shelf > 100"}|Dune ' \
  '{"filter":"weight_kg = 1.125"}|Ulysses ' \
  '{"order_by":"weight_kg desc"}|Ulysses Emma Dune '; do
  request=${case%%|*}
  want=${case#*|}
  have=$(list "$request" | titles)
  [ "$have" = "$want" ] || fail "ListBooks $request gave '$have', want '$want'"
done
page=$(list '{"page_size":2,"order_by":"title desc","read_mask":"title"}')
grep -q nextPageToken <<<"$page" || fail "no page token: $page"
if grep -q isbn <<<"$page"; then fail "read_mask ignored: $page"; fi

# The CLI learns the resources through reflection: no local protos.
protomodel() { "$cli" --target="127.0.0.1:$server_port" "$@"; }
help=$(protomodel books --help) || fail "books --help: $help"
grep -q 'library.v1.Book' <<<"$help" || fail "books --help: $help"
grep -q -- '--isbn *string *unique' <<<"$help" || fail "books --help lacks isbn: $help"
# A watch of the user's table (its triggers came with migrate), through
# the CLI, while the book below is made.
timeout 6 "$cli" --target="127.0.0.1:$server_port" books watch --filter='pages > 800' \
  --read-mask=title >"$work/watch.jsonl" 2>"$work/watch.err" &
watch_pid=$!
for _ in $(seq 1 100); do
  grep -q SYNCED "$work/watch.jsonl" 2>/dev/null && break
  sleep 0.05
done
grep -q SYNCED "$work/watch.jsonl" || fail "books watch: no SYNCED: $(cat "$work/watch.err")"
made=$(protomodel books create --title=Middlemarch --isbn=9780141439549 --pages=880 \
  --genre=novel --tags=victorian,provincial --reading-time=1.5s --copies-sold=18446744073709551615 \
  --edition=3 --notes='{"room":"A"}' --size='{"width_mm":130}') || fail "books create: $made"
for want in '"title": "Middlemarch"' '"genre": "NOVEL"' '"provincial"' '"reading_time": "1.500s"' \
  '"copies_sold": "18446744073709551615"' '"edition": 3' '"room": "A"' '"width_mm": 130'; do
  grep -qF "$want" <<<"$made" || fail "books create lacks $want: $made"
done
grep -q -- '--tags *repeated string *a,b,c or JSON' <<<"$help" || fail "books --help lacks tags: $help"
for _ in $(seq 1 100); do
  grep -q ADDED "$work/watch.jsonl" && break
  sleep 0.05
done
grep -q '"type":"ADDED","book":{"id":"[0-9]*","title":"Middlemarch"}' "$work/watch.jsonl" ||
  fail "books watch: $(cat "$work/watch.jsonl" "$work/watch.err")"
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
have=$(protomodel books list --filter='tags:"victorian"' --all | titles)
[ "$have" = "Middlemarch " ] || fail "books list tags:victorian gave '$have'"
have=$(protomodel books list --filter='pages > 800' --order-by=title --all | titles)
[ "$have" = "Middlemarch " ] || fail "books list gave '$have'"
if bad=$(protomodel books create --isbn=1 2>&1); then fail "books create without a title: $bad"; fi
grep -q 'INVALID_ARGUMENT: book.title is required' <<<"$bad" || fail "books create: $bad"
if bad=$(protomodel heroes list 2>&1); then fail "the CLI found heroes: $bad"; fi
grep -q "unknown resource 'heroes' (books)" <<<"$bad" || fail "heroes list: $bad"

updated=$(call -d "{\"book\":{\"id\":$id,\"pages\":896},\"update_mask\":\"pages\"}" \
  "$base/library.v1.BookService/UpdateBook")
grep -q '"pages": 896' <<<"$updated" || fail "UpdateBook answered: $updated"

# Errors: the contract's codes, with details naming the field.
if bad=$(create '{"book":{"isbn":"9780000000000"}}' 2>&1); then fail "a book without a title: $bad"; fi
grep -q invalid_argument <<<"$bad" || fail "no title answered: $bad"
grep -q 'book.title is required' <<<"$bad" || fail "no title answered: $bad"
if bad=$(create '{"book":{"title":"X","isbn":"12"}}' 2>&1); then fail "a short isbn: $bad"; fi
grep -q 'book.isbn: must match' <<<"$bad" || fail "a short isbn answered: $bad"
if bad=$(create '{"book":{"title":"Again","isbn":"9780441013593"}}' 2>&1); then
  fail "a second book with an isbn: $bad"
fi
grep -q already_exists <<<"$bad" || fail "a repeated isbn answered: $bad"
if bad=$(list '{"filter":"colour = \"red\""}' 2>&1); then fail "an unknown field: $bad"; fi
grep -q invalid_argument <<<"$bad" || fail "an unknown filter field answered: $bad"
for case in 'genre = POETRY|has no value named' 'genre = 1|compared by value name' \
  'reading_time < "10h"|is a duration' 'copies_sold > -1|is an unsigned integer' \
  'tags = "classic"|only' 'notes = null|has no presence' 'size = "x"|cannot be filtered'; do
  filter=${case%%|*}
  if bad=$(list "{\"filter\":\"${filter//\"/\\\"}\"}" 2>&1); then fail "filter $filter: $bad"; fi
  grep -q invalid_argument <<<"$bad" && grep -q "${case#*|}" <<<"$bad" || fail "filter $filter: $bad"
done

call -d "{\"id\":$id}" "$base/library.v1.BookService/DeleteBook" >/dev/null
if bad=$(call -d "{\"id\":$id}" "$base/library.v1.BookService/GetBook" 2>&1); then
  fail "a deleted book: $bad"
fi
grep -q not_found <<<"$bad" || fail "GetBook after delete answered: $bad"

# The Node and Python clients, from the same .proto files: Node loads them
# at run time (connectTo), Python from stubs generate.sh makes of the folder.
node_client=$here/../client/node
[ -d "$node_client/node_modules/@grpc/grpc-js" ] ||
  fail "$node_client/node_modules is missing: run make tools"
clients() {
  env -u PROTOMODEL_TOKEN -u PROTOMODEL_TLS -u PROTOMODEL_TLS_CA_FILE \
    -u PROTOMODEL_CLIENT_CERT_FILE -u PROTOMODEL_CLIENT_KEY_FILE \
    PROTOMODEL_TARGET="127.0.0.1:$server_port" PROTOS="$work/protos" "$@"
}
cat >"$work/books.js" <<'EOF'
const assert = require('node:assert');
const { connectTo, call, newRequestId, errorDetails, status } = require(process.argv[2]);

async function main() {
  const clients = connectTo(process.env.PROTOMODEL_TARGET,
    { files: ['library/v1/library.proto'], includeDirs: [process.env.PROTOS] });
  assert.deepStrictEqual(Object.keys(clients), ['library.v1.BookService']);
  const books = clients['library.v1.BookService'];
  const persuasion = await call(books, 'CreateBook', {
    book: { title: 'Persuasion', isbn: '9780141439686', pages: 249, rating: 4.1 },
    request_id: newRequestId(),
  });
  assert.strictEqual(persuasion.title, 'Persuasion');
  assert.strictEqual(persuasion.pages, 249);
  assert.match(persuasion.id, /^[0-9]+$/);
  assert.ok(Number(persuasion.added_at.seconds) > 0, 'no server-set added_at');
  const northanger = await call(books, 'CreateBook', {
    book: { title: 'Northanger Abbey', isbn: '9780141439792', lent: true },
    request_id: newRequestId(),
  });
  const page = await call(books, 'ListBooks', {
    filter: 'isbn = "9780141439686" OR isbn = "9780141439792"', order_by: 'title',
  });
  assert.deepStrictEqual(page.books.map((b) => [b.id, b.title, b.lent || false]),
    [[northanger.id, 'Northanger Abbey', true], [persuasion.id, 'Persuasion', false]]);
  await assert.rejects(call(books, 'CreateBook', { book: { isbn: '9780000000001' } }), (error) => {
    assert.strictEqual(error.code, status.INVALID_ARGUMENT);
    assert.strictEqual(error.details, 'book.title is required');
    assert.strictEqual(errorDetails(error).badRequest.field_violations[0].field, 'book.title');
    return true;
  });
  books.close();
  console.log('node: created and listed', page.books.map((b) => b.title).join(', '));
}
main().catch((error) => { console.error(error); process.exit(1); });
EOF
out=$(clients node "$work/books.js" "$node_client" 2>&1) || fail "the Node client: $out"
grep -qx 'node: created and listed Northanger Abbey, Persuasion' <<<"$out" || fail "the Node client: $out"
example() { clients node "$node_client/own_protos_example.js" -I "$work/protos" library/v1/library.proto "$@"; }
out=$(example 2>&1) || fail "own_protos_example.js: $out"
grep -qx library.v1.BookService/CreateBook <<<"$out" || fail "own_protos_example.js lists: $out"
out=$(example library.v1.BookService/ListBooks '{"filter":"isbn = \"9780141439686\""}' 2>&1) ||
  fail "own_protos_example.js ListBooks: $out"
grep -q '"title": "Persuasion"' <<<"$out" || fail "own_protos_example.js ListBooks: $out"
if out=$(example library.v1.BookService/GetBook "{\"id\":\"$id\"}" 2>&1); then
  fail "own_protos_example.js got a deleted book: $out"
fi
grep -q '^NOT_FOUND: ' <<<"$out" || fail "own_protos_example.js GetBook of a deleted book: $out"

"$here/../client/python/generate.sh" "$work/py" "$work/protos" 2>"$work/generate.log" ||
  fail "generate.sh: $(cat "$work/generate.log")"
[ -f "$work/py/library/v1/library_pb2_grpc.py" ] || fail "generate.sh made no library stubs: $(ls -R "$work/py")"
cat >"$work/books.py" <<'EOF'
import os
import sys
import uuid

sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
from library.v1 import library_pb2, library_pb2_grpc  # noqa: E402

sys.path.append(sys.argv[2])
from example import connect, error_details  # noqa: E402

with connect([library_pb2.DESCRIPTOR]) as channel:
    books = library_pb2_grpc.BookServiceStub(channel)
    made = books.CreateBook(library_pb2.CreateBookRequest(
        book=library_pb2.Book(title="Mansfield Park", isbn="9780141439808", pages=507),
        request_id=str(uuid.uuid4())), timeout=10)
    assert made.id > 0 and made.title == "Mansfield Park", made
    assert made.added_at.seconds > 0, made
    got = books.GetBook(library_pb2.GetBookRequest(id=made.id), timeout=10)
    assert (got.id, got.title, got.isbn, got.pages) == (
        made.id, "Mansfield Park", "9780141439808", 507), got
    assert got.HasField("pages") and not got.lent, got
    try:
        books.CreateBook(library_pb2.CreateBookRequest(
            book=library_pb2.Book(isbn="9780000000002")), timeout=10)
        sys.exit("a book without a title was created")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
        assert error.details() == "book.title is required", error
        details = error_details(error)
        assert details["error_info"].reason == "REQUIRED_FIELD", details
        assert details["bad_request"].field_violations[0].field == "book.title", details
    try:
        books.GetBook(library_pb2.GetBookRequest(id=int(os.environ["DELETED_ID"])), timeout=10)
        sys.exit("a deleted book was found")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.NOT_FOUND, error
    print("python: created and got", got.title)
EOF
out=$(DELETED_ID=$id clients /usr/bin/python3 "$work/books.py" "$work/py" "$here/../client/python" 2>&1) ||
  fail "the Python client: $out"
grep -qx 'python: created and got Mansfield Park' <<<"$out" || fail "the Python client: $out"

stop_server || fail "server exited non-zero after SIGTERM"
grep -q "rpc method=library.v1.BookService/CreateBook code=OK" "$log" || fail "no RPC log line"

# A method that fits no verb stops start-up, naming the method and the field.
sed -i 's/message GetBookRequest { int64 id = 1; }/message GetBookRequest { int64 id = 1; string colour = 2; }/' \
  "$work/protos/library/v1/library.proto"
protoc -I "$work/protos" -I "$here/../proto" --include_imports \
  --descriptor_set_out="$work/misfit.binpb" "$work/protos/library/v1/library.proto"
if "$server" --listen 127.0.0.1:0 --database_url "$url" --descriptor_set "$work/misfit.binpb" \
  >"$work/misfit.log" 2>&1; then
  fail "the server started with a misfit method"
fi
grep -q 'library.v1.BookService/GetBook' "$work/misfit.log" || fail "start-up did not name the method: $(cat "$work/misfit.log")"
grep -q 'library.v1.GetBookRequest.colour' "$work/misfit.log" || fail "start-up did not name the field: $(cat "$work/misfit.log")"
echo "1 passed, 0 failed"
