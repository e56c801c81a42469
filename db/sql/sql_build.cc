#include "db/sql/sql_build.h"

#include <cstdint>

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "db/schema/ddl.h"
#include "db/errors.h"
#include "db/sql/values.h"

namespace protomodel::db {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::util::TimeUtil;

// A fresh opaque version for etag columns, on insert (the column default in
// the migration) and on every update.
constexpr char kNewVersionSql[] = "gen_random_uuid()::text";

// The SQL expression that reads `column` in the form Table parses.
std::string ColumnExpr(const Column& column, absl::string_view alias) {
  const std::string ref = alias.empty()
                              ? column.quoted
                              : absl::StrCat(alias, ".", column.quoted);
  if (column.type == ColumnType::kTimestamp) {
    return absl::StrCat("(extract(epoch from ", ref, ") * 1000000)::int8");
  }
  return ref;
}

// The set of columns `written` (by column index) as a hexadecimal bit mask,
// most significant digit first, of any width.
std::string ColumnSetHex(const std::vector<bool>& written) {
  std::string hex;
  for (size_t i = (written.size() + 3) / 4; i-- > 0;) {
    int digit = 0;
    for (size_t bit = 0; bit < 4; ++bit) {
      if (4 * i + bit < written.size() && written[4 * i + bit]) digit |= 1 << bit;
    }
    if (!hex.empty() || digit != 0 || i == 0) hex += "0123456789abcdef"[digit];
  }
  return hex;
}

std::vector<const Column*> AllColumns(const TableSchema& table) {
  std::vector<const Column*> columns;
  for (const Column& column : table.columns()) columns.push_back(&column);
  return columns;
}

}  // namespace

std::string SelectList(const std::vector<const Column*>& columns,
                       absl::string_view alias) {
  return absl::StrJoin(columns, ", ", [&](std::string* out, const Column* c) {
    out->append(ColumnExpr(*c, alias));
  });
}

namespace {

// INSERT of every writable column as $1..$N, RETURNING `returning`; N is
// stored in `count`.
std::string InsertInto(const TableSchema& table, absl::string_view returning, size_t* count) {
  std::vector<std::string> insert_columns, insert_values;
  for (const Column& column : table.columns()) {
    if (!column.writable()) continue;
    insert_columns.push_back(column.quoted);
    insert_values.push_back(absl::StrCat("$", insert_values.size() + 1));
  }
  *count = insert_values.size();
  if (insert_columns.empty()) {
    return absl::StrCat("INSERT INTO ", table.quoted_name(), " DEFAULT VALUES RETURNING ",
                        returning);
  }
  return absl::StrCat("INSERT INTO ", table.quoted_name(), " (",
                      absl::StrJoin(insert_columns, ", "), ") VALUES (",
                      absl::StrJoin(insert_values, ", "), ") RETURNING ", returning);
}

}  // namespace

std::string InsertSql(const TableSchema& table) {
  size_t count = 0;
  return InsertInto(table, SelectList(AllColumns(table), ""), &count);
}

std::string InsertRecordingSql(const TableSchema& table) {
  size_t count = 0;
  const std::string insert = InsertInto(table, "*", &count);
  return absl::StrCat(
      "WITH \"created\" AS (", insert,
      "), \"recorded\" AS (INSERT INTO \"protomodel_request_ids\" "
      "(\"request_id\", \"table_name\", \"resource_key\") SELECT $", count + 1, "::uuid, $",
      count + 2, "::text, \"created\".", table.primary_key().quoted,
      "::text FROM \"created\") SELECT ", SelectList(AllColumns(table), "\"created\""),
      " FROM \"created\"");
}

