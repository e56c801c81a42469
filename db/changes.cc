#include "db/changes.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "db/errors.h"
#include "db/exec/sql_status.h"
#include "db/sql/codec.h"
#include "db/sql/page_token.h"
#include "db/sql/sql_build.h"

namespace protomodel::db {
namespace {

// The names of the transition tables the triggers declare.
constexpr char kOld[] = "\"protomodel_old\"";
constexpr char kNew[] = "\"protomodel_new\"";
// The triggers on each table, by the event each logs.
constexpr const char* kTriggers[] = {"protomodel_watch_insert", "protomodel_watch_update",
                                     "protomodel_watch_delete", "protomodel_watch_truncate"};
// pg_try_advisory_xact_lock key of the pruning: "protoprn" in ASCII.
constexpr char kPruneLockSql[] = "SELECT pg_try_advisory_xact_lock(8030873813925524078)";
constexpr absl::string_view kTokenDomain = "protomodel.watch_token.v1";
// A resume token holds two snapshots, each as long as the transactions in
// progress when it was taken.
constexpr size_t kMaxResumeTokenLength = 256 * 1024;

// The trigger function's name: "protomodel_watch_<table>", shortened with a
// digest of the table's name where that would pass PostgreSQL's 63 bytes.
std::string FunctionName(const TableSchema& table) {
  const std::string name = absl::StrCat("protomodel_watch_", table.name());
  if (name.size() <= 63) return name;
  uint32_t hash = 2166136261u;  // FNV-1a: stable across builds and machines
  for (unsigned char c : table.name()) hash = (hash ^ c) * 16777619u;
  return absl::StrFormat("protomodel_watch_%s_%08x", table.name().substr(0, 36), hash);
}

// The text of `column` of the row `alias`, as Table reads columns back:
// times as microseconds since the epoch.
std::string ValueExpr(const Column& column, absl::string_view alias) {
  const std::string ref = absl::StrCat(alias, ".", column.quoted);
  if (column.type == ColumnType::kTimestamp || column.type == ColumnType::kDuration) {
    return absl::StrCat(MicrosSql(ref), "::text");
  }
  return absl::StrCat(ref, "::text");
}

// A JSON object of the watched columns of the row `alias`. jsonb_build_object
// takes at most 100 arguments: wide tables join several.
std::string ValuesExpr(const TableSchema& table, absl::string_view alias) {
  std::vector<std::string> parts;
  std::vector<std::string> pairs;
  const auto flush = [&] {
    parts.push_back(absl::StrCat("jsonb_build_object(", absl::StrJoin(pairs, ", "), ")"));
    pairs.clear();
  };
  for (const Column* column : WatchedColumns(table)) {
    pairs.push_back(absl::StrCat(QuoteLiteral(column->name), ", ", ValueExpr(*column, alias)));
    if (pairs.size() == 40) flush();
  }
  if (!pairs.empty() || parts.empty()) flush();
  return absl::StrJoin(parts, " || ");
}

// The statements of `table`'s trigger function that keep its live
// documents' updates (protomodel_document_updates) to the seqs above each
// one's compacted_seq, by the event: "" for a table without a document.
struct DocumentClauses {
  std::string update, remove, truncate;
};
DocumentClauses DocumentStatements(const TableSchema& table) {
  const Document* document = table.document();
  if (document == nullptr) return {};
  const std::string name = QuoteLiteral(table.name());
  const std::string& key = table.primary_key().quoted;
  const std::string& compacted = document->compacted_seq->quoted;
  const std::string from = "    DELETE FROM \"protomodel_document_updates\" u";
  return {
      // A compaction or a replace moved compacted_seq.
      absl::StrCat(from, " USING ", kOld, " o JOIN ", kNew, " n ON o.", key, " = n.", key,
                   "\n      WHERE n.", compacted, " > o.", compacted, " AND u.\"table_name\" = ",
                   name, " AND u.\"document_key\" = n.", key, "::text AND u.\"seq\" <= n.",
                   compacted, ";\n"),
      absl::StrCat(from, " USING ", kOld, " o\n      WHERE u.\"table_name\" = ", name,
                   " AND u.\"document_key\" = o.", key, "::text;\n"),
      absl::StrCat(from, " WHERE u.\"table_name\" = ", name, ";\n")};
}

// The body of `table`'s trigger function: one INSERT of the statement's
// rows, and for a table with a live document the upkeep of its updates.
std::string FunctionBody(const TableSchema& table) {
  const std::string name = QuoteLiteral(table.name());
  const std::string& key = table.primary_key().quoted;
  const std::string insert =
      "INSERT INTO \"protomodel_changes\" (\"table_name\", \"op\", \"resource_key\", "
      "\"old_values\", \"new_values\")";
  const DocumentClauses document = DocumentStatements(table);
  return absl::StrCat(
      "\nBEGIN\n"
      "  IF TG_OP = 'INSERT' THEN\n    ", insert, "\n    SELECT ", name, ", 'I', n.", key,
      "::text, NULL, ", ValuesExpr(table, "n"), " FROM ", kNew, " n;\n",
      "  ELSIF TG_OP = 'UPDATE' THEN\n"
      "    -- A row whose key changed leaves (D) and another arrives (I).\n    ",
      insert, "\n    SELECT ", name, ", CASE WHEN o.", key, " IS NULL THEN 'I' WHEN n.", key,
      " IS NULL THEN 'D' ELSE 'U' END, coalesce(n.", key, ", o.", key,
      ")::text,\n      CASE WHEN o.", key, " IS NOT NULL THEN ", ValuesExpr(table, "o"),
      " END,\n      CASE WHEN n.", key, " IS NOT NULL THEN ", ValuesExpr(table, "n"),
      " END\n    FROM ", kOld, " o FULL JOIN ", kNew, " n ON o.", key, " = n.", key,
      "\n    ORDER BY o.", key, " IS NULL;\n", document.update,
      "  ELSIF TG_OP = 'DELETE' THEN\n    ", insert, "\n    SELECT ", name, ", 'D', o.", key,
      "::text, ", ValuesExpr(table, "o"), ", NULL FROM ", kOld, " o;\n", document.remove,
      "  ELSE\n    ", insert, " VALUES (", name, ", 'T', '', NULL, NULL);\n", document.truncate,
      "  END IF;\n  RETURN NULL;\nEND\n");
}

// Whether `text` is a pg_snapshot PostgreSQL takes: "xmin:xmax:xip,...",
// xmin <= every xip < xmax.
bool IsSnapshot(absl::string_view text) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  uint64_t xmin = 0, xmax = 0;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &xmin) ||
      !absl::SimpleAtoi(parts[1], &xmax) || xmin == 0 || xmin > xmax) {
    return false;
  }
  if (parts[2].empty()) return true;
  uint64_t previous = 0;
  for (absl::string_view xip : absl::StrSplit(parts[2], ',')) {
    uint64_t xid = 0;
    if (!absl::SimpleAtoi(xip, &xid) || xid < xmin || xid >= xmax || xid < previous) return false;
    previous = xid;
  }
  return true;
}

