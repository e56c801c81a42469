#include "db/documents.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "db/errors.h"
#include "db/rows.h"
#include "db/schema/ddl.h"
#include "db/sql/sql_build.h"

namespace protomodel::db {
namespace {

// protomodel_request_ids records an append's request_id under this name
// (its table's, with "/updates"), so that it never meets a create's.
std::string AppendsName(const TableSchema& table) { return absl::StrCat(table.name(), "/updates"); }

int64_t CellInt(const Cell& cell) {
  int64_t value = 0;
  if (!cell.null && !absl::SimpleAtoi(absl::string_view(cell.data, cell.size), &value)) value = 0;
  return value;
}

}  // namespace

DocumentLog::DocumentLog(const Table& table, Pipeline& pipeline)
    : table_(table), pipeline_(pipeline) {
  const TableSchema& t = table.schema();
  const Document& document = *t.document();
  const std::string& name = t.name();
  const std::string& table_name = t.quoted_name();
  const std::string& pk = t.primary_key().quoted;
  const std::string key = absl::StrCat("$1::", TypeName(t.primary_key()));
  const std::string& update_seq = document.update_seq->quoted;
  const std::string& compacted_seq = document.compacted_seq->quoted;
  const std::string literal = QuoteLiteral(name);
  all_columns_ = AllColumns(t);

  // $1 key, $2 the update, $3 the request_id (NULL: none).
  append_ = {
      absl::StrCat(name, ".append_update"),
      absl::StrCat(
          "WITH \"doc\" AS (UPDATE ", table_name, " SET ", update_seq, " = ", update_seq, " + 1",
          ", ", t.etag()->quoted, " = ", kNewVersionSql, " WHERE ", pk, " = ", key,
          " RETURNING ", update_seq, " AS \"seq\"), "
          "\"recorded\" AS (INSERT INTO \"protomodel_request_ids\" (\"request_id\", "
          "\"table_name\", \"resource_key\") SELECT $3::uuid, ", QuoteLiteral(AppendsName(t)),
          ", $1::text || '/' || \"seq\" FROM \"doc\" WHERE $3::uuid IS NOT NULL) "
          "INSERT INTO \"protomodel_document_updates\" (\"table_name\", \"document_key\", "
          "\"seq\", \"update\") SELECT ", literal, ", $1::text, \"seq\", $2::bytea FROM \"doc\" "
          "RETURNING \"seq\"::text, ", MicrosSql("\"created_at\""), "::text"),
      false};
  // For each of `rows` rows, $3i+1 the key, $3i+2 the update, $3i+3 the
  // request_id; rows with a NULL key are padding.
  for (const size_t rows : {size_t{4}, size_t{16}, kMaxAppendBatch}) {
    std::vector<std::string> values;
    for (size_t i = 0; i < rows; ++i) {
      values.push_back(absl::StrCat("(", i + 1, ", $", 3 * i + 1, "::text, $", 3 * i + 2,
                                    "::bytea, $", 3 * i + 3, "::uuid)"));
    }
    const std::string pk_type = TypeName(t.primary_key());
    append_many_.emplace_back(
        rows,
        Statement{
            absl::StrCat(name, ".append_updates.", rows),
            absl::StrCat(
                "WITH \"input\" AS MATERIALIZED (SELECT * FROM (VALUES ",
                absl::StrJoin(values, ", "),
                ") AS v(\"ord\", \"k\", \"u\", \"r\") WHERE \"k\" IS NOT NULL), "
                "\"counts\" AS (SELECT \"k\", count(*) AS \"n\" FROM \"input\" GROUP BY \"k\"), "
                // In key order, so that two batches never wait for each other
                // in a circle.
                "\"locked\" AS (SELECT count(*) AS \"n\" FROM (SELECT 1 FROM ", table_name,
                " d JOIN \"counts\" c ON d.", pk, " = c.\"k\"::", pk_type, " ORDER BY d.", pk,
                " FOR UPDATE OF d) AS x), "
                "\"doc\" AS (UPDATE ", table_name, " d SET ", update_seq, " = d.", update_seq,
                " + c.\"n\", ", t.etag()->quoted, " = ", kNewVersionSql, " FROM \"counts\" c, "
                "\"locked\" WHERE d.", pk, " = c.\"k\"::", pk_type, " RETURNING c.\"k\", d.",
                update_seq, " AS \"last\", c.\"n\"), "
                "\"numbered\" AS MATERIALIZED (SELECT i.\"ord\", i.\"k\", i.\"u\", i.\"r\", "
                "doc.\"last\" - doc.\"n\" + row_number() OVER (PARTITION BY i.\"k\" ORDER BY "
                "i.\"ord\") AS \"seq\" FROM \"input\" i JOIN \"doc\" ON doc.\"k\" = i.\"k\"), "
                "\"recorded\" AS (INSERT INTO \"protomodel_request_ids\" (\"request_id\", "
                "\"table_name\", \"resource_key\") SELECT \"r\", ", QuoteLiteral(AppendsName(t)),
                ", \"k\" || '/' || \"seq\" FROM \"numbered\" WHERE \"r\" IS NOT NULL), "
                "\"stored\" AS (INSERT INTO \"protomodel_document_updates\" (\"table_name\", "
                "\"document_key\", \"seq\", \"update\") SELECT ", literal,
                ", \"k\", \"seq\", \"u\" FROM \"numbered\") "
                "SELECT \"ord\"::text, \"seq\"::text, ", MicrosSql("now()"),
                "::text FROM \"numbered\""),
            false});
  }
  // $1 the request_id.
  find_appended_ = {
      absl::StrCat(name, ".find_appended"),
      absl::StrCat("SELECT \"resource_key\", ", MicrosSql("\"created_at\""), "::text",
                   " FROM \"protomodel_request_ids\" WHERE \"request_id\" = $1::uuid AND "
                   "\"table_name\" = ",
                   QuoteLiteral(AppendsName(t))),
      false};
  // $1 key, $2 after, $3 rows, $4 bytes. The counters and the updates in
  // one statement, so they agree.
  read_ = {
      absl::StrCat(name, ".read_updates"),
      absl::StrCat(
          "SELECT d.", update_seq, "::text, d.", compacted_seq, "::text, u.\"seq\"::text, ",
          MicrosSql("u.\"created_at\""), "::text, u.\"update\" FROM ",
          table_name, " d LEFT JOIN LATERAL (SELECT \"seq\", \"created_at\", \"update\", "
          "sum(octet_length(\"update\")) OVER (ORDER BY \"seq\") AS \"through\", "
          "octet_length(\"update\") AS \"size\" FROM \"protomodel_document_updates\" WHERE "
          "\"table_name\" = ", literal, " AND \"document_key\" = $1::text AND \"seq\" > $2::int8 "
          "ORDER BY \"seq\" LIMIT $3::int4) u ON u.\"through\" <= $4::int8 OR "
          "u.\"through\" = u.\"size\" WHERE d.", pk, " = ", key, " ORDER BY u.\"seq\""),
      true};
  // $1 key, $2 through, $3 the state.
  // The state comes back NULL: the caller has it.
  const RowForm compact_form = WriteForm(t, t.ColumnSet({document.state}));
  compact_ = {
      absl::StrCat(name, ".compact"),
      absl::StrCat("UPDATE ", table_name, " SET ", document.state->quoted, " = $3::bytea, ",
                   compacted_seq, " = $2::int8, ", t.etag()->quoted,
                   " = ", kNewVersionSql, " WHERE ", pk, " = ", key, " AND ", compacted_seq,
                   " < $2::int8 AND ", update_seq, " >= $2::int8 RETURNING ",
                   SelectList(all_columns_, "", compact_form)),
      compact_form.binary};
  counters_ = {absl::StrCat(name, ".document_counters"),
               absl::StrCat("SELECT ", update_seq, "::text, ", compacted_seq, "::text FROM ",
                            table_name, " WHERE ", pk, " = ", key),
               false};
}

void DocumentLog::Append(std::string key, absl::string_view data, std::string request_id,
                         CallLimit limit, AppendDone done) const {
  Params params;
  params.AddText(key);
  params.AddBinaryView(data);
  if (request_id.empty()) {
    params.AddNull();
  } else {
    params.AddText(request_id);
  }
  std::string what = table_.Describe(key);
  CallLimit again = limit;
  pipeline_.Run(
      append_, std::move(params), std::move(limit),
      {"append_update", StatementKind::kWrite, std::move(what)},
      [this, key = std::move(key), request_id = std::move(request_id), again = std::move(again),
       done = std::move(done)](absl::StatusOr<Result> result) mutable {
        if (!result.ok()) {
          if (!request_id.empty() &&
              ViolatedConstraint(result.status()) == "protomodel_request_ids_pkey") {
            return FindAppended(std::move(request_id), std::move(again), std::move(done));
          }
          return std::move(done)(result.status());
        }
        if (result->empty()) return std::move(done)(table_.NotFound(key));
        std::move(done)(Appended{std::move(key), CellInt(result->cell(0, 0)),
                                 CellInt(result->cell(0, 1))});
      });
}

void DocumentLog::AppendMany(std::vector<PendingAppend> appends, CallLimit limit,
                             AppendedMany done) const {
  const Statement* statement = nullptr;
  size_t rows = 0;
  for (const auto& [capacity, candidate] : append_many_) {
    if (capacity >= appends.size()) {
      statement = &candidate;
      rows = capacity;
      break;
    }
  }
  if (statement == nullptr) {
    return std::move(done)(absl::InvalidArgumentError("too many appends for one statement"));
  }
  Params params;
  for (size_t i = 0; i < rows; ++i) {
    if (i >= appends.size()) {
      params.AddNull();
      params.AddNull();
      params.AddNull();
      continue;
    }
    params.AddText(appends[i].key);
    params.AddBinaryView(appends[i].data);
    if (appends[i].request_id.empty()) {
      params.AddNull();
    } else {
      params.AddText(appends[i].request_id);
    }
  }
  pipeline_.Run(
      *statement, std::move(params), std::move(limit),
      {"append_update", StatementKind::kWrite, absl::StrCat("appending to ", schema().name(), " documents")},
      [this, appends = std::move(appends), done = std::move(done)](
          absl::StatusOr<Result> result) mutable {
        if (!result.ok()) return std::move(done)(result.status());
        std::vector<absl::StatusOr<Appended>> each;
        for (const PendingAppend& append : appends) each.push_back(table_.NotFound(append.key));
        for (size_t row = 0; row < result->size(); ++row) {
          const int64_t ord = CellInt(result->cell(row, 0));
          if (ord < 1 || static_cast<size_t>(ord) > appends.size()) continue;
          const size_t i = static_cast<size_t>(ord - 1);
          each[i] = Appended{appends[i].key, CellInt(result->cell(row, 1)),
                             CellInt(result->cell(row, 2))};
        }
        std::move(done)(std::move(each));
      });
}

void DocumentLog::FindAppended(std::string request_id, CallLimit limit, AppendDone done) const {
  Params params;
  params.AddText(request_id);
  pipeline_.Run(find_appended_, std::move(params), std::move(limit),
                {"append_update", StatementKind::kRead, "finding an earlier append"},
                [done = std::move(done)](absl::StatusOr<Result> result) mutable {
                  if (!result.ok()) return std::move(done)(result.status());
                  if (result->empty()) {
                    // Recorded, then expired between the two statements.
                    return std::move(done)(absl::AbortedError(
                        "request_id: the append it recorded has just expired; retry"));
                  }
                  const Cell recorded = result->cell(0, 0);
                  const std::pair<std::string, std::string> parts = absl::StrSplit(
                      absl::string_view(recorded.data, recorded.size), absl::MaxSplits('/', 1));
                  int64_t seq = 0;
                  if (!absl::SimpleAtoi(parts.second, &seq)) {
                    return std::move(done)(absl::InternalError("a malformed append record"));
                  }
                  std::move(done)(Appended{parts.first, seq, CellInt(result->cell(0, 1))});
                });
}

void DocumentLog::ReadUpdates(std::string key, int64_t after, int max_rows, size_t max_bytes,
                              CallLimit limit, Read done) const {
  Params params;
  params.AddText(key);
  params.AddText(absl::StrCat(after));
  params.AddText(absl::StrCat(max_rows));
  params.AddText(absl::StrCat(max_bytes));
  std::string what = table_.Describe(key);
  pipeline_.Run(read_, std::move(params), std::move(limit),
                {"list_updates", StatementKind::kRead, std::move(what)},
                [this, key = std::move(key), done = std::move(done)](
                    absl::StatusOr<Result> result) mutable {
                  if (!result.ok()) return std::move(done)(result.status());
                  if (result->empty()) return std::move(done)(table_.NotFound(key));
                  Page page;
                  page.update_seq = CellInt(result->cell(0, 0));
                  page.compacted_seq = CellInt(result->cell(0, 1));
                  for (size_t row = 0; row < result->size(); ++row) {
                    const Cell data = result->cell(row, 4);
                    if (result->cell(row, 2).null) continue;  // no update after `after`
                    page.updates.push_back({CellInt(result->cell(row, 2)),
                                            CellInt(result->cell(row, 3)),
                                            absl::string_view(data.data, data.size)});
                  }
                  page.result = *std::move(result);
                  std::move(done)(std::move(page));
                });
}

absl::Status DocumentLog::CheckAfter(absl::string_view key, int64_t after, int64_t update_seq,
                                     int64_t compacted_seq, absl::string_view field) const {
  if (after < compacted_seq) {
    return WithReason(
        AboutField(absl::OutOfRangeError(absl::StrCat(
                       table_.Describe(key), ": ", field, " ", after, " is below compacted_seq ",
                       compacted_seq, ": those updates are merged into ",
                       schema().document()->state->name,
                       " now; read the document again and go on from its compacted_seq")),
                   field),
        reason::kDocumentCompacted);
  }
  if (after > update_seq) {
    return WithReason(AboutField(absl::OutOfRangeError(absl::StrCat(
                                     table_.Describe(key), ": ", field, " ", after,
                                     " is past update_seq ", update_seq)),
                                 field),
                      reason::kSeqAhead);
  }
  return absl::OkStatus();
}

void DocumentLog::Compact(std::string key, int64_t through, absl::string_view state, CallLimit limit,
                          google::protobuf::Message* out, Table::Done done) const {
  Params params;
  params.AddText(key);
  params.AddText(absl::StrCat(through));
  params.AddBinaryView(state);
  std::string what = table_.Describe(key);
  CallLimit again = limit;
  pipeline_.Run(
      compact_, std::move(params), std::move(limit),
      {"compact", StatementKind::kWrite, std::move(what)},
      [this, key = std::move(key), through, state, out, again = std::move(again),
       done = std::move(done)](absl::StatusOr<Result> result) mutable {
        if (!result.ok()) return std::move(done)(result.status());
        if (result->empty()) {
          return ExplainCompact(std::move(key), through, std::move(again), std::move(done));
        }
        absl::Status status = ReadRow(ResultRow{&*result, 0}, 0, all_columns_, out);
        if (status.ok()) {
          out->GetReflection()->SetString(out, schema().document()->state->field,
                                          std::string(state));
        }
        std::move(done)(std::move(status));
      });
}

void DocumentLog::ExplainCompact(std::string key, int64_t through, CallLimit limit,
                                 Table::Done done) const {
  Params params;
  params.AddText(key);
  std::string what = table_.Describe(key);
  pipeline_.Run(
      counters_, std::move(params), std::move(limit),
      {"compact", StatementKind::kRead, std::move(what)},
      [this, key = std::move(key), through, done = std::move(done)](
          absl::StatusOr<Result> result) mutable {
        if (!result.ok()) return std::move(done)(result.status());
        if (result->empty()) return std::move(done)(table_.NotFound(key));
        const int64_t update_seq = CellInt(result->cell(0, 0));
        const int64_t compacted_seq = CellInt(result->cell(0, 1));
        if (through > update_seq) {
          return std::move(done)(WithReason(
              AboutField(absl::OutOfRangeError(absl::StrCat(
                             table_.Describe(key), ": through_seq ", through,
                             " is past update_seq ", update_seq)),
                         "through_seq"),
              reason::kSeqAhead));
        }
        // through <= compacted_seq, now or when the compaction ran.
        std::move(done)(WithReason(
            absl::AbortedError(absl::StrCat(table_.Describe(key), ": compacted through ",
                                            compacted_seq, " already, at or past through_seq ",
                                            through, "; nothing written")),
            reason::kAlreadyCompacted));
      });
}

}  // namespace protomodel::db
