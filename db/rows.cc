#include "db/rows.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "db/sql/codec.h"

namespace protomodel::db {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

absl::Status BadValue(const Column& column) {
  return absl::InternalError(
      absl::StrCat("column ", column.name, ": unexpected value from the database"));
}

absl::Status ReadColumn(const pqxx::field& value, const Column& column,
                        Message* out) {
  return ReadColumn(value.c_str(), value.size(), value.is_null(), column, out);
}

absl::Status ReadRow(const pqxx::row& row, size_t offset,
                     const std::vector<const Column*>& columns, Message* out) {
  for (size_t i = 0; i < columns.size(); ++i) {
    absl::Status s = ReadColumn(row[static_cast<pqxx::row::size_type>(offset + i)],
                                *columns[i], out);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::vector<const Column*> AllColumns(const TableSchema& table) {
  std::vector<const Column*> columns;
  for (const Column& column : table.columns()) columns.push_back(&column);
  return columns;
}

}  // namespace protomodel::db