int64_t Micros(const pqxx::field& field) {
  int64_t micros = 0;
  if (!field.is_null() && !absl::SimpleAtoi(field.c_str(), &micros)) micros = 0;
  return micros;
}

}  // namespace

std::vector<const Column*> WatchedColumns(const TableSchema& table) {
  std::vector<const Column*> columns;
  for (const Column& column : table.columns()) {
    if (column.type != ColumnType::kBytes && column.type != ColumnType::kJson) {
      columns.push_back(&column);
    }
  }
  return columns;
}

std::string WatchTriggerSql(const TableSchema& table) {
  const std::string function = QuoteIdentifier(FunctionName(table));
  std::string sql = absl::StrCat("CREATE OR REPLACE FUNCTION ", function,
                                 "() RETURNS trigger LANGUAGE plpgsql AS $protomodel$",
                                 FunctionBody(table), "$protomodel$;\n");
  const std::string events[] = {
      absl::StrCat("INSERT ON ", table.quoted_name(), " REFERENCING NEW TABLE AS ", kNew),
      absl::StrCat("UPDATE ON ", table.quoted_name(), " REFERENCING OLD TABLE AS ", kOld,
                   " NEW TABLE AS ", kNew),
      absl::StrCat("DELETE ON ", table.quoted_name(), " REFERENCING OLD TABLE AS ", kOld),
      absl::StrCat("TRUNCATE ON ", table.quoted_name())};
  for (int i = 0; i < 4; ++i) {
    absl::StrAppend(&sql, "CREATE OR REPLACE TRIGGER ", QuoteIdentifier(kTriggers[i]),
                    " AFTER ", events[i], " FOR EACH STATEMENT EXECUTE FUNCTION ", function,
                    "();\n");
  }
  return sql;
}

