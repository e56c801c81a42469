#ifndef PROTOMODEL_DB_SQL_FILTER_H_
#define PROTOMODEL_DB_SQL_FILTER_H_

#include <cstdint>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include <google/protobuf/message.h>

#include "absl/status/statusor.h"
#include "db/sql/params.h"
#include "db/schema/schema.h"

namespace protomodel::db {

// Limits on what a caller may send as a filter; past them INVALID_ARGUMENT.
inline constexpr size_t kMaxFilterLength = 8192;  // bytes
inline constexpr int kMaxFilterDepth = 32;        // nested parentheses and NOTs

// A literal in a restriction.
struct FilterValue {
  enum class Kind { kString, kNumber, kBool, kNull, kName };
  Kind kind = Kind::kNull;
  // kString: the unescaped text (without the prefix star); kNumber: the
  // literal as written; kName: a bare name (an enum value's).
  std::string text;
  bool bool_value = false;
  // kString ending in an unescaped `*`: a prefix match.
  bool prefix = false;
};

// `:` is AIP-160's has: on a repeated field, "holds this element".
enum class FilterOp { kEq, kNe, kLt, kLe, kGt, kGe, kHas };

// The parsed filter: AND and OR nodes hold two or more children, NOT one.
struct FilterNode {
  enum class Kind { kAnd, kOr, kNot, kRestriction };
  Kind kind = Kind::kRestriction;
  std::vector<FilterNode> children;
  // kRestriction:
  std::string field;
  FilterOp op = FilterOp::kEq;
  FilterValue value;
};

// Parses the AIP-160 subset of docs/API.md: `field OP value`
// restrictions joined by AND, OR, NOT and parentheses, where NOT binds
// tightest, then OR, then AND. Errors are INVALID_ARGUMENT with a message
// starting "filter: " that names the problem and its byte offset.
absl::StatusOr<FilterNode> ParseFilter(absl::string_view filter);

// Turns a parsed filter into a SQL boolean expression over `table`'s columns
// that is never NULL (two-valued logic: `f != v` and `NOT e` match rows where
// `f` is unset; `< <= > >=` never match them). Every value is appended to
// `params` and referenced as `$n`; no value becomes SQL text. Unknown fields,
// fields that cannot be filtered and type mismatches are INVALID_ARGUMENT.
absl::StatusOr<std::string> CompileFilter(const FilterNode& filter,
                                          const TableSchema& table,
                                          Params* params);

// Whether `row` (a message of `table`'s type) matches `filter`, by the same
// rules as the SQL CompileFilter makes, evaluated in the server: for rows
// the database does not hold any more, or not yet, such as a change's old
// and new values. `filter` must be one CompileFilter accepts for `table`
// (INVALID_ARGUMENT otherwise, as it would say). Text compares by code
// point (COLLATE "C"), a float as the database's `real` does, and a
// restriction on an unset field as two-valued logic says.
absl::StatusOr<bool> MatchFilter(const FilterNode& filter, const TableSchema& table,
                                 const google::protobuf::Message& row);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_SQL_FILTER_H_
