#include "absl/strings/str_cat.h"
#include "db/errors.h"
#include "db/exec/sql_status.h"
#include "db/rows.h"
#include "db/sql/sql_build.h"
#include "db/sql/values.h"
#include "db/table.h"

namespace protomodel::db {

// Batches: every entry in one statement, or, when the database refuses it,
// replayed one by one in a transaction to name the entry at fault.

using google::protobuf::Message;

namespace {

// `entries[i]`.
std::string EntryName(absl::string_view entries, size_t i) {
  return absl::StrCat(entries, "[", i, "]");
}

// Whether a set statement's failure is about its rows (a constraint, a
// value), so that a replay can name the entry at fault; otherwise (the
// database unreachable, the time gone, the outcome unknown) it is the
// batch's answer as it is.
bool RowsAtFault(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kNotFound:
      return true;
    default:
      return false;
  }
}

}  // namespace

void Table::RunOffloaded(std::function<absl::Status()> replay, Done done) const {
  offload_([replay = std::move(replay), done = std::move(done)]() mutable {
    std::move(done)(replay());
  });
}

absl::Status Table::InTransaction(const CallLimit& limit, const char* op, absl::string_view what,
                                  const TransactionBody& body) const {
  absl::StatusOr<Pool::Lease> conn = pool_.Acquire(limit, op);
  if (!conn.ok()) return conn.status();
  try {
    pqxx::work tx((*conn)->raw());
    absl::Status status = body(**conn, tx);
    if (!status.ok()) return status;  // rolled back as `tx` ends
    tx.commit();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return StatusFromException(e, StatementKind::kTransaction, what);
  }
}

absl::Status Table::MissedIn(Connection& conn, pqxx::work& tx, const std::string& key,
                             const std::optional<std::string>& etag) const {
  if (!etag.has_value() && table_.document() == nullptr) return NotFound(key);
  Params params;
  params.AddText(key);
  const pqxx::result found = conn.Exec(tx, exists_, std::move(params));
  return Missed(key, etag.has_value(), !found.empty());
}

// BatchGet.

void Table::BatchGet(std::vector<std::string> keys, const std::vector<const Column*>& asked,
                     bool relations, std::string entries, CallLimit limit,
                     std::vector<Message*> outs, Done done) const {
  const std::vector<bool> returned = Returned(asked);
  std::vector<const Column*> columns;
  for (const Column* column : all_columns_) {
    if (table_.Holds(returned, *column)) columns.push_back(column);
  }
  const bool full = relations && !table_.relations().empty();
  const Statement* statement = nullptr;
  {
    // Built once for each set of columns and view (the map's entries stay
    // where they are).
    absl::MutexLock lock(&batch_gets_mu_);
    auto [it, added] = batch_gets_.try_emplace(std::make_pair(returned, full));
    if (added) it->second = BatchGetStatement(table_, columns, full);
    statement = &it->second;
  }
  Params params;
  params.AddText(ArrayLiteral(keys));
  params.AddText(absl::StrCat(kMaxBatchGetBytes));
  pipeline_.Run(
      *statement, std::move(params), std::move(limit),
      {"batch_get", StatementKind::kRead, absl::StrCat("reading ", table_.name(), " rows")},
      [this, keys = std::move(keys), columns = std::move(columns), full,
       entries = std::move(entries), outs = std::move(outs),
       done = std::move(done)](absl::StatusOr<Result> result) mutable {
        if (!result.ok()) return std::move(done)(result.status());
        // Rows come in the keys' order, each key's rows together (more than
        // one with a repeated relation).
        std::vector<bool> found(keys.size(), false);
        size_t row = 0;
        while (row < result->size()) {
          const size_t ord = CellNumber(result->cell(row, 0));
          size_t end = row + 1;
          while (end < result->size() && CellNumber(result->cell(end, 0)) == ord) ++end;
          if (ord < 1 || ord > keys.size()) {
            return std::move(done)(BadValue(table_.primary_key()));
          }
          absl::Status s =
              ReadWithRelations(*result, row, end, 2, columns, full, outs[ord - 1]);
          if (!s.ok()) return std::move(done)(std::move(s));
          found[ord - 1] = true;
          row = end;
        }
        for (size_t i = 0; i < keys.size(); ++i) {
          if (!found[i]) {
            return std::move(done)(UnderField(NotFound(keys[i]), EntryName(entries, i)));
          }
        }
        // A missing id first: the caller's to fix before the size matters.
        if (!result->empty()) {
          const size_t total = CellNumber(result->cell(0, 1));
          if (total > kMaxBatchGetBytes) {
            return std::move(done)(absl::ResourceExhaustedError(absl::StrCat(
                "the ", keys.size(), " ", table_.name(), " rows asked for hold ",
                total / (1024 * 1024), " MiB, past the ", kMaxBatchGetBytes / (1024 * 1024),
                " MiB a response may carry: ask for fewer ids, or leave the large fields out "
                "with read_mask")));
          }
        }
        std::move(done)(absl::OkStatus());
      });
}

