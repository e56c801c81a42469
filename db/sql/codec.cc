#include "db/sql/codec.h"

#include <limits>
#include <memory>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "db/errors.h"
#include "db/sql/values.h"

namespace protomodel::db {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using protomodel::v1::KeyValue;

// google.protobuf.Timestamp's seconds (0001-01-01 to 9999-12-31) and
// google.protobuf.Duration's (about 10,000 years either way).
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;
constexpr int64_t kMaxDurationSeconds = 315576000000;
constexpr int64_t kMicrosPerSecond = 1000000;

absl::Status Invalid(absl::string_view what, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", problem));
}

Value Of(Value::Kind kind) {
  Value value;
  value.kind = kind;
  return value;
}
Value Bool(bool v) {
  Value value = Of(Value::Kind::kBool);
  value.boolean = v;
  return value;
}
Value Int(int64_t v) {
  Value value = Of(Value::Kind::kInt);
  value.integer = v;
  return value;
}
Value Text(std::string v) {
  Value value = Of(Value::Kind::kText);
  value.text = std::move(v);
  return value;
}
Value Micros(int64_t v) {
  Value value = Of(Value::Kind::kMicros);
  value.integer = v;
  return value;
}

// Timestamp and Duration hold `seconds` (1) and `nanos` (2); read by
// reflection, so generated and dynamic messages alike.
void SecondsNanos(const Message& m, int64_t* seconds, int32_t* nanos) {
  const Reflection* r = m.GetReflection();
  *seconds = r->GetInt64(m, m.GetDescriptor()->FindFieldByNumber(1));
  *nanos = r->GetInt32(m, m.GetDescriptor()->FindFieldByNumber(2));
}
void SetSecondsNanos(Message* m, int64_t seconds, int32_t nanos) {
  const Reflection* r = m->GetReflection();
  r->SetInt64(m, m->GetDescriptor()->FindFieldByNumber(1), seconds);
  r->SetInt32(m, m->GetDescriptor()->FindFieldByNumber(2), nanos);
}

}  // namespace

void SetTimestampMicros(Message* timestamp, int64_t micros) {
  // nanos >= 0: a time before the epoch borrows a second.
  int64_t seconds = micros / kMicrosPerSecond;
  int64_t rest = micros % kMicrosPerSecond;
  if (rest < 0) {
    seconds -= 1;
    rest += kMicrosPerSecond;
  }
  SetSecondsNanos(timestamp, seconds, static_cast<int32_t>(rest * 1000));
}

namespace {

absl::StatusOr<Value> TimeValue(const Message& m, ColumnType type, absl::string_view what) {
  int64_t seconds = 0;
  int32_t nanos = 0;
  SecondsNanos(m, &seconds, &nanos);
  if (type == ColumnType::kTimestamp) {
    if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds || nanos < 0 ||
        nanos > 999999999) {
      return Invalid(what,
                     "not a valid timestamp (0001-01-01T00:00:00Z to "
                     "9999-12-31T23:59:59.999999999Z, nanos 0 to 999999999)");
    }
  } else if (seconds < -kMaxDurationSeconds || seconds > kMaxDurationSeconds ||
             nanos < -999999999 || nanos > 999999999 || (seconds > 0 && nanos < 0) ||
             (seconds < 0 && nanos > 0)) {
    return Invalid(what,
                   "not a valid duration (up to 315576000000 seconds either way, nanos "
                   "of the same sign)");
  }
  // Microseconds: toward the past for a time, toward zero for a length.
  return Micros(seconds * kMicrosPerSecond + nanos / 1000);
}

