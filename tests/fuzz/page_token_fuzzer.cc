// fuzz_page_token: the page-token decoder (db/page_token.h) and the keyset
// condition built from what it returns (db/order_by.h).
//
// The first input byte picks one of fuzz_common.h's kQueries (table and
// order_by) by its low 6 bits modulo their count, and a mode by bit 7:
//  - bit 7 clear: the rest is a page token as a caller sends it;
//  - bit 7 set: the rest is a serialized PageToken that is first encoded,
//    its query digest replaced by the query's unless bit 6 is set. Tokens
//    carry no secret, so any caller can write such a token: what it decodes
//    to is caller-controlled.
// Checked besides crashes, leaks and undefined behaviour:
//  - errors are INVALID_ARGUMENT starting "page_token: ";
//  - a token the encoder wrote decodes to exactly what was encoded (unless
//    past kMaxPageTokenLength), and only for its own query; with one
//    character changed it is refused or decodes to the same token;
//  - the keyset condition for decoded keys either is refused as not
//    fitting the query or has only `$n` placeholders, binds each key as a
//    valid value of its column's type, and does not depend on the key
//    values (the same keys with other values: same SQL, none of them in it).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <google/protobuf/util/message_differencer.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "db/sql/order_by.h"
#include "db/sql/page_token.h"
#include "db/sql/values.h"
#include "fuzz_common.h"

namespace protomodel::fuzz {
namespace {

using db::ColumnType;
using db::OrderKey;
using protomodel::v1::KeyValue;
using protomodel::v1::PageToken;

void CheckError(const absl::Status& status) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument &&
                 absl::StartsWith(status.message(), "page_token: "),
             status.ToString());
}

// What a parameter bound for a key of `column` must look like: a value
// PostgreSQL reads as that type.
void CheckBoundKey(const db::Column& column, const Param& param) {
  FUZZ_CHECK(!param.null && !param.binary, column.name);
  const std::string& v = param.value;
  switch (column.type) {
    case ColumnType::kBool:
      FUZZ_CHECK(v == "true" || v == "false", v);
      break;
    case ColumnType::kInt32:
    case ColumnType::kInt64: {
      int64_t n = 0;
      FUZZ_CHECK(absl::SimpleAtoi(v, &n) && absl::StrCat(n) == v, v);
      break;
    }
    case ColumnType::kFloat:
    case ColumnType::kDouble: {
      double d = 0;
      FUZZ_CHECK(absl::SimpleAtod(v, &d), absl::StrCat(column.name, " bound as ", v));
      break;
    }
    case ColumnType::kString:
      FUZZ_CHECK(v.find('\0') == std::string::npos, v);
      break;
    case ColumnType::kUuid: {
      FUZZ_CHECK(db::CanonicalUuid(v, "").ok(), v);
      break;
    }
    case ColumnType::kTimestamp: {
      absl::Time t;
      std::string error;
      FUZZ_CHECK(absl::ParseTime("%Y-%m-%d %H:%M:%E*S+00", v, absl::UTCTimeZone(), &t, &error),
                 v);
      break;
    }
    case ColumnType::kBytes:
      Fail("bytes are not orderable", column.name);
    default:  // the built-in resources have no other types
      Fail("unexpected column type", column.name);
  }
}

// The same keys with other values of the same kind (validity kept).
PageToken OtherValues(const PageToken& token, const std::vector<OrderKey>& keys) {
  PageToken other = token;
  for (int i = 0; i < other.keys_size() && static_cast<size_t>(i) < keys.size(); ++i) {
    KeyValue* value = other.mutable_keys(i);
    const ColumnType type = keys[static_cast<size_t>(i)].column->type;
    switch (value->kind_case()) {
      case KeyValue::kIntValue:
        if (type == ColumnType::kInt32) {  // a token's value must fit the column
          value->set_int_value(value->int_value() == 4242 ? 4243 : 4242);
        } else {
          value->set_int_value(value->int_value() == kSentinelInt64[0] ? kSentinelInt64[1]
                                                                        : kSentinelInt64[0]);
        }
        break;
      case KeyValue::kMicros:
        value->set_micros(value->micros() == kSentinelSeconds[0] * 1000000
                              ? kSentinelSeconds[1] * 1000000
                              : kSentinelSeconds[0] * 1000000);
        break;
      case KeyValue::kBoolValue:
        value->set_bool_value(!value->bool_value());
        break;
      case KeyValue::kUintValue:
        value->set_uint_value(value->uint_value() == 4242 ? 4243 : 4242);
        break;
      case KeyValue::kStringValue: {
        const std::string& v = value->string_value();
        if (type == ColumnType::kUuid) {
          value->set_string_value(std::string(
              v == kSentinelUuid[0] ? kSentinelUuid[1] : kSentinelUuid[0]));
        } else if (type == ColumnType::kFloat || type == ColumnType::kDouble) {
          value->set_string_value(v == "4242.5" ? "4243.5" : "4242.5");
        } else {
          value->set_string_value(std::string(v == kSentinel[0] ? kSentinel[1] : kSentinel[0]));
        }
        break;
      }
      case KeyValue::kNull:
      case KeyValue::KIND_NOT_SET:
        break;
    }
  }
  return other;
}

