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

std::vector<const Column*> AllColumns(const TableSchema& table) {
  std::vector<const Column*> columns;
  for (const Column& column : table.columns()) columns.push_back(&column);
  return columns;
}

}  // namespace protomodel::db
