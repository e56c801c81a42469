// fuzz_mapper: the message -> SQL mapper (db/sql_build.h): the INSERT and
// UPDATE statements Table runs and the binding of a message's fields as
// their parameters, for every table of fuzz_common.h.
//
// Input: byte 0 picks the table (modulo their count); byte 1 holds flags:
// bit 0 fills the message field by field from the input (FuzzedDataProvider,
// through reflection) instead of parsing it, bits 1-2 the update mask mode
// (0: none, the fields that are set, as Crud does; 1: "*", every writable
// column; 2-3: an explicit list), bit 3 sends no etag; byte 2 the length n
// of the explicit list (modulo 9) and the next n bytes its columns (indexes
// into the writable columns, modulo their count; repeats dropped as Crud
// does). The rest is the message (serialized, or the provider's bytes).
//
// Checked besides crashes, leaks and undefined behaviour:
//  - both statements have only `$n` placeholders, one per parameter, each
//    used (fuzz_common.h), and as many parameters as columns written (plus
//    key and etag);
//  - each parameter holds exactly the field's value (NULL for an unset
//    optional field, the same number, text, bytes or instant); values that
//    cannot be stored (a NUL in text, a malformed UUID, an id <= 0, a
//    Timestamp outside what google.protobuf.Timestamp allows) are refused
//    with INVALID_ARGUMENT naming table.column;
//  - the SQL depends only on which fields are set and on the mask: the
//    message with every set field's value replaced by another value of its
//    type gives the same statement name and text, holding none of those
//    values;
//  - a statement's name determines its text (it is prepared once per
//    connection under that name): the same columns listed in another order
//    give either another name or the same text.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "db/sql/sql_build.h"
#include "db/sql/values.h"
#include "fuzz_common.h"

namespace protomodel::fuzz {
namespace {

using db::Column;
using db::ColumnType;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::util::TimeUtil;

std::unique_ptr<Message> NewMessage(const db::TableSchema& table) {
  return std::unique_ptr<Message>(google::protobuf::MessageFactory::generated_factory()
                                      ->GetPrototype(table.descriptor())
                                      ->New());
}

double SpecialOr(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 7)) {
    case 0:
      return std::numeric_limits<double>::quiet_NaN();
    case 1:
      return std::numeric_limits<double>::infinity();
    case 2:
      return -std::numeric_limits<double>::infinity();
    case 3:
      return -0.0;
    case 4:
      return std::numeric_limits<double>::denorm_min();
    default:
      return in.ConsumeFloatingPoint<double>();
  }
}

// Sets fields one by one from the provider's bytes.
void Fill(FuzzedDataProvider& in, const db::TableSchema& table, Message* message) {
  const Reflection* r = message->GetReflection();
  const google::protobuf::Descriptor* d = message->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const Column* column = table.FindColumn(f->name());
    if (column == nullptr || !in.ConsumeBool()) continue;
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        r->SetInt32(message, f, in.ConsumeIntegral<int32_t>());
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        r->SetInt64(message, f, in.ConsumeIntegral<int64_t>());
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        r->SetBool(message, f, in.ConsumeBool());
        break;
      case FieldDescriptor::CPPTYPE_FLOAT:
        r->SetFloat(message, f, static_cast<float>(SpecialOr(in)));
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        r->SetDouble(message, f, SpecialOr(in));
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        if (column->type == ColumnType::kUuid && in.ConsumeBool()) {
          std::string uuid;
          for (int b = 0; b < 16; ++b) {
            if (b == 4 || b == 6 || b == 8 || b == 10) uuid += '-';
            const uint8_t byte = in.ConsumeIntegral<uint8_t>();
            if (in.ConsumeBool()) {
              absl::StrAppendFormat(&uuid, "%02X", byte);
            } else {
              absl::StrAppendFormat(&uuid, "%02x", byte);
            }
          }
          r->SetString(message, f, uuid);
        } else {
          r->SetString(message, f, in.ConsumeRandomLengthString(64));
        }
        break;
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        if (column->type != ColumnType::kTimestamp) break;
        auto* ts = static_cast<google::protobuf::Timestamp*>(r->MutableMessage(message, f));
        ts->set_seconds(in.ConsumeBool()
                            ? in.ConsumeIntegralInRange(TimeUtil::kTimestampMinSeconds,
                                                        TimeUtil::kTimestampMaxSeconds)
                            : in.ConsumeIntegral<int64_t>());
        ts->set_nanos(in.ConsumeBool() ? in.ConsumeIntegralInRange(0, 999999999)
                                       : in.ConsumeIntegral<int32_t>());
        break;
      }
      default:
        break;
    }
  }
}

