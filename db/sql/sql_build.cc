#include "db/sql/sql_build.h"

#include <algorithm>
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
    ref = MicrosSql(ref);
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
    const bool wrote = written.empty() ? column.writable() : table.Holds(written, column);
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

std::string InsertBatchSql(const TableSchema& table, size_t rows, bool find_recorded) {
  const Column& pk = table.primary_key();
  std::vector<const Column*> written;
  for (const Column& column : table.columns()) {
    if (column.writable()) written.push_back(&column);
  }
  // The input rows: "pm_ord", "pm_c1".."pm_cN" (the written columns), "pm_rid".
  std::vector<std::string> names = {"\"pm_ord\""};
  for (size_t i = 0; i < written.size(); ++i) names.push_back(absl::StrCat("\"pm_c", i + 1, "\""));
  names.push_back("\"pm_rid\"");
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
  const std::string table_name = absl::StrCat("$", rows * per_row + 1, "::text");
  const std::string count = absl::StrCat("$", rows * per_row + 2, "::int8");
  // The key of each row: written by the caller, or drawn here.
  std::string key;
  for (size_t i = 0; i < written.size(); ++i) {
    if (written[i] == &pk) key = absl::StrCat("\"v\".\"pm_c", i + 1, "\"");
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
    insert_values.push_back("\"pm_k\"");
  }
  for (size_t i = 0; i < written.size(); ++i) {
    insert_columns.push_back(written[i]->quoted);
    insert_values.push_back(absl::StrCat("\"pm_c", i + 1, "\""));
  }
  const std::vector<const Column*> all = AllColumns(table);
  // Rows past the count pad the statement to its size.
  std::string with = absl::StrCat(
      "WITH \"v\" AS (SELECT * FROM (VALUES ", absl::StrJoin(values, ", "), ") AS \"x\"(",
      absl::StrJoin(names, ", "), ") WHERE \"x\".\"pm_ord\" <= ", count, "), ");
  std::string input = "\"v\"";
  if (find_recorded) {
    // Rows whose request_id is recorded were made by an earlier call: they
    // come back as stored and are not made again. (A probe of the key per
    // row, LATERAL, whatever the statistics of a young table say: a hash of
    // the whole table would grow with it.)
    absl::StrAppend(
        &with, "\"found\" AS (SELECT \"v\".\"pm_ord\", \"r\".\"resource_key\" FROM \"v\" CROSS JOIN "
        "LATERAL (SELECT \"resource_key\" FROM \"protomodel_request_ids\" WHERE \"request_id\" = "
        "\"v\".\"pm_rid\" AND \"table_name\" = ", table_name, " LIMIT 1) AS \"r\"), ");
    input = "\"v\" WHERE NOT EXISTS (SELECT 1 FROM \"found\" WHERE \"found\".\"pm_ord\" = \"v\".\"pm_ord\")";
  }
  std::string sql = absl::StrCat(
      with, "\"input\" AS MATERIALIZED (SELECT ", key, " AS \"pm_k\", \"v\".* FROM ", input, "), "
      "\"created\" AS (INSERT INTO ", table.quoted_name(), " (",
      absl::StrJoin(insert_columns, ", "), ")", identity ? " OVERRIDING SYSTEM VALUE" : "",
      " SELECT ", absl::StrJoin(insert_values, ", "),
      " FROM \"input\" RETURNING *), \"recorded\" AS (INSERT INTO \"protomodel_request_ids\" "
      "(\"request_id\", \"table_name\", \"resource_key\") SELECT \"pm_rid\", ", table_name,
      ", \"pm_k\"::text FROM \"input\" WHERE \"pm_rid\" IS NOT NULL) "
      "SELECT \"input\".\"pm_ord\"::text, '0', ",
      SelectList(all, "\"created\"", WriteForm(table)),
      " FROM \"created\" JOIN \"input\" ON \"created\".", pk.quoted, " = \"input\".\"pm_k\"");
  if (find_recorded) {
    absl::StrAppend(&sql, " UNION ALL SELECT \"found\".\"pm_ord\"::text, '1', ",
                    SelectList(all, "\"stored\"", ReadForm(table)), " FROM \"found\" JOIN ",
                    table.quoted_name(), " AS \"stored\" ON \"stored\".", pk.quoted,
                    " = \"found\".\"resource_key\"::", TypeName(pk));
  }
  return sql;
}

