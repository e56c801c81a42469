#include "db/table.h"

#include <pqxx/nontransaction>
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

const Statement& Table::InsertBatch(size_t rows) const {
  absl::MutexLock lock(&insert_batches_mu_);
  auto [it, added] = insert_batches_.try_emplace(rows);
  if (added) {
    it->second = {absl::StrCat(table_.name(), ".insert_batch.", rows),
                  InsertBatchSql(table_, rows)};
  }
  return it->second;
}

void Table::InsertMany(std::vector<PendingInsert> rows, CallLimit limit, Done done) const {
  Params params;
  for (PendingInsert& row : rows) {
    params.Append(std::move(row.params));
    if (row.request_id.empty()) {
      params.AddNull();
    } else {
      params.AddText(row.request_id);
    }
  }
  params.AddText(table_.name());
  const Statement& statement = InsertBatch(rows.size());
  pipeline_.Run(
      statement, std::move(params), std::move(limit),
      {"insert", StatementKind::kWrite, absl::StrCat("creating ", table_.name())},
      [this, rows = std::move(rows), done = std::move(done)](
          absl::StatusOr<Result> result) mutable {
        if (!result.ok()) return std::move(done)(result.status());
        if (result->size() != rows.size()) {
          return std::move(done)(absl::InternalError(absl::StrCat(
              "creating ", rows.size(), " ", table_.name(), " rows returned ", result->size())));
        }
        for (size_t i = 0; i < result->size(); ++i) {
          const Cell ord_cell = result->cell(i, 0);
          size_t ord = 0;
          if (!absl::SimpleAtoi(absl::string_view(ord_cell.data, ord_cell.size), &ord) ||
              ord < 1 || ord > rows.size()) {
            return std::move(done)(BadValue(table_.primary_key()));
          }
          const PendingInsert& row = rows[ord - 1];
          absl::Status s = ReadRow(ResultRow{&*result, i}, 1, all_columns_, row.out);
          if (!s.ok()) return std::move(done)(std::move(s));
          Echo(write_form_.echoed, row.resource, row.out);
        }
        std::move(done)(absl::OkStatus());
      });
}

absl::Status Table::InsertCarefully(Message* resource, const std::string& request_id,
                                    const CallLimit& limit, Message* out) const {
  // Two rounds at most: when a concurrent call with the same request_id
  // commits first, this one's record clashes, and the second round reads
  // what that call created. (Rare: its values are bound again.)
  for (int round = 0; round < 2; ++round) {
    Params row_params;
    if (absl::Status s = BindWritable(table_, *resource, &row_params); !s.ok()) return s;
    std::string created_key;
    {
      absl::StatusOr<Pool::Lease> conn = pool_.Acquire(limit, "insert");
      if (!conn.ok()) return conn.status();
      try {
        pqxx::work tx((*conn)->raw());
        Params find;
        find.AddText(request_id);
        find.AddText(table_.name());
        pqxx::result found = (*conn)->Exec(tx, find_request_, std::move(find));
        if (!found.empty()) {
          created_key = found[0][0].c_str();
          tx.commit();
        } else {
          pqxx::result row = (*conn)->Exec(tx, insert_, std::move(row_params));
          if (absl::Status s = ReadRow(row.at(0), 0, all_columns_, out); !s.ok()) return s;
          Echo(write_form_.echoed, resource, out);
          const Column& pk = table_.primary_key();
          const Reflection* r = out->GetReflection();
          Params record;
          record.AddText(request_id);
          record.AddText(table_.name());
          record.AddText(pk.type == ColumnType::kInt64
                             ? absl::StrCat(r->GetInt64(*out, pk.field))
                             : r->GetString(*out, pk.field));
          (*conn)->Exec(tx, record_request_, std::move(record));
          tx.commit();
          return absl::OkStatus();
        }
      } catch (const std::exception& e) {
        absl::Status status = StatusFromException(
            e, StatementKind::kTransaction, absl::StrCat("creating ", table_.name()));
        if (ViolatedConstraint(status) == "protomodel_request_ids_pkey" && round == 0) {
          continue;
        }
        return Explain(status, resource, "");
      }
    }
    return GetAndWait(created_key, limit, out);
  }
  return absl::AbortedError(absl::StrCat("request_id ", request_id,
                                         ": a concurrent create with it did not settle; retry"));
}

}  // namespace protomodel::db