bool IsSet(const Message& message, const Column& column) {
  return message.GetReflection()->HasField(message, column.field);
}

bool ValidTimestamp(const google::protobuf::Timestamp& ts) {
  return ts.seconds() >= TimeUtil::kTimestampMinSeconds &&
         ts.seconds() <= TimeUtil::kTimestampMaxSeconds && ts.nanos() >= 0 &&
         ts.nanos() <= 999999999;
}

// Whether `column` of `message` can be stored at all (what BindColumn must
// refuse otherwise).
bool Storable(const Message& message, const Column& column) {
  const Reflection* r = message.GetReflection();
  if (column.nullable && !r->HasField(message, column.field)) return true;
  switch (column.type) {
    case ColumnType::kInt32:
      return column.references.empty() || r->GetInt32(message, column.field) > 0;
    case ColumnType::kInt64:
      return column.references.empty() || r->GetInt64(message, column.field) > 0;
    case ColumnType::kString: {
      const std::string text = r->GetString(message, column.field);
      // A column with a pattern stores only text that matches it whole.
      return text.find('\0') == std::string::npos &&
             (column.pattern.empty() || std::regex_match(text, std::regex(column.pattern)));
    }
    case ColumnType::kUuid:
      return db::CanonicalUuid(r->GetString(message, column.field), "").ok();
    case ColumnType::kTimestamp:
      return ValidTimestamp(static_cast<const google::protobuf::Timestamp&>(
          r->GetMessage(message, column.field)));
    default:
      return true;
  }
}

// `param` holds exactly the value of `column` in `message`.
void CheckBound(const Message& message, const Column& column, const Param& param) {
  const Reflection* r = message.GetReflection();
  const FieldDescriptor* f = column.field;
  const std::string what = absl::StrCat(column.name, " bound as ", param.value);
  FUZZ_CHECK(Storable(message, column), absl::StrCat(what, ": not storable, yet bound"));
  if (column.nullable && !r->HasField(message, f)) {
    FUZZ_CHECK(param.null, what);
    return;
  }
  FUZZ_CHECK(!param.null && param.binary == (column.type == ColumnType::kBytes), what);
  const std::string& v = param.value;
  switch (column.type) {
    case ColumnType::kBool:
      FUZZ_CHECK(v == (r->GetBool(message, f) ? "true" : "false"), what);
      break;
    case ColumnType::kInt32:
    case ColumnType::kInt64: {
      int64_t n = 0;
      FUZZ_CHECK(absl::SimpleAtoi(v, &n) &&
                     n == (column.type == ColumnType::kInt32 ? r->GetInt32(message, f)
                                                             : r->GetInt64(message, f)),
                 what);
      break;
    }
    case ColumnType::kFloat: {
      float x = 0;
      const float want = r->GetFloat(message, f);
      FUZZ_CHECK(absl::SimpleAtof(v, &x) &&
                     ((std::isnan(x) && std::isnan(want)) ||
                      (x == want && std::signbit(x) == std::signbit(want))),
                 what);
      break;
    }
    case ColumnType::kDouble: {
      double x = 0;
      const double want = r->GetDouble(message, f);
      FUZZ_CHECK(absl::SimpleAtod(v, &x) &&
                     ((std::isnan(x) && std::isnan(want)) ||
                      (x == want && std::signbit(x) == std::signbit(want))),
                 what);
      break;
    }
    case ColumnType::kString:
    case ColumnType::kBytes:
      FUZZ_CHECK(v == r->GetString(message, f), what);
      break;
    case ColumnType::kUuid:
      FUZZ_CHECK(v == absl::AsciiStrToLower(r->GetString(message, f)), what);
      break;
    case ColumnType::kTimestamp: {
      const auto& ts = static_cast<const google::protobuf::Timestamp&>(r->GetMessage(message, f));
      const int64_t want = ts.seconds() * 1000000 + ts.nanos() / 1000;
      absl::Time t;
      std::string error;
      FUZZ_CHECK(absl::ParseTime("%Y-%m-%d %H:%M:%E*S+00", v, absl::UTCTimeZone(), &t, &error) &&
                     absl::ToUnixMicros(t) == want,
                 what);
      break;
    }
    default:  // the built-in resources have no other types
      break;
  }
}