namespace {

// Whether the size of `column`'s values counts toward a BatchGet's limit,
// and the SQL of that size: text and bytes by their length (without
// reading them), JSON and arrays by their stored size.
std::string SizeExpr(const Column& column, absl::string_view alias) {
  const std::string ref = absl::StrCat(alias, ".", column.quoted);
  if (!column.repeated && (column.type == ColumnType::kString || column.type == ColumnType::kBytes)) {
    return absl::StrCat("coalesce(octet_length(", ref, "), 0)");
  }
  if (column.repeated || column.type == ColumnType::kJson) {
    return absl::StrCat("coalesce(pg_column_size(", ref, "), 0)");
  }
  return "";
}

// Whether a batch update row writes its `i`th column (0-based): its mask is
// text of '0' and '1', a character per column.
std::string MaskBit(size_t i) {
  return absl::StrCat("substr(\"v\".\"pm_mask\", ", i + 1, ", 1) = '1'");
}

// What a write of a live document's state adds to an UPDATE of `table`
// (the API's "Live CRDT documents"), when `writes` (SQL: whether this row's
// write holds the state) is true: the write takes the next seq as its
// update_seq and compacted_seq (so the table's triggers delete every
// update), and without an etag (`etag_given`, SQL) it applies only while no
// update waits uncompacted. `row` is the alias the old values are read
// through. Nothing for a table without a document.
struct DocumentReplace {
  std::vector<std::string> sets;
  std::string condition;  // " AND ...", or ""
};
DocumentReplace ReplaceDocument(const TableSchema& table, absl::string_view row,
                                absl::string_view writes, absl::string_view etag_given) {
  const Document* document = table.document();
  if (document == nullptr) return {};
  const std::string update_seq = absl::StrCat(row, ".", document->update_seq->quoted);
  const std::string compacted_seq = absl::StrCat(row, ".", document->compacted_seq->quoted);
  const auto next = [&](const std::string& current) {
    return writes == "true" ? absl::StrCat(update_seq, " + 1")
                            : absl::StrCat("CASE WHEN ", writes, " THEN ", update_seq,
                                           " + 1 ELSE ", current, " END");
  };
  DocumentReplace replace;
  replace.sets = {absl::StrCat(document->update_seq->quoted, " = ", next(update_seq)),
                  absl::StrCat(document->compacted_seq->quoted, " = ", next(compacted_seq))};
  if (etag_given == "true") return replace;  // the etag covers every update
  replace.condition =
      writes == "true" && etag_given == "false"
          ? absl::StrCat(" AND ", update_seq, " = ", compacted_seq)
          : absl::StrCat(" AND (", etag_given, " OR NOT (", writes, ") OR ", update_seq, " = ",
                         compacted_seq, ")");
  return replace;
}

}  // namespace

std::string MicrosSql(absl::string_view time) {
  return absl::StrCat("(extract(epoch from ", time, ") * 1000000)::int8");
}

FullViewJoins RelationJoins(const TableSchema& table, bool binary) {
  FullViewJoins joins;
  const std::string& pk = table.primary_key().quoted;
  for (size_t i = 0; i < table.relations().size(); ++i) {
    const Relation& relation = table.relations()[i];
    const TableSchema& target = *relation.target;
    const std::string alias = absl::StrCat("\"j", i, "\"");
    joins.select.push_back(SelectList(AllColumns(target), alias, RowForm{binary, {}}));
    if (!relation.field->is_repeated()) {
      absl::StrAppend(&joins.from, " LEFT JOIN ", target.quoted_name(), " AS ", alias, " ON ",
                      alias, ".", target.primary_key().quoted, " = \"r\".",
                      relation.local->quoted);
    } else {
      absl::StrAppend(&joins.from, " LEFT JOIN LATERAL (SELECT * FROM ", target.quoted_name(),
                      " WHERE ", relation.remote->quoted, " = \"r\".", pk, " ORDER BY ",
                      target.primary_key().quoted, " LIMIT ", relation.limit, ") AS ", alias,
                      " ON true");
      joins.order = absl::StrCat(alias, ".", target.primary_key().quoted);
    }
  }
  return joins;
}