// A message-valued field (a nested message, a map, a list of messages) as
// JSON, with the proto field names.
absl::StatusOr<std::string> JsonOf(const Message& m, const FieldDescriptor* f,
                                   absl::string_view what) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  const Reflection* r = m.GetReflection();
  std::string json;
  if (!f->is_repeated()) {
    if (!google::protobuf::util::MessageToJsonString(r->GetMessage(m, f), &json, options).ok()) {
      return Invalid(what, "cannot be written as JSON");
    }
  } else {
    // A holder with just this field prints as {"name":VALUE}.
    std::unique_ptr<Message> holder(m.New());
    for (int i = 0; i < r->FieldSize(m, f); ++i) {
      holder->GetReflection()->AddMessage(holder.get(), f)->CopyFrom(r->GetRepeatedMessage(m, f, i));
    }
    std::string whole;
    if (!google::protobuf::util::MessageToJsonString(*holder, &whole, options).ok()) {
      return Invalid(what, "cannot be written as JSON");
    }
    absl::string_view value = whole;
    if (!absl::ConsumePrefix(&value, absl::StrCat("{\"", f->name(), "\":")) ||
        !absl::ConsumeSuffix(&value, "}")) {
      return std::string(f->is_map() ? "{}" : "[]");
    }
    json = std::string(value);
  }
  // jsonb cannot hold a NUL character, even escaped.
  if (absl::StrContains(json, "\\u0000")) return Invalid(what, "text must not contain NUL characters");
  return json;
}

absl::Status SetJson(absl::string_view text, const FieldDescriptor* f, Message* out) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  const Reflection* r = out->GetReflection();
  if (!f->is_repeated()) {
    return google::protobuf::util::JsonStringToMessage(std::string(text), r->MutableMessage(out, f), options)
                   .ok()
               ? absl::OkStatus()
               : absl::InternalError("bad JSON");
  }
  std::unique_ptr<Message> holder(out->New());
  if (!google::protobuf::util::JsonStringToMessage(absl::StrCat("{\"", f->name(), "\":", text, "}"),
                                                   holder.get(), options)
           .ok()) {
    return absl::InternalError("bad JSON");
  }
  r->ClearField(out, f);
  r->SwapFields(holder.get(), out, {f});
  return absl::OkStatus();
}

// Reads one scalar: field `f` of `m`, element `index` when repeated.
Value ScalarOf(const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
#define PM_GET(Type) (index < 0 ? r->Get##Type(m, f) : r->GetRepeated##Type(m, f, index))
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL:
      return Bool(PM_GET(Bool));
    case FieldDescriptor::CPPTYPE_INT32:
      return Int(PM_GET(Int32));
    case FieldDescriptor::CPPTYPE_INT64:
      return Int(PM_GET(Int64));
    case FieldDescriptor::CPPTYPE_UINT32:
      return Int(PM_GET(UInt32));
    case FieldDescriptor::CPPTYPE_UINT64: {
      Value value = Of(Value::Kind::kUint);
      value.unsigned_integer = PM_GET(UInt64);
      return value;
    }
    case FieldDescriptor::CPPTYPE_FLOAT:
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      Value value = Of(Value::Kind::kDouble);
      value.number = f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT ? PM_GET(Float) : PM_GET(Double);
      return value;
    }
    case FieldDescriptor::CPPTYPE_ENUM:
      return Int(PM_GET(EnumValue));
    case FieldDescriptor::CPPTYPE_STRING:
      return Text(PM_GET(String));
    default:
      break;
  }
#undef PM_GET
  return Value{};
}

