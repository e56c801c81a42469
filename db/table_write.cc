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

// Updates and deletes, with their etag preconditions.

absl::Status Table::MissedWrite(Connection& conn, pqxx::transaction_base& tx,
                                const std::string& key,
                                const std::optional<std::string>& etag) const {
  if (!etag.has_value()) {
    return NotFound(key);
  }
  Params params;
  params.AddText(key);
  pqxx::result result = conn.Exec(tx, exists_, std::move(params));
  if (result.empty()) {
    return NotFound(key);
  }
  return EtagMismatch(key);
}

absl::StatusOr<Table::PreparedUpdate> Table::PrepareUpdate(
    std::string key, const Message& resource, const std::vector<const Column*>& columns,
    std::optional<std::string> etag) const {
  PreparedUpdate update;
  update.resource = &resource;
  if (table_.etag() == nullptr) etag.reset();
  if (columns.empty()) {
    if (etag.has_value()) {
      absl::Status s =
          CheckEtag(*etag, table_.etag()->path);
      if (!s.ok()) return s;
    }
  } else {
    absl::StatusOr<Statement> statement =
        UpdateStatement(table_, key, resource, columns, etag, &update.params);
    if (!statement.ok()) return statement.status();
    update.statement = *std::move(statement);
  }
  update.key = std::move(key);
  update.etag = std::move(etag);
  return update;
}

absl::Status Table::Update(PreparedUpdate update, const CallLimit& limit, Message* out) const {
  const std::string& key = update.key;
  const std::optional<std::string>& etag = update.etag;
  if (!update.statement.has_value()) {
    // Nothing to write: the row as it is, after the same precondition.
    absl::Status s = Get(key, false, limit, out);
    if (!s.ok() || !etag.has_value()) return s;
    if (out->GetReflection()->GetString(*out, table_.etag()->field) != *etag) {
      return EtagMismatch(key);
    }
    return absl::OkStatus();
  }
  absl::StatusOr<Pool::Lease> conn = pool_.Acquire(limit, "update");
  if (!conn.ok()) return conn.status();
  try {
    pqxx::nontransaction tx((*conn)->raw());
    pqxx::result result = (*conn)->Exec(tx, *update.statement, std::move(update.params));
    if (result.empty()) return MissedWrite(**conn, tx, key, etag);
    return ReadRow(result[0], 0, all_columns_, out);
  } catch (const std::exception& e) {
    return Explain(StatusFromException(e, StatementKind::kWrite, Describe(key)), update.resource,
                   key);
  }
}

absl::Status Table::Delete(const std::string& key,
                           const std::optional<std::string>& etag,
                           const CallLimit& limit) const {
  const bool conditional = etag.has_value() && table_.etag() != nullptr;
  Params params;
  params.AddText(key);
  if (conditional) params.AddText(*etag);
  absl::StatusOr<Pool::Lease> conn = pool_.Acquire(limit, "delete");
  if (!conn.ok()) return conn.status();
  try {
    pqxx::nontransaction tx((*conn)->raw());
    pqxx::result result =
        (*conn)->Exec(tx, conditional ? delete_if_ : delete_, std::move(params));
    if (result.affected_rows() == 0) {
      return MissedWrite(**conn, tx, key, conditional ? etag : std::nullopt);
    }
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return Explain(StatusFromException(e, StatementKind::kWrite, Describe(key)), nullptr,
                   key);
  }
}

}  // namespace protomodel::db