absl::StatusOr<std::vector<std::string>> StaleWatchTriggers(pqxx::connection& conn,
                                                            const Schema& schema) {
  std::vector<std::string> stale;
  try {
    pqxx::nontransaction tx(conn);
    for (const auto& table : schema.tables()) {
      // Only tables that exist: a missing table is the user's track's to
      // report.
      const pqxx::row row = tx.exec_params1(
          "SELECT to_regclass($1) IS NOT NULL, "
          "  (SELECT prosrc FROM pg_proc WHERE proname = $2 "
          "     AND pronamespace = current_schema()::regnamespace), "
          "  (SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass($1) "
          "     AND tgname LIKE 'protomodel\\_watch\\_%' AND NOT tgisinternal "
          "     AND tgenabled <> 'D')",
          table->quoted_name(), FunctionName(*table));
      if (!row[0].as<bool>()) continue;
      if (row[1].is_null() || row[1].as<std::string>() != FunctionBody(*table) ||
          row[2].as<int>() != 4) {
        stale.push_back(table->name());
      }
    }
  } catch (const std::exception& e) {
    return StatusFromException(e, StatementKind::kRead, "the watches' triggers");
  }
  return stale;
}

absl::StatusOr<std::vector<std::string>> InstallWatchTriggers(pqxx::connection& conn,
                                                              const Schema& schema) {
  absl::StatusOr<std::vector<std::string>> stale = StaleWatchTriggers(conn, schema);
  if (!stale.ok() || stale->empty()) return stale;
  try {
    pqxx::work tx(conn);
    tx.exec("SELECT pg_advisory_xact_lock(8030873813924032356)");
    for (const std::string& name : *stale) {
      tx.exec(WatchTriggerSql(*schema.FindByName(name)));
    }
    tx.commit();
  } catch (const std::exception& e) {
    return StatusFromException(e, StatementKind::kTransaction, "the watches' triggers");
  }
  return stale;
}

absl::StatusOr<ChangePage> ReadChanges(Connection& conn, const ChangePosition& from,
                                       const std::string& upto, const std::string& table,
                                       int limit) {
  // The first page of a read finds what became visible through the
  // transaction id's index; the next pages of the same read (`from.upto` is
  // `upto`: everything of it up to `after` was sent) go on by seq, so a
  // million rows from one transaction are read in pages, each costing its
  // own rows, not the whole batch's.
  const bool next_page = !upto.empty() && from.upto == upto;
  static const std::string kColumns = R"sql(
SELECT s.upto::text, (extract(epoch FROM s.at) * 1000000)::int8,
  (SELECT (extract(epoch FROM "pruned_through") * 1000000)::int8
     FROM "protomodel_change_horizon" WHERE "id" = 1),
  c."seq", c."table_name", c."op", c."resource_key", c."old_values"::text,
  c."new_values"::text, (extract(epoch FROM c."changed_at") * 1000000)::int8
FROM (SELECT coalesce($2::pg_snapshot, pg_current_snapshot()) AS upto,
             statement_timestamp() AS at) s
LEFT JOIN LATERAL (
  SELECT * FROM "protomodel_changes" c
  WHERE NOT pg_visible_in_snapshot(c."xid", $1::pg_snapshot)
    AND pg_visible_in_snapshot(c."xid", s.upto)
    AND ($5::text IS NULL OR c."table_name" = $5))sql";
  // Unnamed, so each is planned for its own values: a plan made once for
  // any snapshot could scan the whole log by seq.
  static const Statement kFirst{
      "",
      kColumns + R"sql(
    AND c."xid" >= pg_snapshot_xmin($1::pg_snapshot)
    AND NOT (c."seq" <= $4 AND pg_visible_in_snapshot(c."xid", $3::pg_snapshot))
  ORDER BY c."seq" LIMIT $6) c ON true
ORDER BY c."seq")sql",
      false};
  static const Statement kNext{"",
                               kColumns + R"sql(
    AND c."seq" > $4 AND $3::text IS NOT NULL
  ORDER BY c."seq" LIMIT $6) c ON true