std::string InsertBatchSql(const TableSchema& table, size_t rows) {
  const Column& pk = table.primary_key();
  std::vector<const Column*> written;
  for (const Column& column : table.columns()) {
    if (column.writable()) written.push_back(&column);
  }
  // The input rows: "ord", "c1".."cN" (the written columns), "rid".
  std::vector<std::string> names = {"\"ord\""};
  for (size_t i = 0; i < written.size(); ++i) names.push_back(absl::StrCat("\"c", i + 1, "\""));
  names.push_back("\"rid\"");
  const size_t per_row = written.size() + 1;
  std::vector<std::string> values;
  for (size_t row = 0; row < rows; ++row) {
    std::vector<std::string> cells = {absl::StrCat(row + 1)};
    for (size_t i = 0; i < per_row; ++i) {
      const ColumnType type = i < written.size() ? written[i]->type : ColumnType::kUuid;
      cells.push_back(absl::StrCat("$", row * per_row + i + 1, "::", TypeName(type)));
    }
    values.push_back(absl::StrCat("(", absl::StrJoin(cells, ", "), ")"));
  }
  // The key of each row: written by the caller, or drawn here.
  std::string key;
  for (size_t i = 0; i < written.size(); ++i) {
    if (written[i] == &pk) key = absl::StrCat("\"v\".\"c", i + 1, "\"");
  }
  const bool identity = pk.generated == protomodel::v1::KEY_GENERATION_IDENTITY;
  if (key.empty()) {
    key = identity ? absl::StrCat("nextval((SELECT pg_get_serial_sequence('",
                                  table.quoted_name(), "', '", pk.name, "')))")
                   : "gen_random_uuid()";
  }
  std::vector<std::string> insert_columns, insert_values;
  if (!pk.writable()) {
    insert_columns.push_back(pk.quoted);
    insert_values.push_back("\"k\"");
  }
  for (size_t i = 0; i < written.size(); ++i) {
    insert_columns.push_back(written[i]->quoted);
    insert_values.push_back(absl::StrCat("\"c", i + 1, "\""));
  }
  return absl::StrCat(
      "WITH \"input\" AS MATERIALIZED (SELECT ", key, " AS \"k\", \"v\".* FROM (VALUES ",
      absl::StrJoin(values, ", "), ") AS \"v\"(", absl::StrJoin(names, ", "),
      ")), \"created\" AS (INSERT INTO ", table.quoted_name(), " (",
      absl::StrJoin(insert_columns, ", "), ")", identity ? " OVERRIDING SYSTEM VALUE" : "",
      " SELECT ", absl::StrJoin(insert_values, ", "),
      " FROM \"input\" RETURNING *), \"recorded\" AS (INSERT INTO \"protomodel_request_ids\" "
      "(\"request_id\", \"table_name\", \"resource_key\") SELECT \"rid\", $",
      rows * per_row + 1, "::text, \"k\"::text FROM \"input\" WHERE \"rid\" IS NOT NULL) "
      "SELECT \"input\".\"ord\", ", SelectList(AllColumns(table), "\"created\""),
      " FROM \"created\" JOIN \"input\" ON \"created\".", pk.quoted, " = \"input\".\"k\"");
}

std::string GetManySql(const TableSchema& table) {
  return absl::StrCat("SELECT ", SelectList(AllColumns(table), ""), " FROM ",
                      table.quoted_name(), " WHERE ", table.primary_key().quoted,
                      " = ANY($1::", TypeName(table.primary_key().type), "[])");
}

