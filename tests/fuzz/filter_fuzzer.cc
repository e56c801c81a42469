// fuzz_filter: the AIP-160 filter parser and compiler (db/filter.h).
//
// The input is a filter. It is parsed, then compiled against every table.
// Checked besides crashes, leaks and undefined behaviour:
//  - errors are INVALID_ARGUMENT starting "filter: "; syntax errors name an
//    offset inside the input;
//  - the parse tree is well formed (AND/OR two or more children, NOT one);
//  - the SQL has the shape of a statement with only `$n` placeholders, each
//    parameter used (fuzz_common.h);
//  - each parameter holds exactly the literal it stands for (a number binds
//    the same number, a timestamp the same instant);
//  - values never reach the SQL text: the same filter with every literal
//    replaced by another valid one of the same kind compiles to the same SQL,
//    which contains none of those replacement values.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "db/sql/filter.h"
#include "db/sql/values.h"
#include "fuzz_common.h"

namespace protomodel::fuzz {
namespace {

using db::Column;
using db::ColumnType;
using db::FilterNode;
using db::FilterValue;

constexpr absl::string_view kTimeA = "2101-02-03T04:05:06.789012Z";
constexpr absl::string_view kTimeB = "2101-02-03T04:05:07.789012Z";

void CheckError(const absl::Status& status, size_t input_size, bool parse) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument, status.ToString());
  FUZZ_CHECK(absl::StartsWith(status.message(), "filter: "), status.ToString());
  if (!parse || absl::StrContains(status.message(), "longer than the limit")) return;
  const size_t at = status.message().rfind(" at offset ");
  FUZZ_CHECK(at != absl::string_view::npos, status.ToString());
  size_t offset = 0;
  FUZZ_CHECK(absl::SimpleAtoi(status.message().substr(at + 11), &offset) &&
                 offset <= input_size,
             status.ToString());
}

void CheckTree(const FilterNode& node, int depth) {
  FUZZ_CHECK(depth <= 3 * (db::kMaxFilterDepth + 1), "tree deeper than the limit allows");
  switch (node.kind) {
    case FilterNode::Kind::kAnd:
    case FilterNode::Kind::kOr:
      FUZZ_CHECK(node.children.size() >= 2, "AND/OR with fewer than two children");
      break;
    case FilterNode::Kind::kNot:
      FUZZ_CHECK(node.children.size() == 1, "NOT without exactly one child");
      break;
    case FilterNode::Kind::kRestriction:
      FUZZ_CHECK(node.children.empty() && !node.field.empty(), node.field);
      return;
  }
  for (const FilterNode& child : node.children) CheckTree(child, depth + 1);
}

// The LIKE pattern a prefix match binds, as filter.cc documents it.
std::string LikePattern(absl::string_view prefix) {
  std::string pattern;
  for (char c : prefix) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';
    pattern += c;
  }
  return pattern + "%";
}

