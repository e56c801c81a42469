// fuzz_order_by: the order_by parser (db/order_by.h) and what is built from
// its keys: ORDER BY, the keyset condition of the next page and the page
// token carrying the last row's keys.
//
// The input is an order_by string, parsed against every table. Checked
// besides crashes, leaks and undefined behaviour:
//  - errors are INVALID_ARGUMENT starting "order_by: ";
//  - the keys are orderable columns of the table, none twice, the primary
//    key exactly once and last, at most kMaxOrderByKeys of the caller's own;
//  - the canonical text of the keys ("name desc, age") parses to the same
//    keys, and ORDER BY names exactly them;
//  - for rows whose nullable keys are set or not (chosen from the input's
//    hash), the keyset condition has only `$n` placeholders, does not depend
//    on the key values (two rows with different values, same SQL) and holds
//    none of them; a token the encoder wrote for those keys decodes to the
//    same keys and gives the same condition.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <google/protobuf/util/message_differencer.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "db/sql/order_by.h"
#include "db/sql/page_token.h"
#include "fuzz_common.h"

namespace protomodel::fuzz {
namespace {

using db::OrderKey;
using protomodel::v1::KeyValue;
using protomodel::v1::PageToken;

void CheckKeys(const std::vector<OrderKey>& keys, const db::TableSchema& table) {
  FUZZ_CHECK(!keys.empty() && keys.size() <= db::kMaxOrderByKeys + 1, table.name());
  FUZZ_CHECK(keys.back().column == &table.primary_key(), table.name());
  for (size_t i = 0; i < keys.size(); ++i) {
    const int index = table.ColumnIndex(*keys[i].column);
    FUZZ_CHECK(index >= 0 && static_cast<size_t>(index) < table.columns().size(),
               table.name());
    FUZZ_CHECK(keys[i].column->comparable(), keys[i].column->name);
    for (size_t j = 0; j < i; ++j) {
      FUZZ_CHECK(keys[j].column != keys[i].column, keys[i].column->name);
    }
  }
}

// The order_by text that means `keys` (the trailing ascending primary key is
// implied).
std::string Canonical(const std::vector<OrderKey>& keys) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i + 1 == keys.size() && !keys[i].desc) break;
    parts.push_back(absl::StrCat(keys[i].column->name, keys[i].desc ? " desc" : ""));
  }
  return absl::StrJoin(parts, ", ");
}

// A row of `table` with every non-nullable column set to replacement value
// `variant` and each nullable one set or not by `set_bits`.
std::unique_ptr<google::protobuf::Message> Row(const db::TableSchema& table, int variant,
                                               uint64_t set_bits) {
  std::unique_ptr<google::protobuf::Message> row(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(table.descriptor())
          ->New());
  for (const db::Column& column : table.columns()) {
    if (column.nullable && ((set_bits >> table.ColumnIndex(column)) & 1) == 0) continue;
    SetSentinel(row.get(), column, variant);
  }
  return row;
}

std::string Keyset(const std::vector<OrderKey>& keys,
                   const google::protobuf::RepeatedPtrField<KeyValue>& last,
                   absl::string_view what) {
  db::Params params;
  absl::StatusOr<std::string> sql = db::KeysetSql(keys, last, &params);
  FUZZ_CHECK(sql.ok(), absl::StrCat(what, ": ", sql.status().ToString()));
  CheckStatementShape(*sql, params.size());
  FUZZ_CHECK(!HasSentinelMark(*sql), *sql);
  return *sql;
}

void CheckTable(absl::string_view input, const db::TableSchema& table, uint64_t set_bits) {
  absl::StatusOr<std::vector<OrderKey>> keys = db::ParseOrderBy(input, table);
  if (!keys.ok()) {
    FUZZ_CHECK(keys.status().code() == absl::StatusCode::kInvalidArgument &&
                   absl::StartsWith(keys.status().message(), "order_by: "),
               keys.status().ToString());
    return;
  }
  CheckKeys(*keys, table);

  const std::string canonical = Canonical(*keys);
  absl::StatusOr<std::vector<OrderKey>> again = db::ParseOrderBy(canonical, table);
  FUZZ_CHECK(again.ok() && again->size() == keys->size(),
             absl::StrCat(canonical, ": ", again.status().ToString()));
  std::vector<std::string> expected_sql;
  for (size_t i = 0; i < keys->size(); ++i) {
    FUZZ_CHECK((*again)[i].column == (*keys)[i].column && (*again)[i].desc == (*keys)[i].desc,
               canonical);
    expected_sql.push_back(
        absl::StrCat((*keys)[i].column->quoted, (*keys)[i].desc ? " DESC" : ""));
  }
  const std::string order_sql = db::OrderBySql(*keys);
  CheckStatementShape(order_sql, 0);
  FUZZ_CHECK(order_sql == absl::StrJoin(expected_sql, ", "), order_sql);

  // Two rows alike but for their values: one condition.
  PageToken token_a, token_b;
  token_a.set_query_digest(db::QueryDigest(table.name(), "", input));
  for (KeyValue& value : db::KeyValuesOf(*Row(table, 0, set_bits), *keys)) {
    *token_a.add_keys() = std::move(value);
  }
  for (KeyValue& value : db::KeyValuesOf(*Row(table, 1, set_bits), *keys)) {
    *token_b.add_keys() = std::move(value);
  }
  const std::string sql = Keyset(*keys, token_a.keys(), "keys of a row");
  FUZZ_CHECK(Keyset(*keys, token_b.keys(), "keys of another row") == sql, sql);

  // The token for the page after row a leads to the same condition.
  const std::string encoded = db::EncodePageToken(token_a);
  absl::StatusOr<PageToken> decoded = db::DecodePageToken(encoded, token_a.query_digest());
  FUZZ_CHECK(decoded.ok(), decoded.status().ToString());
  FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(*decoded, token_a),
             decoded->DebugString());
  FUZZ_CHECK(Keyset(*keys, decoded->keys(), "decoded keys") == sql, sql);
  FUZZ_CHECK(!db::DecodePageToken(encoded, db::QueryDigest(table.name(), "x", input)).ok(),
             encoded);
}

}  // namespace
}  // namespace protomodel::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace protomodel;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const uint64_t set_bits = std::hash<std::string>()(std::string(input));
  for (const auto& table : fuzz::Tables()) fuzz::CheckTable(input, *table, set_bits);
  return 0;
}