void CheckRefusal(const absl::Status& status, const db::TableSchema& table,
                  const Message& message, const std::vector<const Column*>& columns,
                  const std::optional<std::string>& etag = std::nullopt) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument, status.ToString());
  bool named = false, unstorable = false;
  if (etag.has_value() && etag->find('\0') != std::string::npos) {
    unstorable = true;
    named = absl::StartsWith(status.message(),
                             absl::StrCat(table.name(), ".", table.etag()->name, ":"));
  }
  for (const Column* column : columns) {
    const bool bad = !Storable(message, *column);
    unstorable = unstorable || bad;
    named = named || (bad && absl::StartsWith(status.message(),
                                              absl::StrCat(table.name(), ".", column->name, ":")));
  }
  FUZZ_CHECK(unstorable && named, status.ToString());
}

// The parameter `$n` after `"column" = ` in `sql`, or -1.
int PlaceholderOf(const std::string& sql, const Column& column) {
  const std::string prefix = absl::StrCat(column.quoted, " = $");
  const size_t at = sql.find(prefix);
  if (at == std::string::npos) return -1;
  int n = 0;
  size_t end = at + prefix.size();
  while (end < sql.size() && absl::ascii_isdigit(sql[end])) ++end;
  if (!absl::SimpleAtoi(sql.substr(at + prefix.size(), end - at - prefix.size()), &n)) return -1;
  return n;
}

// Crud's key for a row: the primary key as validated text, or a stand-in
// (Crud refuses the call before the mapper sees an invalid key).
std::string KeyOf(const db::TableSchema& table, const Message& message) {
  const Column& pk = table.primary_key();
  const Reflection* r = message.GetReflection();
  if (pk.type == ColumnType::kInt64) {
    const int64_t id = r->GetInt64(message, pk.field);
    return id > 0 ? absl::StrCat(id) : "1";
  }
  absl::StatusOr<std::string> uuid = db::CanonicalUuid(r->GetString(message, pk.field), "");
  return uuid.ok() ? *uuid : std::string(kSentinelUuid[0]);
}

std::optional<std::string> EtagOf(const db::TableSchema& table, const Message& message,
                                  bool send) {
  const Column* etag = table.etag();
  if (etag == nullptr || !send) return std::nullopt;
  std::string value = message.GetReflection()->GetString(message, etag->field);
  if (value.empty()) return std::nullopt;
  return value;
}

struct Built {
  absl::StatusOr<db::Statement> statement;
  std::vector<Param> params;
};

Built BuildUpdate(const db::TableSchema& table, const Message& message,
                  const std::vector<const Column*>& columns, bool send_etag) {
  db::Params params;
  Built built{db::UpdateStatement(table, KeyOf(table, message), message, columns,
                                  EtagOf(table, message, send_etag), &params),
              {}};
  built.params = ReleaseParams(std::move(params));
  return built;
}

void CheckUpdate(const db::TableSchema& table, const Message& message,
                 const std::vector<const Column*>& columns, bool send_etag, const Built& built) {
  const std::optional<std::string> etag = EtagOf(table, message, send_etag);
  if (!built.statement.ok()) {
    CheckRefusal(built.statement.status(), table, message, columns, etag);
    return;
  }
  const std::string& sql = built.statement->sql;
  CheckStatementShape(sql, static_cast<int>(built.params.size()));
  FUZZ_CHECK(built.params.size() == 1 + columns.size() + (etag.has_value() ? 1 : 0), sql);
  FUZZ_CHECK(!built.params[0].null && built.params[0].value == KeyOf(table, message), sql);
  for (const Column* column : columns) {
    const int n = PlaceholderOf(sql, *column);
    FUZZ_CHECK(n >= 2 && static_cast<size_t>(n) <= built.params.size(), sql);
    CheckBound(message, *column, built.params[static_cast<size_t>(n - 1)]);
  }
  if (etag.has_value()) {
    FUZZ_CHECK(PlaceholderOf(sql, *table.etag()) == static_cast<int>(built.params.size()) &&
                   built.params.back().value == *etag,
               sql);
  }
  FUZZ_CHECK(absl::StartsWith(built.statement->name, absl::StrCat(table.name(), ".update.")),
             built.statement->name);
}