Statement BatchGetStatement(const TableSchema& table, const std::vector<const Column*>& columns,
                            bool relations) {
  const RowForm form = ReadForm(table);
  const std::string& pk = table.primary_key().quoted;
  const std::string keys = absl::StrCat("$1::", TypeName(table.primary_key()), "[]");
  std::vector<std::string> sizes;
  std::vector<std::string> select = {"\"k\".\"pm_ord\"::text", ""};
  for (const Column* column : columns) {
    std::string expr = ColumnExpr(*column, "\"r\"", form);
    const std::string size = SizeExpr(*column, "\"r2\"");
    if (!size.empty()) {
      // Past the limit the large values stay behind: the call fails, and
      // the database sends nothing it would not use.
      sizes.push_back(size);
      expr = absl::StrCat("CASE WHEN \"s\".\"pm_total\" <= $2::int8 THEN ", expr, " END");
    }
    select.push_back(std::move(expr));
  }
  std::string from = absl::StrCat("unnest(", keys, ") WITH ORDINALITY AS \"k\"(\"pm_key\", "
                                  "\"pm_ord\") JOIN ", table.quoted_name(), " AS \"r\" ON \"r\".",
                                  pk, " = \"k\".\"pm_key\"");
  if (sizes.empty()) {
    select[1] = "'0'";
    // $2 is still sent: it must appear, typed.
    absl::StrAppend(&from, " CROSS JOIN (SELECT $2::int8 AS \"pm_limit\") AS \"s\"");
  } else {
    select[1] = "\"s\".\"pm_total\"::text";
    absl::StrAppend(&from, " CROSS JOIN (SELECT coalesce(sum(", absl::StrJoin(sizes, " + "),
                    "), 0) AS \"pm_total\" FROM unnest(", keys, ") AS \"k2\"(\"pm_key\") JOIN ",
                    table.quoted_name(), " AS \"r2\" ON \"r2\".", pk,
                    " = \"k2\".\"pm_key\") AS \"s\"");
  }
  std::string order = "\"k\".\"pm_ord\"";
  if (relations) {
    const FullViewJoins joins = RelationJoins(table, form.binary);
    for (const std::string& part : joins.select) select.push_back(part);
    absl::StrAppend(&from, joins.from);
    if (!joins.order.empty()) absl::StrAppend(&order, ", ", joins.order);
  }
  return Statement{
      absl::StrCat(table.name(), ".batch_get.", ColumnSetHex(table.ColumnSet(columns)),
                   relations ? ".full" : ""),
      absl::StrCat("SELECT ", absl::StrJoin(select, ", "), " FROM ", from, " ORDER BY ", order),
      form.binary};
}

std::string BatchUpdateSql(const TableSchema& table, const std::vector<const Column*>& columns,
                           size_t rows) {
  const Column& pk = table.primary_key();
  const Column* etag = table.etag();
  const std::string& t = table.quoted_name();
  // Per row: the key, the mask, each column's value, the etag (if any).
  std::vector<std::string> names = {"\"pm_ord\"", "\"pm_key\"", "\"pm_mask\""};
  for (size_t i = 0; i < columns.size(); ++i) names.push_back(absl::StrCat("\"pm_c", i + 1, "\""));
  if (etag != nullptr) names.push_back("\"pm_etag\"");
  const size_t per_row = names.size() - 1;
  std::vector<std::string> values;
  for (size_t row = 0; row < rows; ++row) {
    const size_t base = row * per_row;
    std::vector<std::string> cells = {absl::StrCat(row + 1),
                                      absl::StrCat("$", base + 1, "::", TypeName(pk)),
                                      absl::StrCat("$", base + 2, "::text")};
    for (size_t i = 0; i < columns.size(); ++i) {
      cells.push_back(absl::StrCat("$", base + 3 + i, "::", TypeName(*columns[i])));
    }
    if (etag != nullptr) cells.push_back(absl::StrCat("$", base + 3 + columns.size(), "::text"));
    values.push_back(absl::StrCat("(", absl::StrJoin(cells, ", "), ")"));
  }
  const std::string etag_matches =
      etag == nullptr ? ""
                      : absl::StrCat(" AND (\"v\".\"pm_etag\" IS NULL OR \"l\".", etag->quoted,
                                     " = \"v\".\"pm_etag\")");
  std::vector<std::string> sets;
  for (size_t i = 0; i < columns.size(); ++i) {
    sets.push_back(absl::StrCat(columns[i]->quoted, " = CASE WHEN ", MaskBit(i), " THEN \"v\".\"pm_c",
                                i + 1, "\" ELSE ", t, ".", columns[i]->quoted, " END"));
  }
  if (etag != nullptr) {
    // Every write changes the etag; an entry that writes nothing does not.
    sets.push_back(absl::StrCat(etag->quoted, " = CASE WHEN position('1' in \"v\".\"pm_mask\") > 0 "
                                "THEN ", kNewVersionSql, " ELSE ", t, ".", etag->quoted, " END"));
  }
  if (sets.empty()) sets.push_back(absl::StrCat(pk.quoted, " = ", t, ".", pk.quoted));
  // What comes back: every column, but the bytes a row wrote (echoed).
  const RowForm form = ReadForm(table);
  std::vector<std::string> returning = {"\"v\".\"pm_ord\"::text"};
  for (const Column& column : table.columns()) {
    std::string expr = ColumnExpr(column, t, form);
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i] == &column && IsRawBytes(column)) {
        expr = absl::StrCat("CASE WHEN ", MaskBit(i), " THEN NULL ELSE ", expr, " END");
      }
    }
    returning.push_back(std::move(expr));
  }
  std::string where = absl::StrCat(t, ".", pk.quoted, " = \"v\".\"pm_key\"");
  if (etag != nullptr) {
    absl::StrAppend(&where, " AND (\"v\".\"pm_etag\" IS NULL OR ", t, ".", etag->quoted,
                    " = \"v\".\"pm_etag\")");
  }
  // A row writing the document's state replaces it.
  std::string document_matches;
  if (const Document* document = table.document()) {
    const auto state = std::find(columns.begin(), columns.end(), document->state);
    if (state != columns.end()) {
      const std::string writes = MaskBit(static_cast<size_t>(state - columns.begin()));
      const std::string etag_given = "\"v\".\"pm_etag\" IS NOT NULL";
      const DocumentReplace replace = ReplaceDocument(table, t, writes, etag_given);
      sets.insert(sets.end(), replace.sets.begin(), replace.sets.end());
      where += replace.condition;
      document_matches = ReplaceDocument(table, "\"l\"", writes, etag_given).condition;
    }
  }
  // Every row is locked (and its etag checked) first; unless all are there
  // and match, nothing is written and no row comes back.
  return absl::StrCat(
      "WITH \"v\"(", absl::StrJoin(names, ", "), ") AS (VALUES ", absl::StrJoin(values, ", "),
      "), \"locked\" AS (SELECT count(*) AS \"pm_n\" FROM (SELECT 1 FROM ", t, " AS \"l\" JOIN \"v\" "
      "ON \"l\".", pk.quoted, " = \"v\".\"pm_key\"", etag_matches, document_matches,
      " FOR UPDATE OF \"l\") AS \"x\") "
      "UPDATE ", t, " SET ", absl::StrJoin(sets, ", "), " FROM \"v\", \"locked\" WHERE ", where,
      " AND \"locked\".\"pm_n\" = ", rows, " RETURNING ", absl::StrJoin(returning, ", "));
}

