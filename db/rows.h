#ifndef PROTOMODEL_DB_ROWS_H_
#define PROTOMODEL_DB_ROWS_H_

#include <string>
#include <vector>

#include <google/protobuf/message.h>
#include <pqxx/result>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "db/exec/pipeline.h"
#include "db/schema/schema.h"
#include "db/sql/codec.h"

namespace protomodel::db {

// A row of a table as a message, and back: what Table reads and explains.

// INTERNAL: the database sent a value `column` cannot hold.
absl::Status BadValue(const Column& column);

// A field of a libpqxx row, as a pipeline Result's cells are.
inline Cell CellAt(const pqxx::row& row, size_t column) {
  const pqxx::field field = row[static_cast<pqxx::row::size_type>(column)];
  return {field.c_str(), field.size(), field.is_null(), false};
}
inline Cell CellAt(const ResultRow& row, size_t column) { return row[column]; }

// A cell holding a count or a position (a row's number in its batch), or 0
// when it holds none.
inline size_t CellNumber(const Cell& cell) {
  size_t n = 0;
  return absl::SimpleAtoi(absl::string_view(cell.data, cell.size), &n) ? n : 0;
}

// Reads `columns` from `row` (a pqxx::row or a ResultRow), starting at
// field `offset`; each value as text (a bytea's raw in a binary result),
// NULL clearing its field.
template <typename Row>
absl::Status ReadRow(const Row& row, size_t offset, const std::vector<const Column*>& columns,
                     google::protobuf::Message* out) {
  for (size_t i = 0; i < columns.size(); ++i) {
    const Cell cell = CellAt(row, offset + i);
    absl::Status s = ReadColumn(cell.data, cell.size, cell.null, cell.binary, *columns[i], out);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// Every column of `table`, in order.
std::vector<const Column*> AllColumns(const TableSchema& table);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_ROWS_H_
