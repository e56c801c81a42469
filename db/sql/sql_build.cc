#include "db/sql/sql_build.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "db/schema/ddl.h"
#include "db/errors.h"
#include "db/sql/codec.h"
#include "db/sql/values.h"

namespace protomodel::db {
namespace {

using google::protobuf::Message;

// A fresh opaque version for etag columns, on insert (the column default in
// the migration) and on every update.
constexpr char kNewVersionSql[] = "gen_random_uuid()::text";

// The SQL expression that reads `column` in the form Table parses.
// A bytea column read as raw bytes in a binary result.
bool IsRawBytes(const Column& column) {
  return column.type == ColumnType::kBytes && !column.repeated;
}

std::string ColumnExpr(const Column& column, absl::string_view alias, const RowForm& form) {
  for (const Column* echoed : form.echoed) {
    if (echoed == &column) return absl::StrCat("NULL::", TypeName(column));
  }
  std::string ref = alias.empty() ? column.quoted : absl::StrCat(alias, ".", column.quoted);
  if (column.type == ColumnType::kTimestamp || column.type == ColumnType::kDuration) {
    ref = absl::StrCat("(extract(epoch from ", ref, ") * 1000000)::int8");
  }
  if (form.binary && !IsRawBytes(column)) return absl::StrCat(ref, "::text");
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

RowForm ReadForm(const TableSchema& table) {
  RowForm form;
  for (const Column& column : table.columns()) form.binary |= IsRawBytes(column);
  return form;
}

RowForm WriteForm(const TableSchema& table, const std::vector<bool>& written) {
  RowForm form = ReadForm(table);
  for (const Column& column : table.columns()) {
    const bool wrote = written.empty() ? column.writable()
                                       : written[static_cast<size_t>(table.ColumnIndex(column))];
    if (wrote && IsRawBytes(column)) form.echoed.push_back(&column);
  }
  return form;
}

std::string SelectList(const std::vector<const Column*>& columns, absl::string_view alias,
                       const RowForm& form) {
  return absl::StrJoin(columns, ", ", [&](std::string* out, const Column* c) {
    out->append(ColumnExpr(*c, alias, form));
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
  return InsertInto(table, SelectList(AllColumns(table), "", WriteForm(table)), &count);
}

std::string InsertRecordingSql(const TableSchema& table) {
  size_t count = 0;
  const std::string insert = InsertInto(table, "*", &count);
  return absl::StrCat(
      "WITH \"created\" AS (", insert,
      "), \"recorded\" AS (INSERT INTO \"protomodel_request_ids\" "
      "(\"request_id\", \"table_name\", \"resource_key\") SELECT $", count + 1, "::uuid, $",
      count + 2, "::text, \"created\".", table.primary_key().quoted,
      "::text FROM \"created\") SELECT ",
      SelectList(AllColumns(table), "\"created\"", WriteForm(table)),
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
      cells.push_back(absl::StrCat("$", row * per_row + i + 1, "::",
                                   i < written.size() ? TypeName(*written[i]) : "uuid"));
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
      "SELECT \"input\".\"ord\"", ReadForm(table).binary ? "::text" : "", ", ",
      SelectList(AllColumns(table), "\"created\"", WriteForm(table)),
      " FROM \"created\" JOIN \"input\" ON \"created\".", pk.quoted, " = \"input\".\"k\"");
}

std::string GetManySql(const TableSchema& table) {
  return absl::StrCat("SELECT ", SelectList(AllColumns(table), "", ReadForm(table)), " FROM ",
                      table.quoted_name(), " WHERE ", table.primary_key().quoted,
                      " = ANY($1::", TypeName(table.primary_key()), "[])");
}

absl::Status BindColumn(const Message& resource, const Column& column, Params* params) {
  return AboutField(BindField(resource, column, column.path, params), column.path);
}

absl::Status BindWritable(const TableSchema& table, const Message& resource,
                          Params* params) {
  for (const Column& column : table.columns()) {
    if (!column.writable()) continue;
    if (absl::Status s = BindColumn(resource, column, params); !s.ok()) return s;
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
    if (absl::Status s = BindColumn(resource, column, params); !s.ok()) return s;
    sets.push_back(absl::StrCat(column.quoted, " = $", params->size()));
  }
  std::string where = absl::StrCat(table.primary_key().quoted, " = $1");
  if (etag_column != nullptr) {
    sets.push_back(absl::StrCat(etag_column->quoted, " = ", kNewVersionSql));
    if (etag.has_value()) {
      if (absl::Status s = CheckEtag(*etag, etag_column->path);
          !s.ok()) {
        return s;
      }
      params->AddText(*etag);
      absl::StrAppend(&where, " AND ", etag_column->quoted, " = $", params->size());
    }
  }
  const RowForm form = WriteForm(table, written);
  return Statement{
      absl::StrCat(table.name(), ".update.", ColumnSetHex(written),
                   etag.has_value() && etag_column != nullptr ? ".if" : ""),
      absl::StrCat("UPDATE ", table.quoted_name(), " SET ", absl::StrJoin(sets, ", "),
                   " WHERE ", where, " RETURNING ", SelectList(AllColumns(table), "", form)),
      form.binary};
}

}  // namespace protomodel::db
