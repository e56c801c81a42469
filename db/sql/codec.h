#ifndef PROTOMODEL_DB_SQL_CODEC_H_
#define PROTOMODEL_DB_SQL_CODEC_H_

#include <cstdint>
#include <optional>
#include <string>

#include <google/protobuf/message.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/schema/schema.h"
#include "db/sql/filter.h"
#include "db/sql/params.h"
#include "protomodel/v1/page_token.pb.h"

namespace protomodel::db {

// The one encoder of column values. A value comes from a message field, a
// filter literal or a page-token key; whatever its source it is checked and
// turned into SQL text here, and nowhere else.

// One value of a column (one element of a repeated column).
struct Value {
  enum class Kind { kNull, kBool, kInt, kUint, kDouble, kText, kMicros };
  Kind kind = Kind::kNull;
  bool boolean = false;
  int64_t integer = 0;  // kInt: integers and enum numbers; kMicros: times
  uint64_t unsigned_integer = 0;
  double number = 0;
  std::string text;  // strings, UUIDs, bytes, JSON
};

// What a value is for: written to a row, or compared with one (a filter, a
// page token). Only writes must match a column's `pattern`.
enum class ValueUse { kWrite, kCompare };

// Element `index` of a repeated `column` of `message`, or its singular value
// (index -1; unset optional and message fields are kNull). INVALID_ARGUMENT
// naming `what` when the field holds what no column can (a Timestamp or
// Duration out of range).
absl::StatusOr<Value> FieldValue(const google::protobuf::Message& message,
                                 const Column& column, int index, absl::string_view what);

// A filter literal as a value of `column`'s (element) type;
// INVALID_ARGUMENT naming the field when it does not fit.
absl::StatusOr<Value> LiteralValue(const Column& column, const FilterValue& literal);

// A page token's key as a value of `column`; nullopt when it does not fit.
std::optional<Value> KeyToValue(const Column& column, const protomodel::v1::KeyValue& key);
protomodel::v1::KeyValue ValueToKey(const Value& value);

// Checks `value` against `column`'s rules (ids > 0, ranges, UUID form, text
// without NUL, bytes size, the pattern on writes) and appends it to `params`
// in the form PostgreSQL reads; returns its `$n`. INVALID_ARGUMENT naming
// `what` otherwise.
absl::StatusOr<std::string> BindValue(const Column& column, Value value, ValueUse use,
                                      absl::string_view what, Params* params);

// The value of `column` in `message`, bound whole: NULL when unset, an
// array for a repeated column. A bytes field is bound in place
// (Params::AddBinaryView): `message` must outlive `params`' use.
absl::Status BindField(const google::protobuf::Message& message, const Column& column,
                       absl::string_view what, Params* params);

// The value of `column` in `resource` as an error message shows it: numbers,
// text, enum names, RFC 3339 times, durations in seconds, `null`; "" for
// bytes, JSON and lists, which a message does not repeat.
std::string ValueText(const google::protobuf::Message& resource, const Column& column);

// OK unless `size` bytes are over kMaxBytesValue: INVALID_ARGUMENT
// (FIELD_TOO_LARGE) about `what`.
absl::Status CheckBytesSize(size_t size, absl::string_view what);

// Sets `timestamp` (a google.protobuf.Timestamp, generated or dynamic) to
// `micros` since the epoch.
void SetTimestampMicros(google::protobuf::Message* timestamp, int64_t micros);

// Sets `column`'s field of `out` from the text PostgreSQL sent for it (NULL
// clears it), or, when `binary`, a bytea's raw bytes; INTERNAL when the
// value is not what the column holds.
absl::Status ReadColumn(const char* text, size_t size, bool is_null, bool binary,
                        const Column& column, google::protobuf::Message* out);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_SQL_CODEC_H_