void CheckKeyset(const std::vector<OrderKey>& keys, const PageToken& token) {
  db::Params params;
  absl::StatusOr<std::string> sql = db::KeysetSql(keys, token.keys(), &params);
  if (!sql.ok()) {
    CheckError(sql.status());
    return;
  }
  const int count = params.size();
  CheckStatementShape(*sql, count);
  const std::vector<Param> bound = ReleaseParams(std::move(params));
  size_t next = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (token.keys(static_cast<int>(i)).kind_case() == KeyValue::kNull) continue;
    FUZZ_CHECK(next < bound.size(), *sql);
    CheckBoundKey(*keys[i].column, bound[next++]);
  }
  FUZZ_CHECK(next == bound.size(), *sql);

  const PageToken other = OtherValues(token, keys);
  db::Params other_params;
  absl::StatusOr<std::string> other_sql = db::KeysetSql(keys, other.keys(), &other_params);
  FUZZ_CHECK(other_sql.ok() && *other_sql == *sql && other_params.size() == count,
             absl::StrCat(*sql, " | other values: ", other_sql.status().ToString()));
  FUZZ_CHECK(!HasSentinelMark(*other_sql), *other_sql);
}

}  // namespace
}  // namespace protomodel::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace protomodel;
  using google::protobuf::util::MessageDifferencer;
  using protomodel::v1::PageToken;
  if (size == 0) return 0;
  const fuzz::Query& query = fuzz::kQueries[(data[0] & 0x3f) % fuzz::kQueryCount];
  const bool encode_first = (data[0] & 0x80) != 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const db::TableSchema& table = fuzz::Table(query.table);
  absl::StatusOr<std::vector<db::OrderKey>> keys = db::ParseOrderBy(query.order_by, table);
  FUZZ_CHECK(keys.ok(), keys.status().ToString());
  const std::string digest = db::QueryDigest(table.name(), "", query.order_by);

  std::string token = std::string(rest);
  PageToken encoded;
  if (encode_first) {
    if (!encoded.ParseFromArray(rest.data(), static_cast<int>(rest.size()))) return 0;
    if ((data[0] & 0x40) == 0) encoded.set_query_digest(digest);
    token = db::EncodePageToken(encoded);
  }

  absl::StatusOr<PageToken> decoded = db::DecodePageToken(token, digest);
  if (encode_first) {
    const bool fits = token.size() <= db::kMaxPageTokenLength;
    const bool ours = encoded.query_digest() == digest;
    FUZZ_CHECK(decoded.ok() == (fits && ours),
               absl::StrCat(token.size(), " bytes: ", decoded.status().ToString()));
    if (decoded.ok()) {
      FUZZ_CHECK(MessageDifferencer::Equals(*decoded, encoded), decoded->DebugString());
    }
    // One character changed: refused, or (a base64 character whose extra
    // bits are ignored) the very same token.
    if (fits && !token.empty()) {
      std::string altered = token;
      char& c = altered[rest.size() % altered.size()];
      c = c == 'A' ? 'B' : 'A';
      absl::StatusOr<PageToken> again = db::DecodePageToken(altered, digest);
      FUZZ_CHECK(!again.ok() || MessageDifferencer::Equals(*again, encoded), altered);
    }
  }
  if (!decoded.ok()) {
    fuzz::CheckError(decoded.status());
    return 0;
  }
  fuzz::CheckKeyset(*keys, *decoded);
  return 0;
}
