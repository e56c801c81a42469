#include <algorithm>

#include "db/table.h"

#include <pqxx/nontransaction>
#include <pqxx/subtransaction>
#include <pqxx/transaction>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "db/errors.h"
#include "db/exec/sql_status.h"
#include "db/rows.h"
#include "db/sql/sql_build.h"

namespace protomodel::db {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Creates: one row, a batch of rows in one statement, and creates with a
// request_id that are made once however often they are retried.

void Table::Insert(Message* resource, const std::string& request_id, CallLimit limit,
                   Message* out, Done done) const {
  Params params;
  if (absl::Status s = BindWritable(table_, *resource, &params); !s.ok()) {
    return std::move(done)(std::move(s));
  }
  InsertBound(resource, std::move(params), request_id, std::move(limit), out, std::move(done));
}

void Table::InsertBound(Message* resource, Params params, const std::string& request_id,
                        CallLimit limit, Message* out, Done done) const {
  if (request_id.empty()) {
    return InsertRow(insert_, std::move(params), std::move(limit), resource, out,
                     [this, resource, done = std::move(done)](absl::Status status) mutable {
                       std::move(done)(Explain(std::move(status), resource, ""));
                     });
  }
  // The first call with a request_id, as nearly every one is: the row and
  // its request_id in one statement, one round trip. Any constraint it
  // breaks (the request_id already recorded, or a retried create clashing
  // with the row it made) sends the call the careful way.
  params.AddText(request_id);
  params.AddText(table_.name());
  CallLimit again = limit;
  InsertRow(insert_recording_, std::move(params), std::move(limit), resource, out,
            [this, resource, request_id, again = std::move(again), out,
             done = std::move(done)](absl::Status status) mutable {
              if (status.ok() || ViolatedConstraint(status).empty()) {
                return std::move(done)(Explain(std::move(status), resource, ""));
              }
              offload_([this, resource, request_id = std::move(request_id),
                        again = std::move(again), out, done = std::move(done)]() mutable {
                std::move(done)(InsertCarefully(resource, request_id, again, out));
              });
            });
}

void Table::InsertRow(const Statement& statement, Params params, CallLimit limit,
                      Message* resource, Message* out, Done done) const {
  pipeline_.Run(statement, std::move(params), std::move(limit),
                {"insert", StatementKind::kWrite, absl::StrCat("creating ", table_.name())},
                [this, resource, out, done = std::move(done)](
                    absl::StatusOr<Result> result) mutable {
                  if (!result.ok()) return std::move(done)(result.status());
                  if (result->empty()) return std::move(done)(BadValue(table_.primary_key()));
                  absl::Status status = ReadRow(ResultRow{&*result, 0}, 0, all_columns_, out);
                  if (status.ok()) Echo(write_form_.echoed, resource, out);
                  std::move(done)(std::move(status));
                });
}

const Statement* Table::InsertBatch(std::vector<PendingInsert*> rows, Params* params,
                                    bool find_recorded) const {
  // A batch runs as a statement of the next size up, padded with empty
  // rows, so that few statements are prepared per connection: every size
  // to 16 (what coalescing makes), then powers of two, then the most.
  size_t size = rows.size();
  if (size > 16) {
    size = 32;
    while (size < rows.size()) size *= 2;
    size = std::min(size, std::max(kMaxBatchEntries, rows.size()));
  }
  const size_t per_row = static_cast<size_t>(std::count_if(
      table_.columns().begin(), table_.columns().end(),
      [](const Column& column) { return column.writable(); })) + 1;
  if (size * per_row + 2 > kMaxStatementParams) {
    size = rows.size();
    if (size * per_row + 2 > kMaxStatementParams) return nullptr;
  }
  for (PendingInsert* row : rows) {
    params->Append(std::move(row->params));
    if (row->request_id.empty()) {
      params->AddNull();
    } else {
      params->AddText(row->request_id);
    }
  }
  for (size_t i = rows.size() * per_row; i < size * per_row; ++i) params->AddNull();
  params->AddText(table_.name());
  params->AddText(absl::StrCat(rows.size()));
  absl::MutexLock lock(&insert_batches_mu_);
  auto [it, added] = insert_batches_.try_emplace(std::make_pair(size, find_recorded));
  if (added) {
    it->second = {absl::StrCat(table_.name(), ".insert_batch.", size, find_recorded ? ".find" : ""),
                  InsertBatchSql(table_, size, find_recorded), ReadForm(table_).binary};
  }
  return &it->second;  // the map's entries stay where they are
}

absl::Status Table::ReadInserted(const Result& result,
                                 const std::vector<PendingInsert*>& rows) const {
  std::vector<bool> seen(rows.size(), false);
  for (size_t i = 0; i < result.size(); ++i) {
    const size_t ord = CellNumber(result.cell(i, 0));
    if (ord < 1 || ord > rows.size()) return BadValue(table_.primary_key());
    const PendingInsert& row = *rows[ord - 1];
    absl::Status s = ReadRow(ResultRow{&result, i}, 2, all_columns_, row.out);
    if (!s.ok()) return s;
    const Cell found = result.cell(i, 1);
    // Made now: its bytes were not sent back, they move from the request.
    if (found.size == 1 && found.data[0] == '0') Echo(write_form_.echoed, row.resource, row.out);
    seen[ord - 1] = true;
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    // Found by its request_id, but deleted since.
    if (!seen[i]) return NotFound(rows[i]->request_id);
  }
  return absl::OkStatus();
}

void Table::InsertMany(std::vector<PendingInsert> rows, CallLimit limit, Done done) const {
  std::vector<PendingInsert*> pointers;
  for (PendingInsert& row : rows) pointers.push_back(&row);
  Params params;
  // Coalesced creates are few: always one statement. A request_id already
  // recorded fails it, and each create is then made on its own.
  const Statement& statement = *InsertBatch(pointers, &params, false);
  pipeline_.Run(
      statement, std::move(params), std::move(limit),
      {"insert", StatementKind::kWrite, absl::StrCat("creating ", table_.name())},
      [this, rows = std::move(rows), done = std::move(done)](
          absl::StatusOr<Result> result) mutable {
        if (!result.ok()) return std::move(done)(result.status());
        std::vector<PendingInsert*> inserted;
        for (PendingInsert& row : rows) inserted.push_back(&row);
        std::move(done)(ReadInserted(*result, inserted));
      });
}

std::string Table::KeyText(const Message& row) const {
  const Column& pk = table_.primary_key();
  const Reflection* r = row.GetReflection();
  return pk.type == ColumnType::kInt64 ? absl::StrCat(r->GetInt64(row, pk.field))
                                       : r->GetString(row, pk.field);
}

absl::Status Table::InsertCarefully(Message* resource, const std::string& request_id,
                                    const CallLimit& limit, Message* out) const {
  PendingInsert insert{Params(), request_id, resource, out};
  return InTransaction(limit, "insert", absl::StrCat("creating ", table_.name()),
                       [&](Connection& conn, pqxx::work& tx) {
                         return InsertOnceIn(conn, tx, insert, {}, nullptr);
                       });
}

absl::Status Table::InsertOnceIn(Connection& conn, pqxx::work& tx, PendingInsert& insert,
                                 const std::vector<const Column*>& drawn,
                                 const Redraw& redraw) const {
  constexpr int kAttempts = 5;
  const std::string what = absl::StrCat("creating ", table_.name());
  absl::Status status;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    Params params;
    if (absl::Status s = BindWritable(table_, *insert.resource, &params); !s.ok()) return s;
    // Only a failure inside the savepoint leaves `tx` usable for another try.
    bool in_savepoint = false;
    try {
      if (!insert.request_id.empty()) {
        Params find;
        find.AddText(insert.request_id);
        find.AddText(table_.name());
        const pqxx::result found = conn.Exec(tx, find_request_, std::move(find));
        if (!found.empty()) {
          // Made by an earlier call: as it is stored now.
          const std::string key = found[0][0].c_str();
          Params get;
          get.AddText(key);
          const pqxx::result stored = conn.Exec(tx, get_, std::move(get));
          if (stored.empty()) return NotFound(key);
          return ReadRow(stored[0], 0, all_columns_, insert.out);
        }
      }
      in_savepoint = true;
      pqxx::subtransaction savepoint(tx, "entry");
      const pqxx::result created = conn.Exec(savepoint, insert_, std::move(params));
      if (absl::Status s = ReadRow(created.at(0), 0, all_columns_, insert.out); !s.ok()) {
        return s;
      }
      if (!insert.request_id.empty()) {
        Params record;
        record.AddText(insert.request_id);
        record.AddText(table_.name());
        record.AddText(KeyText(*insert.out));
        conn.Exec(savepoint, record_request_, std::move(record));
      }
      savepoint.commit();
      Echo(write_form_.echoed, insert.resource, insert.out);
      return absl::OkStatus();
    } catch (const std::exception& e) {
      status = StatusFromException(e, StatementKind::kTransaction, what);
    }
    // A concurrent create with the same request_id committed first (the
    // next try finds what it made), or a random value the server drew
    // clashed (drawn again).
    const Column* clash = ViolatedColumn(status);
    const bool recorded_meanwhile = ViolatedConstraint(status) == "protomodel_request_ids_pkey";
    const bool drawn_clash =
        clash != nullptr && std::find(drawn.begin(), drawn.end(), clash) != drawn.end();
    if (!in_savepoint || !(recorded_meanwhile || drawn_clash)) break;
    if (drawn_clash) redraw(*clash, insert.resource);
  }
  if (ViolatedConstraint(status) == "protomodel_request_ids_pkey") {
    return absl::AbortedError(absl::StrCat(
        "request_id ", insert.request_id, ": a concurrent create with it did not settle; retry"));
  }
  return Explain(std::move(status), insert.resource, "");
}

}  // namespace protomodel::db
