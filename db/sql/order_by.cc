#include "db/sql/order_by.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "db/sql/codec.h"

namespace protomodel::db {
namespace {

using google::protobuf::Message;
using protomodel::v1::KeyValue;

absl::Status Error(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("order_by: ", what));
}

absl::Status TokenMismatch() {
  return absl::InvalidArgumentError(
      "page_token: does not fit this query's order_by");
}

}  // namespace

absl::StatusOr<std::vector<OrderKey>> ParseOrderBy(absl::string_view order_by,
                                                   const TableSchema& table) {
  std::vector<OrderKey> keys;
  if (!absl::StripAsciiWhitespace(order_by).empty()) {
    // The count first, so the limit holds whatever the keys say.
    if (std::count(order_by.begin(), order_by.end(), ',') >= kMaxOrderByKeys) {
      return Error(absl::StrCat("more than the limit of ", kMaxOrderByKeys, " keys"));
    }
    for (absl::string_view part : absl::StrSplit(order_by, ',')) {
      std::vector<absl::string_view> words =
          absl::StrSplit(part, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
      if (words.empty()) return Error("empty key between commas");
      if (words.size() > 2) {
        return Error(absl::StrCat("'", absl::StripAsciiWhitespace(part),
                                  "': want 'field', 'field asc' or 'field desc'"));
      }
      OrderKey key;
      if (words.size() == 2) {
        const std::string direction = absl::AsciiStrToLower(words[1]);
        if (direction != "asc" && direction != "desc") {
          return Error(absl::StrCat("'", words[1], "': direction must be asc or desc"));
        }
        key.desc = direction == "desc";
      }
      key.column = table.FindColumn(words[0]);
      if (key.column == nullptr) {
        return Error(absl::StrCat("unknown field '", words[0], "'"));
      }
      if (!key.column->comparable()) {
        return Error(absl::StrCat("field '", words[0], "' cannot be ordered by"));
      }
      for (const OrderKey& seen : keys) {
        if (seen.column == key.column) {
          return Error(absl::StrCat("field '", words[0], "' appears twice"));
        }
      }
      keys.push_back(key);
    }
  }
  const Column& pk = table.primary_key();
  bool has_pk = false;
  for (const OrderKey& key : keys) has_pk = has_pk || key.column == &pk;
  if (!has_pk) keys.push_back(OrderKey{&pk, false});
  // Keys after a unique column never decide anything.
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].column == &pk) {
      keys.resize(i + 1);
      break;
    }
  }
  return keys;
}

std::string OrderBySql(const std::vector<OrderKey>& keys, absl::string_view qualifier) {
  return absl::StrJoin(keys, ", ", [&](std::string* out, const OrderKey& key) {
    absl::StrAppend(out, qualifier, qualifier.empty() ? "" : ".", key.column->quoted,
                    key.desc ? " DESC" : "");
  });
}

std::vector<KeyValue> KeyValuesOf(const Message& row,
                                  const std::vector<OrderKey>& keys) {
  std::vector<KeyValue> values;
  values.reserve(keys.size());
  for (const OrderKey& key : keys) {
    // A row read from the table holds only what a column can.
    absl::StatusOr<Value> value = FieldValue(row, *key.column, -1, key.column->name);
    values.push_back(value.ok() ? ValueToKey(*value) : KeyValue());
  }
  return values;
}

absl::StatusOr<std::string> KeysetSql(
    const std::vector<OrderKey>& keys,
    const google::protobuf::RepeatedPtrField<KeyValue>& last, Params* params) {
  if (static_cast<size_t>(last.size()) != keys.size()) return TokenMismatch();
  // Each key's value as a parameter, or "" for NULL.
  std::vector<std::string> bound(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const KeyValue& value = last[static_cast<int>(i)];
    if (value.kind_case() == KeyValue::kNull) {
      if (!keys[i].column->nullable) return TokenMismatch();
      continue;
    }
    // Tokens carry no secret: a caller may have written this one.
    std::optional<Value> key = KeyToValue(*keys[i].column, value);
    if (!key.has_value()) return TokenMismatch();
    absl::StatusOr<std::string> param =
        BindValue(*keys[i].column, *std::move(key), ValueUse::kCompare, "page_token", params);
    if (!param.ok()) return TokenMismatch();
    bound[i] = *std::move(param);
  }

  // A single row comparison when every key is NOT NULL and runs the same way:
  // it lets a btree index find the start directly.
  bool simple = true;
  for (size_t i = 0; i < keys.size(); ++i) {
    simple = simple && !keys[i].column->nullable && keys[i].desc == keys[0].desc;
  }
  if (simple) {
    std::vector<std::string> columns, values;
    for (size_t i = 0; i < keys.size(); ++i) {
      columns.push_back(keys[i].column->quoted);
      values.push_back(bound[i]);
    }
    return absl::StrCat("(", absl::StrJoin(columns, ", "), ") ",
                        keys[0].desc ? "<" : ">", " (",
                        absl::StrJoin(values, ", "), ")");
  }

  // Otherwise: (k1 after v1) OR (k1 = v1 AND k2 after v2) OR ..., where NULLs
  // sort last ascending and first descending, as in ORDER BY.
  std::vector<std::string> alternatives;
  std::vector<std::string> equal_prefix;
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string& col = keys[i].column->quoted;
    const bool is_null = bound[i].empty();
    std::string after;
    if (!keys[i].desc) {
      if (!is_null) {
        after = keys[i].column->nullable
                    ? absl::StrCat("(", col, " > ", bound[i], " OR ", col, " IS NULL)")
                    : absl::StrCat(col, " > ", bound[i]);
      }
    } else {
      after = is_null ? absl::StrCat(col, " IS NOT NULL")
                      : absl::StrCat(col, " < ", bound[i]);
    }
    if (!after.empty()) {
      std::vector<std::string> conjuncts = equal_prefix;
      conjuncts.push_back(after);
      alternatives.push_back(absl::StrCat("(", absl::StrJoin(conjuncts, " AND "), ")"));
    }
    equal_prefix.push_back(is_null ? absl::StrCat(col, " IS NULL")
                                   : absl::StrCat(col, " = ", bound[i]));
  }
  if (alternatives.empty()) return std::string("false");
  return absl::StrCat("(", absl::StrJoin(alternatives, " OR "), ")");
}

}  // namespace protomodel::db
