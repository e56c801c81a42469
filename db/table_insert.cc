#include "db/table.h"

#include <pqxx/nontransaction>
#include <pqxx/transaction>

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

absl::Status Table::Insert(const Message& resource, const std::string& request_id,
                           const CallLimit& limit, Message* out) const {
  Params params;
  if (absl::Status s = BindWritable(table_, resource, &params); !s.ok()) return s;
  return InsertBound(resource, std::move(params), request_id, limit, out);
}

absl::Status Table::InsertBound(const Message& resource, Params params,
                                const std::string& request_id, const CallLimit& limit,
                                Message* out) const {
  if (!request_id.empty()) {
    return InsertIdempotent(resource, std::move(params), request_id, limit, out);
  }
  return Explain(InsertRow(insert_, std::move(params), limit, out), &resource, "");
}

absl::Status Table::InsertRow(const Statement& statement, Params params,
                              const CallLimit& limit, Message* out) const {
  absl::StatusOr<pqxx::result> result =
      RunAlone(statement, std::move(params), limit, "insert", StatementKind::kWrite,
               absl::StrCat("creating ", table_.name()));
  if (!result.ok()) return result.status();
  if (result->empty()) return BadValue(table_.primary_key());
  return ReadRow((*result)[0], 0, all_columns_, out);
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

absl::Status Table::InsertMany(std::vector<PendingInsert> rows,
                               const CallLimit& limit) const {
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
  absl::StatusOr<pqxx::result> result =
      RunAlone(InsertBatch(rows.size()), std::move(params), limit, "insert", StatementKind::kWrite,
               absl::StrCat("creating ", table_.name()));
  if (!result.ok()) return result.status();
  if (result->size() != rows.size()) {
    return absl::InternalError(absl::StrCat("creating ", rows.size(), " ", table_.name(),
                                            " rows returned ", result->size()));
  }
  for (const pqxx::row& row : *result) {
    const size_t ord = row[0].as<size_t>();
    if (ord < 1 || ord > rows.size()) return BadValue(table_.primary_key());
    if (absl::Status s = ReadRow(row, 1, all_columns_, rows[ord - 1].out); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Table::InsertIdempotent(const Message& resource, Params params,
                                     const std::string& request_id, const CallLimit& limit,
                                     Message* out) const {
  // The first call with a request_id, as nearly every one is: the row and its
  // request_id in one statement, one round trip. Any constraint it breaks
  // (the request_id already recorded, or a retried create clashing with the
  // row it made) sends the call the careful way below.
  {
    params.AddText(request_id);
    params.AddText(table_.name());
    absl::Status status = InsertRow(insert_recording_, std::move(params), limit, out);
    if (status.ok() || ViolatedConstraint(status).empty()) {
      return Explain(std::move(status), &resource, "");
    }
  }
  // Two rounds at most: when a concurrent call with the same request_id
  // commits first, this one's record clashes, and the second round reads
  // what that call created. (Rare: its values are bound again.)
  for (int round = 0; round < 2; ++round) {
    Params row_params;
    if (absl::Status s = BindWritable(table_, resource, &row_params); !s.ok()) return s;
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
        return Explain(status, &resource, "");
      }
    }
    return Get(created_key, false, limit, out);
  }
  return absl::AbortedError(absl::StrCat("request_id ", request_id,
                                         ": a concurrent create with it did not settle; retry"));
}

}  // namespace protomodel::db