// BatchCreate.

void Table::BatchInsert(std::vector<BatchInsertEntry> rows, Redraw redraw, std::string entries,
                        CallLimit limit, Done done) const {
  auto batch = std::make_shared<std::vector<BatchInsertEntry>>(std::move(rows));
  const auto replay = [this, batch, redraw = std::move(redraw), entries,
                       limit]() -> absl::Status {
    return ReplayInserts(*batch, redraw, entries, limit);
  };
  RunBatchInsert(std::move(batch), false, replay, std::move(limit), std::move(done));
}

void Table::RunBatchInsert(std::shared_ptr<std::vector<BatchInsertEntry>> batch,
                           bool find_recorded, std::function<absl::Status()> replay,
                           CallLimit limit, Done done) const {
  std::vector<PendingInsert*> inserts;
  for (BatchInsertEntry& row : *batch) {
    // Bound again when sent a second time: the first statement took them.
    if (find_recorded) {
      row.insert.params = Params();
      if (absl::Status s = BindWritable(table_, *row.insert.resource, &row.insert.params);
          !s.ok()) {
        return std::move(done)(std::move(s));
      }
    }
    inserts.push_back(&row.insert);
  }
  Params params;
  const Statement* statement = InsertBatch(inserts, &params, find_recorded);
  if (statement == nullptr) return RunOffloaded(replay, std::move(done));
  CallLimit again = limit;
  pipeline_.Run(
      *statement, std::move(params), std::move(limit),
      {"batch_create", StatementKind::kWrite, absl::StrCat("creating ", table_.name(), " rows")},
      [this, batch, find_recorded, replay, again = std::move(again),
       done = std::move(done)](absl::StatusOr<Result> result) mutable {
        if (!result.ok()) {
          // A request_id already recorded: a batch sent again.
          if (!find_recorded &&
              ViolatedConstraint(result.status()) == "protomodel_request_ids_pkey") {
            return RunBatchInsert(std::move(batch), true, std::move(replay), std::move(again),
                                  std::move(done));
          }
          if (!RowsAtFault(result.status())) return std::move(done)(result.status());
          return RunOffloaded(replay, std::move(done));
        }
        std::vector<PendingInsert*> inserted;
        for (BatchInsertEntry& row : *batch) inserted.push_back(&row.insert);
        absl::Status status = ReadInserted(*result, inserted);
        if (absl::IsNotFound(status)) return RunOffloaded(replay, std::move(done));
        std::move(done)(std::move(status));
      });
}

absl::Status Table::ReplayInserts(std::vector<BatchInsertEntry>& rows, const Redraw& redraw,
                                  absl::string_view entries, const CallLimit& limit) const {
  return InTransaction(
      limit, "batch_create", absl::StrCat("creating ", table_.name(), " rows"),
      [&](Connection& conn, pqxx::work& tx) -> absl::Status {
        for (size_t i = 0; i < rows.size(); ++i) {
          absl::Status status = InsertOnceIn(conn, tx, rows[i].insert, rows[i].drawn, redraw);
          if (!status.ok()) {
            return RowsAtFault(status) ? UnderField(std::move(status), EntryName(entries, i))
                                       : status;
          }
        }
        return absl::OkStatus();
      });
}

// BatchUpdate.