// Walks the restrictions in the order CompileFilter binds them and checks
// each parameter against its literal. `next` is the next parameter's index.
void CheckParams(const FilterNode& node, const db::TableSchema& table,
                 const std::vector<Param>& params, size_t* next) {
  if (node.kind != FilterNode::Kind::kRestriction) {
    for (const FilterNode& child : node.children) CheckParams(child, table, params, next);
    return;
  }
  const FilterValue& value = node.value;
  if (value.kind == FilterValue::Kind::kNull) return;
  const Column* column = table.FindColumn(node.field);
  FUZZ_CHECK(column != nullptr && *next < params.size(), node.field);
  const Param& param = params[(*next)++];
  FUZZ_CHECK(!param.null && !param.binary, node.field);
  const std::string& bound = param.value;
  if (value.prefix) {
    FUZZ_CHECK(bound == LikePattern(value.text), bound);
    return;
  }
  switch (column->type) {
    case ColumnType::kBool:
      FUZZ_CHECK(bound == (value.bool_value ? "true" : "false"), bound);
      break;
    case ColumnType::kInt32:
    case ColumnType::kInt64: {
      int64_t literal = 0, parsed = 0;
      FUZZ_CHECK(absl::SimpleAtoi(value.text, &literal) &&
                     absl::SimpleAtoi(bound, &parsed) && literal == parsed,
                 absl::StrCat(value.text, " bound as ", bound));
      break;
    }
    case ColumnType::kFloat:
    case ColumnType::kDouble: {
      double literal = 0, parsed = 0;
      FUZZ_CHECK(absl::SimpleAtod(value.text, &literal) && absl::SimpleAtod(bound, &parsed) &&
                     (literal == parsed || (std::isnan(literal) && std::isnan(parsed))),
                 absl::StrCat(value.text, " bound as ", bound));
      break;
    }
    case ColumnType::kString:
      FUZZ_CHECK(bound == value.text, bound);
      break;
    case ColumnType::kUuid:
      FUZZ_CHECK(bound == absl::AsciiStrToLower(value.text), bound);
      break;
    case ColumnType::kTimestamp: {
      // RFC 3339 has four-digit years; the instant must survive the trip.
      absl::StatusOr<int64_t> micros = db::ParseRfc3339Micros(value.text, "");
      FUZZ_CHECK(micros.ok(), value.text);
      absl::Time back;
      std::string error;
      FUZZ_CHECK(absl::ParseTime("%Y-%m-%d %H:%M:%E*S+00", bound, absl::UTCTimeZone(),
                                 &back, &error) &&
                     absl::ToUnixMicros(back) == *micros,
                 absl::StrCat(value.text, " bound as ", bound));
      const absl::CivilSecond civil = absl::ToCivilSecond(back, absl::UTCTimeZone());
      FUZZ_CHECK(civil.year() >= 1 && civil.year() <= 9999,
                 absl::StrCat(value.text, " bound as ", bound));
      break;
    }
    case ColumnType::kBytes:
      Fail("bytes are not filterable", node.field);
    default:  // the built-in resources have no other types
      Fail("unexpected column type", node.field);
  }
}

// Replaces every literal by another valid one of the same kind for its column.
void ReplaceLiterals(FilterNode* node, const db::TableSchema& table) {
  if (node->kind != FilterNode::Kind::kRestriction) {
    for (FilterNode& child : node->children) ReplaceLiterals(&child, table);
    return;
  }
  FilterValue& value = node->value;
  const Column* column = table.FindColumn(node->field);
  auto other = [&](absl::string_view a, absl::string_view b) {
    value.text = std::string(value.text == a ? b : a);
  };
  switch (value.kind) {
    case FilterValue::Kind::kNull:
    case FilterValue::Kind::kName:  // enum names: no built-in column is an enum
      return;
    case FilterValue::Kind::kBool:
      value.bool_value = !value.bool_value;
      return;
    case FilterValue::Kind::kNumber:
      if (column->type == ColumnType::kFloat || column->type == ColumnType::kDouble) {
        other("4242.5", "4243.5");
      } else {
        other("424242", "424243");
      }
      return;
    case FilterValue::Kind::kString:
      if (column->type == ColumnType::kUuid) {
        other(kSentinelUuid[0], kSentinelUuid[1]);
      } else if (column->type == ColumnType::kTimestamp) {
        other(kTimeA, kTimeB);
      } else {
        other(kSentinel[0], kSentinel[1]);
      }
      return;
  }
}

void CompileAgainst(const FilterNode& tree, const db::TableSchema& table) {
  db::Params params;
  absl::StatusOr<std::string> sql = db::CompileFilter(tree, table, &params);
  if (!sql.ok()) {
    CheckError(sql.status(), 0, false);
    return;
  }
  const int count = params.size();
  CheckStatementShape(*sql, count);
  const std::vector<Param> bound = ReleaseParams(std::move(params));
  size_t next = 0;
  CheckParams(tree, table, bound, &next);
  FUZZ_CHECK(next == bound.size(), *sql);

  FilterNode replaced = tree;
  ReplaceLiterals(&replaced, table);
  db::Params other_params;
  absl::StatusOr<std::string> other = db::CompileFilter(replaced, table, &other_params);
  FUZZ_CHECK(other.ok(), absl::StrCat(*sql, " | replaced literals: ", other.status().ToString()));
  FUZZ_CHECK(*other == *sql && other_params.size() == count,
             absl::StrCat(*sql, " | replaced literals: ", *other));
  FUZZ_CHECK(!HasSentinelMark(*other), *other);
}

}  // namespace
}  // namespace protomodel::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace protomodel;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<db::FilterNode> tree = db::ParseFilter(input);
  if (!tree.ok()) {
    fuzz::CheckError(tree.status(), size, true);
    return 0;
  }
  fuzz::CheckTree(*tree, 0);
  for (const auto& table : fuzz::Tables()) fuzz::CompileAgainst(*tree, *table);
  return 0;
}