std::string BatchDeleteSql(const TableSchema& table) {
  const Column& pk = table.primary_key();
  const Column* etag = table.etag();
  const std::string& t = table.quoted_name();
  const std::string keys = absl::StrCat("$1::", TypeName(pk), "[]");
  // An empty etag checks nothing.
  const auto etag_matches = [&](absl::string_view alias) {
    return etag == nullptr ? std::string()
                           : absl::StrCat(" AND (\"v\".\"pm_etag\" = '' OR ", alias, ".",
                                          etag->quoted, " = \"v\".\"pm_etag\")");
  };
  return absl::StrCat(
      "WITH \"v\" AS (SELECT * FROM unnest(", keys,
      etag != nullptr ? ", $2::text[]) AS \"u\"(\"pm_key\", \"pm_etag\")"
                      : ") AS \"u\"(\"pm_key\")",
      "), \"locked\" AS (SELECT count(*) AS \"pm_n\" FROM (SELECT 1 FROM ", t, " AS \"l\" JOIN \"v\" "
      "ON \"l\".", pk.quoted, " = \"v\".\"pm_key\"", etag_matches("\"l\""),
      " FOR UPDATE OF \"l\") AS \"x\"), \"deleted\" AS (DELETE FROM ", t,
      " USING \"v\", \"locked\" WHERE ", t, ".", pk.quoted, " = \"v\".\"pm_key\"", etag_matches(t),
      " AND \"locked\".\"pm_n\" = cardinality(", keys, ") RETURNING 1) "
      "SELECT count(*)::text FROM \"deleted\"");
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
  const std::vector<bool> written = table.ColumnSet(columns);
  std::vector<std::string> sets;
  for (const Column& column : table.columns()) {
    if (!table.Holds(written, column)) continue;
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
  if (const Document* document = table.document();
      document != nullptr && table.Holds(written, *document->state)) {
    const DocumentReplace replace =
        ReplaceDocument(table, table.quoted_name(), "true",
                        etag.has_value() && etag_column != nullptr ? "true" : "false");
    sets.insert(sets.end(), replace.sets.begin(), replace.sets.end());
    where += replace.condition;
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
