#include "server/verbs/checks.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "db/errors.h"
#include "db/sql/values.h"

namespace protomodel::server {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr size_t kMaxMaskPaths = 64;

}  // namespace

absl::StatusOr<std::string> KeyOf(const Message& message,
                                  const FieldDescriptor* field,
                                  const db::Column& pk, absl::string_view path, int index) {
  const Reflection* r = message.GetReflection();
  const auto text = [&] {
    return index < 0 ? r->GetString(message, field) : r->GetRepeatedString(message, field, index);
  };
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_INT64) {
    const int64_t id =
        index < 0 ? r->GetInt64(message, field) : r->GetRepeatedInt64(message, field, index);
    if (id <= 0) {
      return db::InvalidField(path, db::reason::kInvalidField,
                              absl::StrCat(path, ": ids are integers > 0, not ", id));
    }
    return absl::StrCat(id);
  }
  if (pk.type == db::ColumnType::kUuid) {
    absl::StatusOr<std::string> uuid = db::CanonicalUuid(text(), path);
    if (!uuid.ok()) return db::AboutField(uuid.status(), path);
    return uuid;
  }
  std::string key = text();
  if (key.empty()) {
    return db::InvalidField(path, db::reason::kRequiredField, absl::StrCat(path, " is required"));
  }
  return key;
}

bool IsSet(const Message& message, const db::Column& column) {
  const Reflection* r = message.GetReflection();
  const FieldDescriptor* f = column.field;
  if (f->is_repeated()) return r->FieldSize(message, f) > 0;  // lists and maps
  if (f->has_presence()) return r->HasField(message, f);
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      return !r->GetStringReference(message, f, &scratch).empty();
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(message, f);
    case FieldDescriptor::CPPTYPE_INT32:
      return r->GetInt32(message, f) != 0;
    case FieldDescriptor::CPPTYPE_INT64:
      return r->GetInt64(message, f) != 0;
    case FieldDescriptor::CPPTYPE_UINT32:
      return r->GetUInt32(message, f) != 0;
    case FieldDescriptor::CPPTYPE_UINT64:
      return r->GetUInt64(message, f) != 0;
    case FieldDescriptor::CPPTYPE_ENUM:
      return r->GetEnumValue(message, f) != 0;
    case FieldDescriptor::CPPTYPE_FLOAT:
      return r->GetFloat(message, f) != 0;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return r->GetDouble(message, f) != 0;
    default:
      return false;
  }
}

absl::Status CheckRequired(const Message& resource,
                           const std::vector<const db::Column*>& columns) {
  for (const db::Column* column : columns) {
    if (column->required && !IsSet(resource, *column)) {
      return db::InvalidField(column->path, db::reason::kRequiredField,
                              absl::StrCat(column->path, " is required"));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> MaskPaths(const Message& message, const FieldDescriptor* field) {
  std::vector<std::string> paths;
  if (field == nullptr) return paths;
  const Message& mask = message.GetReflection()->GetMessage(message, field);
  const FieldDescriptor* repeated = mask.GetDescriptor()->FindFieldByName("paths");
  const Reflection* r = mask.GetReflection();
  const int n = r->FieldSize(mask, repeated);
  paths.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) paths.push_back(r->GetRepeatedString(mask, repeated, i));
  return paths;
}

absl::StatusOr<std::vector<const db::Column*>> MaskColumns(
    const std::vector<std::string>& paths, const db::TableSchema& table,
    absl::string_view mask_name, bool writable) {
  const auto invalid = [mask_name](absl::string_view message) {
    return db::InvalidField(mask_name, db::reason::kInvalidFieldMask, message);
  };
  if (paths.size() > kMaxMaskPaths) {
    return invalid(absl::StrCat(mask_name, ": more than the limit of ",
                                kMaxMaskPaths, " paths"));
  }
  std::vector<const db::Column*> columns;
  for (const std::string& path : paths) {
    const db::Column* column = table.FindColumn(path);
    if (column == nullptr) {
      const FieldDescriptor* field = table.descriptor()->FindFieldByName(path);
      if (field != nullptr) {
        return invalid(absl::StrCat(mask_name, ": field '", path, "' is output only",
                                    writable ? "" : " in detailed views"));
      }
      return invalid(absl::StrCat(mask_name, ": unknown field '", path, "' (",
                                  table.name(), " has no such field)"));
    }
    if (writable && !column->writable()) {
      return invalid(absl::StrCat(mask_name, ": field '", path,
                                  "' is output only and cannot be updated"));
    }
    bool seen = false;
    for (const db::Column* c : columns) seen = seen || c == column;
    if (!seen) columns.push_back(column);
  }
  return columns;
}


absl::StatusOr<int> PageSize(const Message& request, const FieldDescriptor* field) {
  constexpr int kDefaultPageSize = 50;
  constexpr int kMaxPageSize = 1000;
  const int page_size = field == nullptr ? 0 : request.GetReflection()->GetInt32(request, field);
  if (page_size < 0) {
    return db::InvalidField(field->name(), db::reason::kInvalidField,
                            absl::StrCat(field->name(), ": must not be negative, not ", page_size));
  }
  return page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize);
}

}  // namespace protomodel::server