// Sets (or, when `add`, appends) field `f` of `out` from PostgreSQL's text
// of one scalar; false when the text does not fit.
bool SetScalar(absl::string_view text, ColumnType type, const FieldDescriptor* f, bool add,
               Message* out) {
  const Reflection* r = out->GetReflection();
#define PM_SET(Type, v) (add ? r->Add##Type(out, f, v) : r->Set##Type(out, f, v))
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL:
      // "t" and "f" from bool's output; "true" and "false" from bool::text.
      if (text != "t" && text != "f" && text != "true" && text != "false") return false;
      PM_SET(Bool, text == "t" || text == "true");
      return true;
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v = 0;
      if (!absl::SimpleAtoi(text, &v)) return false;
      PM_SET(Int32, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v = 0;
      if (!absl::SimpleAtoi(text, &v)) return false;
      PM_SET(Int64, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v = 0;
      if (!absl::SimpleAtoi(text, &v)) return false;
      PM_SET(UInt32, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v = 0;
      if (!absl::SimpleAtoi(text, &v)) return false;
      PM_SET(UInt64, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      float v = 0;
      if (!absl::SimpleAtof(text, &v)) return false;
      PM_SET(Float, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double v = 0;
      if (!absl::SimpleAtod(text, &v)) return false;
      PM_SET(Double, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      int32_t v = 0;
      if (!absl::SimpleAtoi(text, &v)) return false;
      PM_SET(EnumValue, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      if (type != ColumnType::kBytes) {
        PM_SET(String, std::string(text));
        return true;
      }
      std::string bytes;
      if (!DecodeByteaHex(text, &bytes)) return false;
      PM_SET(String, std::move(bytes));
      return true;
    }
    default:
      return false;
  }
#undef PM_SET
}

// The elements of a one-dimensional array in PostgreSQL's text output
// (`{a,"b c",NULL}`); false when it is not one or holds a NULL.
bool SplitArray(absl::string_view text, std::vector<std::string>* out) {
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return false;
  const size_t end = text.size() - 1;
  size_t i = 1;
  if (i == end) return true;
  while (true) {
    std::string element;
    if (text[i] == '"') {
      for (++i; i < end && text[i] != '"'; ++i) {
        if (text[i] == '\\') ++i;
        if (i >= end) return false;
        element += text[i];
      }
      if (i >= end) return false;
      ++i;
    } else {
      while (i < end && text[i] != ',') element += text[i++];
      if (element == "NULL") return false;
    }
    out->push_back(std::move(element));
    if (i == end) return true;
    if (text[i] != ',') return false;
    ++i;
  }
}

// `-1.5s`, `90s`, `0.000001s`: a duration literal, in microseconds (toward
// zero).
std::optional<int64_t> ParseDurationMicros(absl::string_view text) {
  if (!absl::ConsumeSuffix(&text, "s")) return std::nullopt;
  const bool negative = absl::ConsumePrefix(&text, "-");
  const size_t dot = text.find('.');
  const absl::string_view whole = text.substr(0, dot);
  const absl::string_view fraction = dot == absl::string_view::npos ? "" : text.substr(dot + 1);
  int64_t seconds = 0;
  if (whole.empty() || whole.size() > 12 || !absl::SimpleAtoi(whole, &seconds) ||
      whole.front() == '+' || fraction.size() > 9 ||
      (dot != absl::string_view::npos && fraction.empty())) {
    return std::nullopt;
  }
  int64_t micros = 0;
  for (size_t i = 0; i < 6; ++i) {
    const char c = i < fraction.size() ? fraction[i] : '0';
    if (c < '0' || c > '9') return std::nullopt;
    micros = micros * 10 + (c - '0');
  }
  for (size_t i = 6; i < fraction.size(); ++i) {
    if (fraction[i] < '0' || fraction[i] > '9') return std::nullopt;
  }
  if (seconds > kMaxDurationSeconds) return std::nullopt;
  const int64_t total = seconds * kMicrosPerSecond + micros;
  return negative ? -total : total;
}

// The text PostgreSQL reads for one value (bytes as `\x` hex), checked.
absl::StatusOr<std::string> SqlText(const Column& column, Value&& value, ValueUse use,
                                    absl::string_view what) {
  switch (column.type) {
    case ColumnType::kBool:
      return std::string(value.boolean ? "true" : "false");
    case ColumnType::kInt32:
    case ColumnType::kInt64:
    case ColumnType::kUint32:
    case ColumnType::kEnum: {
      const int64_t v = value.integer;
      if (column.is_key() && v <= 0) {
        return Invalid(what, absl::StrCat("ids are integers > 0, not ", v));
      }
      const bool is32 = column.type == ColumnType::kInt32 || column.type == ColumnType::kEnum;
      if (is32 && (v < std::numeric_limits<int32_t>::min() ||
                   v > std::numeric_limits<int32_t>::max())) {
        return Invalid(what, absl::StrCat(v, " is out of range for a 32-bit integer"));
      }
      if (column.type == ColumnType::kUint32 &&
          (v < 0 || v > std::numeric_limits<uint32_t>::max())) {
        return Invalid(what, absl::StrCat(v, " is out of range for a uint32"));
      }
      return absl::StrCat(v);
    }
    case ColumnType::kUint64:
      return absl::StrCat(value.unsigned_integer);
    case ColumnType::kFloat:
    case ColumnType::kDouble:
      // Every digit that matters (StrCat keeps only six).
      return absl::StrFormat("%.17g", value.number);
    case ColumnType::kString:
      if (absl::Status s = CheckStorableText(value.text, what); !s.ok()) return s;
      if (use == ValueUse::kWrite && column.pattern_regex != nullptr &&
          !std::regex_match(value.text, *column.pattern_regex)) {
        return Invalid(what, absl::StrCat("must match ", column.pattern,
                                          column.random_length > 0
                                              ? ", or be empty on create for a generated one"
                                              : ""));
      }
      return std::move(value.text);
    case ColumnType::kUuid:
      return CanonicalUuid(value.text, what);
    case ColumnType::kBytes: {  // an array's element: bound as text
      if (absl::Status s = CheckBytesSize(value.text.size(), what); !s.ok()) return s;
      std::string hex = "\\x";
      hex.reserve(2 + 2 * value.text.size());
      for (const char c : value.text) {
        hex += "0123456789abcdef"[(static_cast<unsigned char>(c) >> 4) & 0xf];
        hex += "0123456789abcdef"[static_cast<unsigned char>(c) & 0xf];
      }
      return hex;
    }
    case ColumnType::kTimestamp:
      if (value.integer < kMinTimestampSeconds * kMicrosPerSecond ||
          value.integer >= (kMaxTimestampSeconds + 1) * kMicrosPerSecond) {
        return Invalid(what, "outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z");
      }
      return TimestampParam(value.integer);
    case ColumnType::kDuration:
      if (value.integer < -(kMaxDurationSeconds + 1) * kMicrosPerSecond ||
          value.integer >= (kMaxDurationSeconds + 1) * kMicrosPerSecond) {
        return Invalid(what, "outside -315576000000s..315576000000s");
      }
      return absl::StrCat(value.integer, " microseconds");
    case ColumnType::kJson:
      return std::move(value.text);
  }
  return Invalid(what, "cannot be stored");
}

}  // namespace

absl::Status CheckBytesSize(size_t size, absl::string_view what) {
  if (size <= kMaxBytesValue) return absl::OkStatus();
  return WithReason(absl::InvalidArgumentError(absl::StrCat(
                        what, ": ", size, " bytes is over the limit of ", kMaxBytesValue,
                        " bytes (16 MiB) for a bytes field")),
                    reason::kFieldTooLarge);
}

absl::StatusOr<Value> FieldValue(const Message& message, const Column& column, int index,
                                 absl::string_view what) {
  const Reflection* r = message.GetReflection();
  const FieldDescriptor* f = column.field;
  if (index < 0 && column.nullable && !r->HasField(message, f)) return Value{};
  switch (column.type) {
    case ColumnType::kTimestamp:
    case ColumnType::kDuration:
      return TimeValue(r->GetMessage(message, f), column.type, what);
    case ColumnType::kJson: {
      absl::StatusOr<std::string> json = JsonOf(message, f, what);
      if (!json.ok()) return json.status();
      return Text(*std::move(json));
    }
    default:
      break;
  }
  if (column.wrapper) {
    const Message& wrapper = r->GetMessage(message, f);
    return ScalarOf(wrapper, wrapper.GetDescriptor()->field(0), -1);
  }
  return ScalarOf(message, f, index);
}

absl::StatusOr<Value> LiteralValue(const Column& column, const FilterValue& literal) {
  const std::string what = absl::StrCat("filter: field '", column.name, "'");
  auto mismatch = [&](absl::string_view want) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", want, ": the value does not match"));
  };
  using Kind = FilterValue::Kind;
  switch (column.type) {
    case ColumnType::kBool:
      if (literal.kind != Kind::kBool) return mismatch("a bool");
      return Bool(literal.bool_value);
    case ColumnType::kInt32:
    case ColumnType::kInt64:
    case ColumnType::kUint32: {
      int64_t number = 0;
      if (literal.kind != Kind::kNumber || !absl::SimpleAtoi(literal.text, &number)) {
        return mismatch("an integer");
      }
      return Int(number);
    }
    case ColumnType::kUint64: {
      Value value = Of(Value::Kind::kUint);
      if (literal.kind != Kind::kNumber ||
          !absl::SimpleAtoi(literal.text, &value.unsigned_integer) ||
          absl::StartsWith(literal.text, "-")) {
        return mismatch("an unsigned integer (0 to 18446744073709551615)");
      }
      return value;
    }
    case ColumnType::kFloat:
    case ColumnType::kDouble: {
      Value value = Of(Value::Kind::kDouble);
      if (literal.kind != Kind::kNumber || !absl::SimpleAtod(literal.text, &value.number)) {
        return mismatch("a number");
      }
      return value;
    }
    case ColumnType::kEnum: {
      const auto* type = column.field->enum_type();
      if (literal.kind != Kind::kName && literal.kind != Kind::kString) {
        return mismatch(absl::StrCat("an enum (", type->full_name(), "), compared by value name"));
      }
      const auto* named = type->FindValueByName(literal.text);
      if (named == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(what, " is an enum (", type->full_name(),
                                                       "): it has no value named '",
                                                       literal.text, "'"));
      }
      return Int(named->number());
    }
    case ColumnType::kString:
      if (literal.kind != Kind::kString) return mismatch("a string");
      return Text(literal.text);
    case ColumnType::kUuid:
      if (literal.kind != Kind::kString) return mismatch("a UUID string");
      return Text(literal.text);
    case ColumnType::kTimestamp: {
      if (literal.kind != Kind::kString) {
        return mismatch("a timestamp (a quoted RFC 3339 string)");
      }
      absl::StatusOr<int64_t> micros = ParseRfc3339Micros(literal.text, what);
      if (!micros.ok()) return micros.status();
      return Micros(*micros);
    }
    case ColumnType::kDuration: {
      std::optional<int64_t> micros;
      if (literal.kind == Kind::kString || literal.kind == Kind::kNumber) {
        micros = ParseDurationMicros(literal.text);
      }
      if (!micros.has_value()) return mismatch("a duration (seconds with an s: \"90s\", \"1.5s\")");
      return Micros(*micros);
    }
    case ColumnType::kBytes:
    case ColumnType::kJson:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(what, " cannot be filtered"));
}

std::optional<Value> KeyToValue(const Column& column, const KeyValue& key) {
  switch (column.type) {
    case ColumnType::kBool:
      if (key.kind_case() != KeyValue::kBoolValue) return std::nullopt;
      return Bool(key.bool_value());
    case ColumnType::kInt32:
    case ColumnType::kInt64:
    case ColumnType::kUint32:
    case ColumnType::kEnum:
      if (key.kind_case() != KeyValue::kIntValue) return std::nullopt;
      return Int(key.int_value());
    case ColumnType::kUint64: {
      if (key.kind_case() != KeyValue::kUintValue) return std::nullopt;
      Value value = Of(Value::Kind::kUint);
      value.unsigned_integer = key.uint_value();
      return value;
    }
    case ColumnType::kFloat:
    case ColumnType::kDouble: {
      Value value = Of(Value::Kind::kDouble);
      if (key.kind_case() != KeyValue::kStringValue ||
          !absl::SimpleAtod(key.string_value(), &value.number)) {
        return std::nullopt;
      }
      return value;
    }
    case ColumnType::kString:
    case ColumnType::kUuid:
      if (key.kind_case() != KeyValue::kStringValue) return std::nullopt;
      return Text(key.string_value());
    case ColumnType::kTimestamp:
    case ColumnType::kDuration:
      if (key.kind_case() != KeyValue::kMicros) return std::nullopt;
      return Micros(key.micros());
    case ColumnType::kBytes:
    case ColumnType::kJson:
      break;
  }
  return std::nullopt;
}

KeyValue ValueToKey(const Value& value) {
  KeyValue key;
  switch (value.kind) {
    case Value::Kind::kNull:
      key.set_null(true);
      break;
    case Value::Kind::kBool:
      key.set_bool_value(value.boolean);
      break;
    case Value::Kind::kInt:
      key.set_int_value(value.integer);
      break;
    case Value::Kind::kUint:
      key.set_uint_value(value.unsigned_integer);
      break;
    case Value::Kind::kDouble:
      key.set_string_value(absl::StrFormat("%.17g", value.number));
      break;
    case Value::Kind::kText:
      key.set_string_value(value.text);
      break;
    case Value::Kind::kMicros:
      key.set_micros(value.integer);
      break;
  }
  return key;
}

namespace {

// BindValue but for the `$n`, which a row's columns do not need.
absl::Status Put(const Column& column, Value value, ValueUse use, absl::string_view what,
                 Params* params) {
  if (value.kind == Value::Kind::kNull) {
    params->AddNull();
  } else if (column.type == ColumnType::kBytes) {
    if (absl::Status s = CheckBytesSize(value.text.size(), what); !s.ok()) return s;
    params->AddBinary(value.text);
  } else {
    absl::StatusOr<std::string> text = SqlText(column, std::move(value), use, what);
    if (!text.ok()) return text.status();
    params->AddText(*std::move(text));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> BindValue(const Column& column, Value value, ValueUse use,
                                      absl::string_view what, Params* params) {
  if (absl::Status s = Put(column, std::move(value), use, what, params); !s.ok()) return s;
  return absl::StrCat("$", params->size());
}

absl::Status BindField(const Message& message, const Column& column, absl::string_view what,
                       Params* params) {
  const Reflection* r = message.GetReflection();
  if (column.type == ColumnType::kBytes && !column.repeated && !column.wrapper &&
      !(column.nullable && !r->HasField(message, column.field))) {
    // Straight from the message: a document of many MiB is not copied until
    // libpq writes it into its output buffer.
    std::string scratch;
    const std::string& bytes = r->GetStringReference(message, column.field, &scratch);
    if (absl::Status s = CheckBytesSize(bytes.size(), what); !s.ok()) return s;
    if (&bytes == &scratch) {
      params->AddBinary(bytes);
    } else {
      params->AddBinaryView(bytes);
    }
    return absl::OkStatus();
  }
  if (!column.repeated) {
    absl::StatusOr<Value> value = FieldValue(message, column, -1, what);
    if (!value.ok()) return value.status();
    return Put(column, *std::move(value), ValueUse::kWrite, what, params);
  }
  const int size = r->FieldSize(message, column.field);
  std::vector<std::string> elements;
  elements.reserve(static_cast<size_t>(size));
  size_t bytes = 0;
  for (int i = 0; i < size; ++i) {
    const std::string element_what = absl::StrCat(what, "[", i, "]");
    absl::StatusOr<Value> value = FieldValue(message, column, i, element_what);
    if (!value.ok()) return value.status();
    absl::StatusOr<std::string> text =
        SqlText(column, *std::move(value), ValueUse::kWrite, element_what);
    if (!text.ok()) return text.status();
    bytes += text->size();
    elements.push_back(*std::move(text));
  }
  if (bytes > kMaxBytesValue) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          what, ": over the limit of ", kMaxBytesValue,
                          " bytes (16 MiB) for a repeated field")),
                      reason::kFieldTooLarge);
  }
  params->AddText(ArrayLiteral(elements));
  return absl::OkStatus();
}

std::string ValueText(const Message& resource, const Column& column) {
  if (column.type == ColumnType::kBytes || column.type == ColumnType::kJson || column.repeated) {
    return "";
  }
  absl::StatusOr<Value> value = FieldValue(resource, column, -1, column.name);
  if (!value.ok()) return "";
  switch (value->kind) {
    case Value::Kind::kNull:
      return "null";
    case Value::Kind::kBool:
      return value->boolean ? "true" : "false";
    case Value::Kind::kInt: {
      const auto* named = column.type == ColumnType::kEnum
                              ? column.field->enum_type()->FindValueByNumber(
                                    static_cast<int>(value->integer))
                              : nullptr;
      return named != nullptr ? named->name() : absl::StrCat(value->integer);
    }
    case Value::Kind::kUint:
      return absl::StrCat(value->unsigned_integer);
    case Value::Kind::kDouble:
      return absl::StrCat(value->number);
    case Value::Kind::kText:
      return value->text;
    case Value::Kind::kMicros:
      if (column.type == ColumnType::kDuration) {
        return absl::StrFormat("%.6fs", static_cast<double>(value->integer) / kMicrosPerSecond);
      }
      return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", absl::FromUnixMicros(value->integer),
                              absl::UTCTimeZone());
  }
  return "";
}

