#ifndef PROTOMODEL_DB_SQL_SQL_BUILD_H_
#define PROTOMODEL_DB_SQL_SQL_BUILD_H_

#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/sql/params.h"
#include "db/exec/pool.h"
#include "db/schema/schema.h"

namespace protomodel::db {

// The SQL of Table's writes, built from the schema alone, and the binding of a
// message's fields as their parameters. Pure: nothing here needs a database.
// A statement's text depends only on the table, the columns written and
// whether an etag is checked, never on the values (tests/fuzz/ checks this).

// A fresh opaque version for etag columns, on insert (the column default in
// the migration) and on every update.
inline constexpr char kNewVersionSql[] = "gen_random_uuid()::text";

// `time` (a timestamptz or interval) as the microseconds since the epoch
// (or in the interval) Table reads times back as: a bigint.
std::string MicrosSql(absl::string_view time);

// How a statement returns a table's rows.
struct RowForm {
  // Binary results (Statement::binary_results): bytea columns come as raw
  // bytes, every other column as its text.
  bool binary = false;
  // Columns returned as NULL: the caller fills them from what it wrote, so
  // a document of many MiB does not come back over the wire.
  std::vector<const Column*> echoed;
};

// How reads of `table` return rows: binary when it has a bytea column.
RowForm ReadForm(const TableSchema& table);
// How writes of `table` return rows: ReadForm's, each bytea column written
// (of `written`, by column index; every writable one when empty) echoed.
RowForm WriteForm(const TableSchema& table, const std::vector<bool>& written = {});

// The columns in `alias` (or unqualified when empty), in the form Table reads
// them back: timestamps as microseconds since the epoch; in `form`.
std::string SelectList(const std::vector<const Column*>& columns, absl::string_view alias,
                       const RowForm& form = {});

// INSERT of every writable column, `$1`.. in column order (the order
// BindWritable binds them in), RETURNING every column (WriteForm's).
std::string InsertSql(const TableSchema& table);

// InsertSql's row and, in the same statement, its request_id (AIP-155):
// params are InsertSql's, then the request_id and the table's name. A
// request_id already recorded fails the whole statement on
// protomodel_request_ids_pkey, leaving nothing written.
std::string InsertRecordingSql(const TableSchema& table);

// Up to `rows` inserts in one statement, each with its request_id if it has
// one. Params: for each row, BindWritable's, then its request_id (a uuid, or
// NULL); then the table's name, and the number of rows given (the rest,
// all NULL, pad the statement to a size prepared once). With
// `find_recorded`, a row whose request_id is already recorded is not
// inserted: the row that request made comes back instead; without, such a
// row fails the statement on protomodel_request_ids_pkey.
// Keys are drawn before the rows are written, so each returned row is
// matched to its input: the result is the input row's number (1..rows),
// '1' for a row found by its request_id ('0' for one made now), then every
// column (WriteForm's for those made now, ReadForm's for those found).
// One statement, one transaction: any row that breaks a constraint leaves
// nothing written.
std::string InsertBatchSql(const TableSchema& table, size_t rows, bool find_recorded);

// The detailed view's joins to the tables of `table`'s relations, from
// the row aliased "r": each singular relation by a LEFT JOIN, the repeated
// one (at most one) by a LATERAL join, whose key is `order`'s.
struct FullViewJoins {
  std::vector<std::string> select;  // each relation's columns (ReadForm's)
  std::string from;                 // " LEFT JOIN ..." clauses
  std::string order;                // the repeated relation's key, or ""
};
FullViewJoins RelationJoins(const TableSchema& table, bool binary);

// A BatchGet: the rows whose keys are in the array `$1`, once per time a
// key is asked, in its order, with `columns` (ReadForm's) and, with
// `relations`, the detailed view's joins. The result is the key's position
// (1-based), the total size of the large values asked for, and the
// columns. `$2` is the most that total may be: past it, the large values
// come back NULL. The statement's name stands for its text.
Statement BatchGetStatement(const TableSchema& table, const std::vector<const Column*>& columns,
                            bool relations);

// A BatchUpdate of `rows` rows in one statement, writing `columns` (in
// table order; each row writes those its mask says). Params per row: the
// key, the mask (a '0' or '1' for each of `columns`), each column's value
// (BindColumn's, or NULL where not written) and, for a table with an etag,
// the etag the row must carry (NULL: any). Every row is locked first;
// unless every one is there with its etag, nothing is written and nothing
// comes back. The result is the row's number (1..rows), then every column
// as after the update (ReadForm's, but the bytes a row wrote are NULL).
std::string BatchUpdateSql(const TableSchema& table, const std::vector<const Column*>& columns,
                           size_t rows);

// A BatchDelete of the keys in the array `$1` (and, with an etag column,
// the etags in `$2`, '' for none): all of them, or none unless every row is
// there with its etag. The result is the number of rows deleted.
std::string BatchDeleteSql(const TableSchema& table);

// SELECT of every column (ReadForm's) of the rows whose primary key
// is in the array `$1`, in no particular order.
std::string GetManySql(const TableSchema& table);

// Appends the value of `column` in `resource` to `params` (NULL for an unset
// field with presence). INVALID_ARGUMENT about the field (`column.path`) when
// the value cannot be stored (db/sql/codec.h: a NUL in text, a malformed
// UUID, an id <= 0 in a reference, a time out of range, bytes over
// kMaxBytesValue, ...).
absl::Status BindColumn(const google::protobuf::Message& resource, const Column& column,
                        Params* params);

// BindColumn for every writable column, in InsertSql's order.
absl::Status BindWritable(const TableSchema& table,
                          const google::protobuf::Message& resource,
                          Params* params);

// OK unless `etag` cannot be an etag (text with a NUL, which libpq would cut
// short): INVALID_ARGUMENT about the request field `path`.
absl::Status CheckEtag(const std::string& etag, absl::string_view path);

// The UPDATE writing `columns` of `resource` to the row whose primary key is
// `key` (text, already validated), new etag included, RETURNING every column;
// with `etag` (and an etag column), only while the row still carries it.
// Binds `$1` the key, then the columns in table order (the order `columns`
// lists them in and repeats do not matter), then the etag. The statement's
// name is a function of its text, so it is prepared once per connection.
absl::StatusOr<Statement> UpdateStatement(
    const TableSchema& table, const std::string& key,
    const google::protobuf::Message& resource,
    const std::vector<const Column*>& columns,
    const std::optional<std::string>& etag, Params* params);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_SQL_SQL_BUILD_H_
