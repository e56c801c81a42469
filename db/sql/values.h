#ifndef PROTOMODEL_DB_SQL_VALUES_H_
#define PROTOMODEL_DB_SQL_VALUES_H_

#include <cstdint>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace protomodel::db {

// The largest value of a `bytes` field: 16 MiB.
inline constexpr size_t kMaxBytesValue = 16 * 1024 * 1024;

// A UUID in 8-4-4-4-12 form (either case), in lower case; INVALID_ARGUMENT
// naming `what` otherwise.
absl::StatusOr<std::string> CanonicalUuid(absl::string_view text,
                                          absl::string_view what);

// An RFC 3339 timestamp with `Z` or an offset, between 0001-01-01 and
// 9999-12-31 (what google.protobuf.Timestamp holds), as microseconds since the
// Unix epoch (truncated toward the past); INVALID_ARGUMENT naming `what`.
absl::StatusOr<int64_t> ParseRfc3339Micros(absl::string_view text,
                                           absl::string_view what);

// Microseconds since the epoch as a `timestamptz` literal PostgreSQL reads
// exactly: "2024-01-02 03:04:05.678901+00".
std::string TimestampParam(int64_t micros);

// Appends the bytes of a `bytea` value in PostgreSQL's hex text output
// ("\x0a1b...") to `out`; false if it is not in that form.
bool DecodeByteaHex(absl::string_view text, std::string* out);

// OK unless `text` holds a NUL character, which PostgreSQL text cannot store.
absl::Status CheckStorableText(absl::string_view text, absl::string_view what);

// `values` as the text of a PostgreSQL array (`{"1","2"}`), each element
// quoted, so any text (commas, braces, quotes, NULL) stays one element.
std::string ArrayLiteral(const std::vector<std::string>& values);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_SQL_VALUES_H_