absl::StatusOr<Table::PreparedBatchUpdate> Table::PrepareBatchUpdate(
    std::vector<UpdateEntry> entries, std::string entries_name) const {
  PreparedBatchUpdate batch;
  std::vector<const Column*> any;
  for (const UpdateEntry& entry : entries) {
    any.insert(any.end(), entry.columns.begin(), entry.columns.end());
  }
  const std::vector<bool> written = table_.ColumnSet(any);
  for (const Column& column : table_.columns()) {
    if (table_.Holds(written, column)) batch.columns.push_back(&column);
  }
  const Column* etag = table_.etag();
  const size_t per_row = 2 + batch.columns.size() + (etag != nullptr ? 1 : 0);
  for (size_t i = 0; i < entries.size(); ++i) {
    UpdateEntry& entry = entries[i];
    if (etag == nullptr) entry.etag.reset();
    const std::vector<bool> writes = table_.ColumnSet(entry.columns);
    batch.echoed.push_back(WriteForm(table_, writes).echoed);
    Params& params = batch.params;
    params.AddText(entry.key);
    std::string mask;
    for (const Column* column : batch.columns) {
      mask.push_back(table_.Holds(writes, *column) ? '1' : '0');
    }
    params.AddText(std::move(mask));
    for (const Column* column : batch.columns) {
      if (!table_.Holds(writes, *column)) {
        params.AddNull();
        continue;
      }
      if (absl::Status s = BindColumn(*entry.resource, *column, &params); !s.ok()) {
        return UnderField(std::move(s), EntryName(entries_name, i));
      }
    }
    if (etag != nullptr) {
      if (entry.etag.has_value()) {
        if (absl::Status s = CheckEtag(*entry.etag, etag->path); !s.ok()) {
          return UnderField(std::move(s), EntryName(entries_name, i));
        }
        params.AddText(*entry.etag);
      } else {
        params.AddNull();
      }
    }
  }
  // With nothing to write, or more than one statement takes, the entries
  // run one by one.
  if (!batch.columns.empty() && per_row * entries.size() <= kMaxStatementParams) {
    batch.sql = BatchUpdateSql(table_, batch.columns, entries.size());
  }
  batch.entries = std::move(entries);
  batch.entries_name = std::move(entries_name);
  return batch;
}

void Table::BatchUpdate(PreparedBatchUpdate prepared, CallLimit limit, Done done) const {
  auto batch = std::make_shared<PreparedBatchUpdate>(std::move(prepared));
  const auto replay = [this, batch, limit]() -> absl::Status {
    return ReplayUpdates(*batch, limit);
  };
  if (batch->sql.empty()) return RunOffloaded(replay, std::move(done));
  const Statement statement{"", batch->sql, ReadForm(table_).binary};
  pipeline_.Run(
      statement, std::move(batch->params), std::move(limit),
      {"batch_update", StatementKind::kWrite, absl::StrCat("updating ", table_.name(), " rows")},
      [this, batch, replay, done = std::move(done)](absl::StatusOr<Result> result) mutable {
        if (!result.ok()) {
          if (!RowsAtFault(result.status())) return std::move(done)(result.status());
          return RunOffloaded(replay, std::move(done));
        }
        // Not every row was there with its etag: nothing was written.
        if (result->size() != batch->entries.size()) return RunOffloaded(replay, std::move(done));
        for (size_t row = 0; row < result->size(); ++row) {
          const size_t ord = CellNumber(result->cell(row, 0));
          if (ord < 1 || ord > batch->entries.size()) {
            return std::move(done)(BadValue(table_.primary_key()));
          }
          const UpdateEntry& entry = batch->entries[ord - 1];
          absl::Status s = ReadRow(ResultRow{&*result, row}, 1, all_columns_, entry.out);
          if (!s.ok()) return std::move(done)(std::move(s));
          Echo(batch->echoed[ord - 1], entry.resource, entry.out);
        }
        std::move(done)(absl::OkStatus());
      });
}