absl::Status ReadColumn(const char* data, size_t size, bool is_null, bool binary,
                        const Column& column, Message* out) {
  const Reflection* r = out->GetReflection();
  const FieldDescriptor* f = column.field;
  if (is_null) {
    r->ClearField(out, f);
    return absl::OkStatus();
  }
  if (binary && column.type == ColumnType::kBytes && !column.repeated) {
    if (column.wrapper) {
      Message* wrapper = r->MutableMessage(out, f);
      wrapper->GetReflection()->SetString(wrapper, wrapper->GetDescriptor()->field(0),
                                          std::string(data, size));
    } else {
      r->SetString(out, f, std::string(data, size));
    }
    return absl::OkStatus();
  }
  const absl::string_view text(data, size);
  bool ok = true;
  if (column.repeated) {
    std::vector<std::string> elements;
    ok = SplitArray(text, &elements);
    r->ClearField(out, f);
    for (size_t i = 0; ok && i < elements.size(); ++i) {
      ok = SetScalar(elements[i], column.type, f, true, out);
    }
  } else if (column.type == ColumnType::kTimestamp || column.type == ColumnType::kDuration) {
    int64_t micros = 0;
    ok = absl::SimpleAtoi(text, &micros);
    if (ok && column.type == ColumnType::kTimestamp) {
      SetTimestampMicros(r->MutableMessage(out, f), micros);
    } else if (ok) {
      // Seconds and nanos of the micros' sign, for a length.
      SetSecondsNanos(r->MutableMessage(out, f), micros / kMicrosPerSecond,
                      static_cast<int32_t>(micros % kMicrosPerSecond * 1000));
    }
  } else if (column.type == ColumnType::kJson) {
    ok = SetJson(text, f, out).ok();
  } else if (column.wrapper) {
    Message* wrapper = r->MutableMessage(out, f);
    ok = SetScalar(text, column.type, wrapper->GetDescriptor()->field(0), false, wrapper);
  } else {
    ok = SetScalar(text, column.type, f, false, out);
  }
  if (ok) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("column ", column.name, ": unexpected value from the database"));
}

}  // namespace protomodel::db
