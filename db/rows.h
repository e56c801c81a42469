#ifndef PROTOMODEL_DB_ROWS_H_
#define PROTOMODEL_DB_ROWS_H_

#include <string>
#include <vector>

#include <google/protobuf/message.h>
#include <pqxx/result>

#include "absl/status/status.h"
#include "db/schema/schema.h"

namespace protomodel::db {

// A row of a table as a message, and back: what Table reads and explains.

// INTERNAL: the database sent a value `column` cannot hold.
absl::Status BadValue(const Column& column);

// Sets one field from its text-format value (NULL clears it).
absl::Status ReadColumn(const pqxx::field& value, const Column& column,
                        google::protobuf::Message* out);

// Reads `columns` from `row`, starting at field `offset`.
absl::Status ReadRow(const pqxx::row& row, size_t offset,
                     const std::vector<const Column*>& columns, google::protobuf::Message* out);

// Every column of `table`, in order.
std::vector<const Column*> AllColumns(const TableSchema& table);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_ROWS_H_