absl::Status Table::ReplayUpdates(const PreparedBatchUpdate& batch, const CallLimit& limit) const {
  return InTransaction(
      limit, "batch_update", absl::StrCat("updating ", table_.name(), " rows"),
      [&](Connection& conn, pqxx::work& tx) -> absl::Status {
        for (size_t i = 0; i < batch.entries.size(); ++i) {
          const UpdateEntry& entry = batch.entries[i];
          const std::string name = EntryName(batch.entries_name, i);
          absl::Status status;
          try {
            pqxx::result row;
            if (entry.columns.empty()) {
              // Nothing to write: the row as it is, after the same precondition.
              Params key;
              key.AddText(entry.key);
              row = conn.Exec(tx, get_, std::move(key));
              if (!row.empty()) status = ReadRow(row[0], 0, all_columns_, entry.out);
              if (status.ok() && !row.empty() && entry.etag.has_value() &&
                  entry.out->GetReflection()->GetString(*entry.out, table_.etag()->field) !=
                      *entry.etag) {
                status = EtagMismatch(entry.key);
              }
              if (row.empty()) status = NotFound(entry.key);
            } else {
              Params params;
              absl::StatusOr<Statement> statement = UpdateStatement(
                  table_, entry.key, *entry.resource, entry.columns, entry.etag, &params);
              if (!statement.ok()) return UnderField(statement.status(), name);
              row = conn.Exec(tx, *statement, std::move(params));
              if (row.empty()) {
                status = MissedIn(conn, tx, entry.key, entry.etag);
              } else {
                status = ReadRow(row[0], 0, all_columns_, entry.out);
                if (status.ok()) Echo(batch.echoed[i], entry.resource, entry.out);
              }
            }
          } catch (const std::exception& e) {
            status = Explain(StatusFromException(e, StatementKind::kTransaction, Describe(entry.key)),
                             entry.resource, entry.key);
          }
          if (!status.ok()) return RowsAtFault(status) ? UnderField(std::move(status), name) : status;
        }
        return absl::OkStatus();
      });
}

// BatchDelete.

void Table::BatchDelete(std::vector<DeleteEntry> entries, std::string entries_name,
                        CallLimit limit, Done done) const {
  auto batch = std::make_shared<std::vector<DeleteEntry>>(std::move(entries));
  const auto replay = [this, batch, entries_name, limit]() -> absl::Status {
    return ReplayDeletes(*batch, entries_name, limit);
  };
  std::vector<std::string> keys, etags;
  for (const DeleteEntry& entry : *batch) {
    keys.push_back(entry.key);
    etags.push_back(entry.etag.value_or(""));
  }
  Params params;
  params.AddText(ArrayLiteral(keys));
  if (table_.etag() != nullptr) params.AddText(ArrayLiteral(etags));
  pipeline_.Run(
      batch_delete_, std::move(params), std::move(limit),
      {"batch_delete", StatementKind::kWrite, absl::StrCat("deleting ", table_.name(), " rows")},
      [this, batch, replay, done = std::move(done)](absl::StatusOr<Result> result) mutable {
        if (!result.ok()) {
          if (!RowsAtFault(result.status())) return std::move(done)(result.status());
          return RunOffloaded(replay, std::move(done));
        }
        if (result->empty() || CellNumber(result->cell(0, 0)) != batch->size()) {
          return RunOffloaded(replay, std::move(done));
        }
        std::move(done)(absl::OkStatus());
      });
}

absl::Status Table::ReplayDeletes(const std::vector<DeleteEntry>& entries, absl::string_view name,
                                  const CallLimit& limit) const {
  return InTransaction(
      limit, "batch_delete", absl::StrCat("deleting ", table_.name(), " rows"),
      [&](Connection& conn, pqxx::work& tx) -> absl::Status {
        for (size_t i = 0; i < entries.size(); ++i) {
          const DeleteEntry& entry = entries[i];
          const bool conditional = entry.etag.has_value() && table_.etag() != nullptr;
          absl::Status status;
          try {
            Params params;
            params.AddText(entry.key);
            if (conditional) params.AddText(*entry.etag);
            const pqxx::result deleted =
                conn.Exec(tx, conditional ? delete_if_ : delete_, std::move(params));
            if (deleted.affected_rows() == 0) {
              status = MissedIn(conn, tx, entry.key,
                                conditional ? entry.etag : std::optional<std::string>());
            }
          } catch (const std::exception& e) {
            status = Explain(StatusFromException(e, StatementKind::kTransaction, Describe(entry.key)),
                             nullptr, entry.key);
          }
          if (!status.ok()) {
            return RowsAtFault(status) ? UnderField(std::move(status), EntryName(name, i))
                                       : status;
          }
        }
        return absl::OkStatus();
      });
}

}  // namespace protomodel::db