ORDER BY c."seq")sql",
                               false};
  Params params;
  params.AddText(from.since);
  if (upto.empty()) {
    params.AddNull();
  } else {
    params.AddText(upto);
  }
  params.AddText(from.upto.empty() ? from.since : from.upto);
  params.AddText(absl::StrCat(from.after));
  if (table.empty()) {
    params.AddNull();
  } else {
    params.AddText(table);
  }
  params.AddText(absl::StrCat(limit + 1));
  ChangePage page;
  try {
    pqxx::nontransaction tx(conn.raw());
    const pqxx::result result = conn.Exec(tx, next_page ? kNext : kFirst, std::move(params));
    for (const pqxx::row& row : result) {
      page.upto = row[0].as<std::string>();
      page.upto_micros = Micros(row[1]);
      page.horizon_micros = Micros(row[2]);
      if (row[3].is_null()) continue;
      if (static_cast<int>(page.changes.size()) == limit) {
        page.more = true;
        break;
      }
      Change change;
      change.seq = Micros(row[3]);
      change.table = row[4].as<std::string>();
      change.op = static_cast<Change::Op>(row[5].c_str()[0]);
      change.key = row[6].as<std::string>();
      if (!row[7].is_null()) change.old_values = row[7].as<std::string>();
      if (!row[8].is_null()) change.new_values = row[8].as<std::string>();
      change.changed_micros = Micros(row[9]);
      page.changes.push_back(std::move(change));
    }
  } catch (const std::exception& e) {
    return StatusFromException(e, StatementKind::kRead, "the change log");
  }
  return page;
}

absl::StatusOr<ChangePosition> CurrentPosition(Connection& conn) {
  static const Statement kCurrent{
      "protomodel_current_position",
      "SELECT pg_current_snapshot()::text, "
      "(extract(epoch FROM statement_timestamp()) * 1000000)::int8",
      false};
  try {
    pqxx::nontransaction tx(conn.raw());
    const pqxx::result result = conn.Exec(tx, kCurrent, Params());
    ChangePosition position;
    position.since = result[0][0].as<std::string>();
    position.since_micros = Micros(result[0][1]);
    return position;
  } catch (const std::exception& e) {
    return StatusFromException(e, StatementKind::kRead, "the change log");
  }
}

