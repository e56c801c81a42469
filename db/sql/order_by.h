#ifndef PROTOMODEL_DB_SQL_ORDER_BY_H_
#define PROTOMODEL_DB_SQL_ORDER_BY_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include <google/protobuf/message.h>

#include "absl/status/statusor.h"
#include "db/sql/params.h"
#include "db/schema/schema.h"
#include "protomodel/v1/page_token.pb.h"

namespace protomodel::db {

inline constexpr int kMaxOrderByKeys = 8;

struct OrderKey {
  const Column* column = nullptr;
  bool desc = false;
};

// Parses AIP-132 `field [asc|desc], ...`. The primary key always breaks ties
// last (ascending unless named). Unknown, repeated, or unorderable fields and
// more than kMaxOrderByKeys keys are INVALID_ARGUMENT naming the problem.
absl::StatusOr<std::vector<OrderKey>> ParseOrderBy(absl::string_view order_by,
                                                   const TableSchema& table);

// `ORDER BY ...`: unset values sort last ascending, first descending. Each
// column qualified by `qualifier` (the table) when given, so that it means
// the stored column even where the select list returns it as text.
std::string OrderBySql(const std::vector<OrderKey>& keys, absl::string_view qualifier = "");

// The ordering keys' values in `row`, for a page token.
std::vector<protomodel::v1::KeyValue> KeyValuesOf(
    const google::protobuf::Message& row, const std::vector<OrderKey>& keys);

// A condition selecting the rows that come strictly after the row whose key
// values are `last`, binding them to `params`. INVALID_ARGUMENT when `last`
// does not fit `keys` (a page token from another query).
absl::StatusOr<std::string> KeysetSql(
    const std::vector<OrderKey>& keys,
    const google::protobuf::RepeatedPtrField<protomodel::v1::KeyValue>& last,
    Params* params);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_SQL_ORDER_BY_H_