std::string ArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    for (const char c : values[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

namespace {

absl::Status BindValue(const Message& resource, const Column& column, const std::string& what,
                       Params* params) {
  const Reflection* r = resource.GetReflection();
  const FieldDescriptor* f = column.field;
  if (column.nullable && !r->HasField(resource, f)) {
    params->AddNull();
    return absl::OkStatus();
  }
  switch (column.type) {
    case ColumnType::kBool:
      params->AddText(r->GetBool(resource, f) ? "true" : "false");
      break;
    case ColumnType::kInt32:
    case ColumnType::kInt64: {
      const int64_t v = column.type == ColumnType::kInt32 ? r->GetInt32(resource, f)
                                                          : r->GetInt64(resource, f);
      if (!column.references.empty() && v <= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": ids are integers > 0, not ", v));
      }
      params->AddText(absl::StrCat(v));
      break;
    }
    case ColumnType::kFloat:
      params->AddText(absl::StrFormat("%.9g", r->GetFloat(resource, f)));
      break;
    case ColumnType::kDouble:
      params->AddText(absl::StrFormat("%.17g", r->GetDouble(resource, f)));
      break;
    case ColumnType::kString: {
      std::string text = r->GetString(resource, f);
      if (absl::Status s = CheckStorableText(text, what); !s.ok()) return s;
      if (column.pattern_regex != nullptr && !std::regex_match(text, *column.pattern_regex)) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": must match ", column.pattern,
            column.random_length > 0 ? ", or be empty on create for a generated one" : ""));
      }
      params->AddText(std::move(text));
      break;
    }
    case ColumnType::kUuid: {
      absl::StatusOr<std::string> uuid = CanonicalUuid(r->GetString(resource, f), what);
      if (!uuid.ok()) return uuid.status();
      params->AddText(*std::move(uuid));
      break;
    }
    case ColumnType::kBytes: {
      std::string scratch;
      const std::string& bytes = r->GetStringReference(resource, f, &scratch);
      if (bytes.size() > kMaxBytesValue) {
        return WithReason(
            absl::InvalidArgumentError(absl::StrCat(
                what, ": ", bytes.size(), " bytes is over the limit of ", kMaxBytesValue,
                " bytes (16 MiB) for a bytes field")),
            reason::kFieldTooLarge);
      }
      params->AddBinary(bytes);
      break;
    }
    case ColumnType::kTimestamp: {
      const auto& ts =
          static_cast<const google::protobuf::Timestamp&>(r->GetMessage(resource, f));
      // What google.protobuf.Timestamp allows; past it the conversion to
      // microseconds would overflow.
      if (ts.seconds() < TimeUtil::kTimestampMinSeconds ||
          ts.seconds() > TimeUtil::kTimestampMaxSeconds || ts.nanos() < 0 ||
          ts.nanos() > 999999999) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": not a valid timestamp (0001-01-01T00:00:00Z to "
                  "9999-12-31T23:59:59.999999999Z, nanos 0 to 999999999)"));
      }
      params->AddText(TimestampParam(TimeUtil::TimestampToMicroseconds(ts)));
      break;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status BindColumn(const TableSchema& table, const Message& resource,
                        const Column& column, Params* params) {
  const std::string what = absl::StrCat(table.name(), ".", column.name);
  return AboutField(BindValue(resource, column, what, params), what);
}

absl::Status BindWritable(const TableSchema& table, const Message& resource,
                          Params* params) {
  for (const Column& column : table.columns()) {
    if (!column.writable()) continue;
    if (absl::Status s = BindColumn(table, resource, column, params); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CheckEtag(const std::string& etag, absl::string_view path) {
  return AboutField(CheckStorableText(etag, path), path);
}

absl::StatusOr<Statement> UpdateStatement(const TableSchema& table,
                                          const std::string& key,
                                          const Message& resource,
                                          const std::vector<const Column*>& columns,
                                          const std::optional<std::string>& etag,
                                          Params* params) {
  const Column* etag_column = table.etag();
  params->AddText(key);
  // The columns in table order, once each, so that the statement's name (the
  // set of columns) stands for exactly one text.
  std::vector<bool> written(table.columns().size(), false);
  for (const Column* column : columns) {
    written[static_cast<size_t>(table.ColumnIndex(*column))] = true;
  }
  std::vector<std::string> sets;
  for (const Column& column : table.columns()) {
    if (!written[static_cast<size_t>(table.ColumnIndex(column))]) continue;
    if (absl::Status s = BindColumn(table, resource, column, params); !s.ok()) return s;
    sets.push_back(absl::StrCat(column.quoted, " = $", params->size()));
  }
  std::string where = absl::StrCat(table.primary_key().quoted, " = $1");
  if (etag_column != nullptr) {
    sets.push_back(absl::StrCat(etag_column->quoted, " = ", kNewVersionSql));
    if (etag.has_value()) {
      if (absl::Status s = CheckEtag(*etag, absl::StrCat(table.name(), ".", etag_column->name));
          !s.ok()) {
        return s;
      }
      params->AddText(*etag);
      absl::StrAppend(&where, " AND ", etag_column->quoted, " = $", params->size());
    }
  }
  return Statement{
      absl::StrCat(table.name(), ".update.", ColumnSetHex(written),
                   etag.has_value() && etag_column != nullptr ? ".if" : ""),
      absl::StrCat("UPDATE ", table.quoted_name(), " SET ", absl::StrJoin(sets, ", "),
                   " WHERE ", where, " RETURNING ",
                   SelectList(AllColumns(table), ""))};
}

}  // namespace protomodel::db