absl::StatusOr<int64_t> PruneChanges(pqxx::connection& conn, absl::Duration retention) {
  try {
    pqxx::work tx(conn);
    // One replica prunes at a time; the others skip this round.
    if (!tx.exec1(kPruneLockSql)[0].as<bool>()) return 0;
    // The mark's time is read after its snapshot is taken; a reader's
    // position time before its snapshot: a position younger than a mark
    // has read all the mark sees.
    tx.exec(
        "INSERT INTO \"protomodel_change_marks\" (\"taken_at\", \"snapshot\") "
        "VALUES (clock_timestamp(), pg_current_snapshot()::text) ON CONFLICT DO NOTHING");
    const pqxx::result mark = tx.exec_params(
        "SELECT \"taken_at\"::text, \"snapshot\" FROM \"protomodel_change_marks\" "
        "WHERE \"taken_at\" <= clock_timestamp() - make_interval(secs => $1) "
        "ORDER BY \"taken_at\" DESC LIMIT 1",
        absl::ToDoubleSeconds(retention));
    if (mark.empty()) {
      tx.commit();
      return 0;
    }
    const std::string taken_at = mark[0][0].as<std::string>();
    const std::string snapshot = mark[0][1].as<std::string>();
    const pqxx::result deleted = tx.exec_params(
        "DELETE FROM \"protomodel_changes\" WHERE \"xid\" < pg_snapshot_xmax($1::pg_snapshot) "
        "AND pg_visible_in_snapshot(\"xid\", $1::pg_snapshot)",
        snapshot);
    tx.exec_params(
        "INSERT INTO \"protomodel_change_horizon\" (\"id\", \"pruned_through\") "
        "VALUES (1, $1::timestamptz) ON CONFLICT (\"id\") DO UPDATE SET \"pruned_through\" = "
        "greatest(\"protomodel_change_horizon\".\"pruned_through\", "
        "excluded.\"pruned_through\")",
        taken_at);
    tx.exec_params("DELETE FROM \"protomodel_change_marks\" WHERE \"taken_at\" < $1::timestamptz",
                   taken_at);
    tx.commit();
    return static_cast<int64_t>(deleted.affected_rows());
  } catch (const std::exception& e) {
    return StatusFromException(e, StatementKind::kTransaction, "pruning the change log");
  }
}

absl::Status ReadChangeValues(absl::string_view json, const TableSchema& table,
                              google::protobuf::Message* out) {
  google::protobuf::Struct values;
  if (!google::protobuf::util::JsonStringToMessage(std::string(json), &values).ok()) {
    return absl::InternalError("the change log holds values that are not a JSON object");
  }
  for (const auto& [name, value] : values.fields()) {
    // A column dropped since the change was logged is not the message's.
    const Column* column = table.FindColumn(name);
    if (column == nullptr || column->type == ColumnType::kBytes ||
        column->type == ColumnType::kJson) {
      continue;
    }
    const bool null = value.kind_case() != google::protobuf::Value::kStringValue;
    const std::string& text = value.string_value();
    if (absl::Status s = ReadColumn(text.data(), text.size(), null, false, *column, out);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

std::string EncodeResumeToken(const ChangePosition& position, const TableSchema& table) {
  protomodel::v1::WatchToken token;
  token.set_table_name(table.name());
  token.set_since(position.since);
  if (position.upto != position.since) token.set_upto(position.upto);
  token.set_after(position.after);
  token.set_since_micros(position.since_micros);
  return SealToken(kTokenDomain, token.SerializeAsString());
}

absl::StatusOr<ChangePosition> DecodeResumeToken(absl::string_view token,
                                                 const TableSchema& table,
                                                 absl::string_view field) {
  const auto invalid = [&](absl::string_view why) {
    return InvalidField(field, reason::kInvalidResumeToken, absl::StrCat(field, ": ", why));
  };
  if (token.size() > kMaxResumeTokenLength) {
    return invalid(absl::StrCat("longer than the limit of ", kMaxResumeTokenLength, " bytes"));
  }
  const std::optional<std::string> payload = OpenToken(kTokenDomain, token);
  protomodel::v1::WatchToken parsed;
  if (!payload.has_value() || !parsed.ParseFromString(*payload) || parsed.since().empty()) {
    return invalid("not a resume token from this service, or altered");
  }
  if (parsed.table_name() != table.name()) {
    return invalid(absl::StrCat("a token of a watch of ", QuoteIdentifier(parsed.table_name()),
                                ", not of ", QuoteIdentifier(table.name())));
  }
  for (const std::string* snapshot : {&parsed.since(), &parsed.upto()}) {
    if (!snapshot->empty() && !IsSnapshot(*snapshot)) {
      return invalid("not a resume token from this service, or altered");
    }
  }
  ChangePosition position;
  position.since = parsed.since();
  position.upto = parsed.upto().empty() ? parsed.since() : parsed.upto();
  position.after = parsed.after();
  position.since_micros = parsed.since_micros();
  return position;
}

}  // namespace protomodel::db
