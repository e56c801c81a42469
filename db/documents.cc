#include "db/documents.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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

constexpr char kMicros[] = "(extract(epoch from \"created_at\") * 1000000)::int8::text";

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
          ", ", t.etag()->quoted, " = gen_random_uuid()::text WHERE ", pk, " = ", key,
          " RETURNING ", update_seq, " AS \"seq\"), "
          "\"recorded\" AS (INSERT INTO \"protomodel_request_ids\" (\"request_id\", "
          "\"table_name\", \"resource_key\") SELECT $3::uuid, ", QuoteLiteral(AppendsName(t)),
          ", $1::text || '/' || \"seq\" FROM \"doc\" WHERE $3::uuid IS NOT NULL) "
          "INSERT INTO \"protomodel_document_updates\" (\"table_name\", \"document_key\", "
          "\"seq\", \"update\") SELECT ", literal, ", $1::text, \"seq\", $2::bytea FROM \"doc\" "
          "RETURNING \"seq\"::text, ", kMicros),
      false};
  // $1 the request_id.
  find_appended_ = {
      absl::StrCat(name, ".find_appended"),
      absl::StrCat("SELECT \"resource_key\", ", kMicros,
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
          "(extract(epoch from u.\"created_at\") * 1000000)::int8::text, u.\"update\" FROM ",
          table_name, " d LEFT JOIN LATERAL (SELECT \"seq\", \"created_at\", \"update\", "
          "sum(octet_length(\"update\")) OVER (ORDER BY \"seq\") AS \"through\", "
          "octet_length(\"update\") AS \"size\" FROM \"protomodel_document_updates\" WHERE "
          "\"table_name\" = ", literal, " AND \"document_key\" = $1::text AND \"seq\" > $2::int8 "
          "ORDER BY \"seq\" LIMIT $3::int4) u ON u.\"through\" <= $4::int8 OR "
          "u.\"through\" = u.\"size\" WHERE d.", pk, " = ", key, " ORDER BY u.\"seq\""),
      true};
  // $1 key, $2 through, $3 the state.
  const std::vector<bool> written = t.ColumnSet({document.state});
  compact_form_ = WriteForm(t, written);
  compact_ = {
      absl::StrCat(name, ".compact"),
      absl::StrCat("UPDATE ", table_name, " SET ", document.state->quoted, " = $3::bytea, ",
                   compacted_seq, " = $2::int8, ", t.etag()->quoted,
                   " = gen_random_uuid()::text WHERE ", pk, " = ", key, " AND ", compacted_seq,
                   " < $2::int8 AND ", update_seq, " >= $2::int8 RETURNING ",
                   SelectList(all_columns_, "", compact_form_)),
      compact_form_.binary};
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
