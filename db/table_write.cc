#include "db/table.h"

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

void Table::MissedWrite(std::string key, std::optional<std::string> etag, CallLimit limit,
                        Done done) const {
  if (!etag.has_value() && table_.document() == nullptr) return std::move(done)(NotFound(key));
  Params params;
  params.AddText(key);
  std::string what = Describe(key);
  pipeline_.Run(exists_, std::move(params), std::move(limit),
                {"update", StatementKind::kRead, std::move(what)},
                [this, key = std::move(key), etag = std::move(etag), done = std::move(done)](
                    absl::StatusOr<Result> result) mutable {
                  if (!result.ok()) return std::move(done)(result.status());
                  std::move(done)(Missed(key, etag.has_value(), !result->empty()));
                });
}

absl::StatusOr<Table::PreparedUpdate> Table::PrepareUpdate(
    std::string key, Message& resource, const std::vector<const Column*>& columns,
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
    update.echoed = WriteForm(table_, table_.ColumnSet(columns)).echoed;
  }
  update.key = std::move(key);
  update.etag = std::move(etag);
  return update;
}

void Table::Update(PreparedUpdate update, CallLimit limit, Message* out, Done done) const {
  if (!update.statement.has_value()) {
    // Nothing to write: the row as it is, after the same precondition.
    const std::string key = update.key;
    return Get(key, false, std::move(limit), out,
               [this, out, update = std::move(update), done = std::move(done)](
                   absl::Status status) mutable {
                 if (status.ok() && update.etag.has_value() &&
                     out->GetReflection()->GetString(*out, table_.etag()->field) !=
                         *update.etag) {
                   status = EtagMismatch(update.key);
                 }
                 std::move(done)(std::move(status));
               });
  }
  const Statement statement = std::move(*update.statement);
  Params params = std::move(update.params);
  std::string what = Describe(update.key);
  CallLimit again = limit;
  pipeline_.Run(
      statement, std::move(params), std::move(limit),
      {"update", StatementKind::kWrite, std::move(what)},
      [this, out, update = std::move(update), again = std::move(again),
       done = std::move(done)](absl::StatusOr<Result> result) mutable {
        if (!result.ok()) {
          return std::move(done)(Explain(result.status(), update.resource, update.key));
        }
        if (result->empty()) {
          return MissedWrite(std::move(update.key), std::move(update.etag), std::move(again),
                             std::move(done));
        }
        absl::Status status = ReadRow(ResultRow{&*result, 0}, 0, all_columns_, out);
        if (status.ok()) Echo(update.echoed, update.resource, out);
        std::move(done)(std::move(status));
      });
}

void Table::Delete(std::string key, std::optional<std::string> etag, CallLimit limit,
                   Done done) const {
  const bool conditional = etag.has_value() && table_.etag() != nullptr;
  if (!conditional) etag.reset();
  Params params;
  params.AddText(key);
  if (conditional) params.AddText(*etag);
  std::string what = Describe(key);
  CallLimit again = limit;
  pipeline_.Run(conditional ? delete_if_ : delete_, std::move(params), std::move(limit),
                {"delete", StatementKind::kWrite, std::move(what)},
                [this, key = std::move(key), etag = std::move(etag), again = std::move(again),
                 done = std::move(done)](absl::StatusOr<Result> result) mutable {
                  if (!result.ok()) {
                    return std::move(done)(Explain(result.status(), nullptr, key));
                  }
                  if (result->affected() == 0) {
                    return MissedWrite(std::move(key), std::move(etag), std::move(again),
                                       std::move(done));
                  }
                  std::move(done)(absl::OkStatus());
                });
}

}  // namespace protomodel::db
