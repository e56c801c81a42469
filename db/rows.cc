#include "db/rows.h"

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "db/sql/values.h"

namespace protomodel::db {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::util::TimeUtil;

absl::Status BadValue(const Column& column) {
  return absl::InternalError(
      absl::StrCat("column ", column.name, ": unexpected value from the database"));
}

absl::Status ReadColumn(const pqxx::field& value, const Column& column,
                        Message* out) {
  const Reflection* r = out->GetReflection();
  const FieldDescriptor* f = column.field;
  if (value.is_null()) {
    r->ClearField(out, f);
    return absl::OkStatus();
  }
  const absl::string_view text(value.c_str(), value.size());
  switch (column.type) {
    case ColumnType::kBool:
      r->SetBool(out, f, text == "t");
      return absl::OkStatus();
    case ColumnType::kInt32: {
      int32_t v = 0;
      if (!absl::SimpleAtoi(text, &v)) return BadValue(column);
      r->SetInt32(out, f, v);
      return absl::OkStatus();
    }
    case ColumnType::kInt64: {
      int64_t v = 0;
      if (!absl::SimpleAtoi(text, &v)) return BadValue(column);
      r->SetInt64(out, f, v);
      return absl::OkStatus();
    }
    case ColumnType::kFloat: {
      float v = 0;
      if (!absl::SimpleAtof(text, &v)) return BadValue(column);
      r->SetFloat(out, f, v);
      return absl::OkStatus();
    }
    case ColumnType::kDouble: {
      double v = 0;
      if (!absl::SimpleAtod(text, &v)) return BadValue(column);
      r->SetDouble(out, f, v);
      return absl::OkStatus();
    }
    case ColumnType::kString:
    case ColumnType::kUuid:
      r->SetString(out, f, std::string(text));
      return absl::OkStatus();
    case ColumnType::kBytes: {
      std::string bytes;
      if (!DecodeByteaHex(text, &bytes)) return BadValue(column);
      r->SetString(out, f, std::move(bytes));
      return absl::OkStatus();
    }
    case ColumnType::kTimestamp: {
      int64_t micros = 0;
      if (!absl::SimpleAtoi(text, &micros)) return BadValue(column);
      r->MutableMessage(out, f)->CopyFrom(TimeUtil::MicrosecondsToTimestamp(micros));
      return absl::OkStatus();
    }
  }
  return BadValue(column);
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

std::string ValueText(const Message& resource, const Column& column) {
  const Reflection* r = resource.GetReflection();
  switch (column.field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(r->GetInt64(resource, column.field));
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(r->GetInt32(resource, column.field));
    case FieldDescriptor::CPPTYPE_STRING:
      return column.type == ColumnType::kBytes ? "" : r->GetString(resource, column.field);
    default:
      return "";
  }
}

std::vector<const Column*> AllColumns(const TableSchema& table) {
  std::vector<const Column*> columns;
  for (const Column& column : table.columns()) columns.push_back(&column);
  return columns;
}

}  // namespace protomodel::db