void Run(const db::TableSchema& table, const Message& message,
         const std::vector<const Column*>& columns, bool send_etag) {
  std::vector<const Column*> writable;
  for (const Column& column : table.columns()) {
    if (column.writable()) writable.push_back(&column);
  }

  // INSERT: fixed text, every writable column bound in order.
  const std::string insert = db::InsertSql(table);
  CheckStatementShape(insert, static_cast<int>(writable.size()));
  db::Params insert_params;
  absl::Status bound = db::BindWritable(table, message, &insert_params);
  if (bound.ok()) {
    const std::vector<Param> params = ReleaseParams(std::move(insert_params));
    FUZZ_CHECK(params.size() == writable.size(), insert);
    for (size_t i = 0; i < writable.size(); ++i) CheckBound(message, *writable[i], params[i]);
  } else {
    CheckRefusal(bound, table, message, writable);
  }

  if (columns.empty()) return;  // Table::Update then only reads the row

  // UPDATE.
  const Built built = BuildUpdate(table, message, columns, send_etag);
  CheckUpdate(table, message, columns, send_etag, built);

  // Every set field's value replaced: the same statement, none of the values.
  std::unique_ptr<Message> replaced(message.New());
  replaced->CopyFrom(message);
  const Reflection* r = replaced->GetReflection();
  for (int i = 0; i < replaced->GetDescriptor()->field_count(); ++i) {
    const FieldDescriptor* f = replaced->GetDescriptor()->field(i);
    const Column* column = table.FindColumn(f->name());
    if (column == nullptr) {
      r->ClearField(replaced.get(), f);  // a relation: never written
    } else if (IsSet(message, *column)) {
      SetSentinel(replaced.get(), *column, 0);
    }
  }
  const Built other = BuildUpdate(table, *replaced, columns, send_etag);
  CheckUpdate(table, *replaced, columns, send_etag, other);
  if (other.statement.ok()) FUZZ_CHECK(!HasSentinelMark(other.statement->sql), other.statement->sql);
  if (built.statement.ok() && other.statement.ok()) {
    FUZZ_CHECK(built.statement->name == other.statement->name &&
                   built.statement->sql == other.statement->sql,
               absl::StrCat(built.statement->sql, " | values replaced: ", other.statement->sql));
  }

  // The same columns in another order: the name still determines the text.
  if (built.statement.ok() && columns.size() > 1) {
    std::vector<const Column*> reordered(columns.rbegin(), columns.rend());
    const Built again = BuildUpdate(table, message, reordered, send_etag);
    FUZZ_CHECK(again.statement.ok(), again.statement.status().ToString());
    FUZZ_CHECK(again.statement->name != built.statement->name ||
                   again.statement->sql == built.statement->sql,
               absl::StrCat(built.statement->name, ": ", built.statement->sql, " | ",
                            again.statement->sql));
  }
}

}  // namespace
}  // namespace protomodel::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace protomodel;
  using namespace protomodel::fuzz;
  if (size < 3) return 0;
  const auto& tables = Tables();
  const db::TableSchema& table = *tables[data[0] % tables.size()];
  const uint8_t flags = data[1];
  const size_t listed = std::min<size_t>(data[2] % 9, size - 3);
  const uint8_t* list = data + 3;
  const uint8_t* rest = list + listed;
  const size_t rest_size = size - 3 - listed;

  std::unique_ptr<google::protobuf::Message> message = NewMessage(table);
  if (flags & 1) {
    FuzzedDataProvider in(rest, rest_size);
    Fill(in, table, message.get());
  } else if (!message->ParseFromArray(rest, static_cast<int>(rest_size))) {
    return 0;
  }

  std::vector<const db::Column*> writable;
  for (const db::Column& column : table.columns()) {
    if (column.writable()) writable.push_back(&column);
  }
  std::vector<const db::Column*> columns;
  const int mode = (flags >> 1) & 3;
  for (const db::Column* column : writable) {
    if (mode == 1 || (mode == 0 && IsSet(*message, *column))) columns.push_back(column);
  }
  if (mode >= 2 && !writable.empty()) {
    for (size_t i = 0; i < listed; ++i) {
      const db::Column* column = writable[list[i] % writable.size()];
      if (std::find(columns.begin(), columns.end(), column) == columns.end()) {
        columns.push_back(column);
      }
    }
  }
  Run(table, *message, columns, (flags & 8) == 0);
  return 0;
}
