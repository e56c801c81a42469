// Create: checked on gRPC's thread, then inserted alone or, when creates
// queue up together, in one statement.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "db/errors.h"
#include "db/sql/sql_build.h"
#include "db/sql/values.h"
#include "server/verbs/checks.h"
#include "server/verbs/crud.h"
#include "server/verbs/pending.h"

namespace protomodel::server {

using google::protobuf::Message;

void Crud::Create(Call* call) const {
  absl::StatusOr<PreparedCreate> create = PrepareCreate(*call);
  if (!create.ok()) return call->Finish(create.status());
  db::Params params;
  if (absl::Status s = db::BindWritable(table_.schema(), *create->resource, &params); !s.ok()) {
    return call->Finish(s);
  }
  if (!create->drawn.empty()) {
    // Its random values may clash and be drawn again: alone.
    return Enqueue(call, [this, response = call->response(), create = *std::move(create)](
                             const db::CallLimit& limit) mutable {
      return InsertOne(limit, create, response);
    });
  }
  PendingCreate pending{call, *std::move(create), std::move(params), Limit(call->context())};
  if (!creates_->Add(pending)) call->Finish(Overloaded());
}

absl::StatusOr<Crud::PreparedCreate> Crud::PrepareCreate(const Call& call) const {
  const MethodPlan& plan = call.plan();
  const Message& request = call.request();
  PreparedCreate create;
  const Message& resource = request.GetReflection()->GetMessage(request, plan.resource);
  create.resource.reset(resource.New());
  create.resource->CopyFrom(resource);
  if (plan.request_id != nullptr) {
    std::string request_id = request.GetReflection()->GetString(request, plan.request_id);
    if (!request_id.empty()) {
      const std::string& path = plan.request_id->name();
      absl::StatusOr<std::string> uuid = db::CanonicalUuid(request_id, path);
      if (!uuid.ok()) return db::AboutField(uuid.status(), path);
      create.request_id = *std::move(uuid);
    }
  }
  if (absl::Status s = CheckRequired(*create.resource, writable_); !s.ok()) return s;
  for (const db::Column& column : table_.schema().columns()) {
    if (column.random_length > 0 && !IsSet(*create.resource, column)) {
      Draw(column, create.resource.get());
      create.drawn.push_back(&column);
    }
  }
  return create;
}

void Crud::Draw(const db::Column& column, Message* resource) const {
  resource->GetReflection()->SetString(resource, column.field, random_text_(column.random_length));
}

absl::Status Crud::InsertOne(const db::CallLimit& limit, PreparedCreate& create,
                             Message* response) const {
  constexpr int kAttempts = 5;
  absl::Status status;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    status = table_.Insert(*create.resource, create.request_id, limit, response);
    const db::Column* clash = status.ok() ? nullptr : table_.ViolatedColumn(status);
    if (clash == nullptr ||
        std::find(create.drawn.begin(), create.drawn.end(), clash) == create.drawn.end()) {
      break;
    }
    Draw(*clash, create.resource.get());
  }
  return status;
}

void Crud::InsertCreates(std::vector<PendingCreate> creates) const {
  const std::vector<PendingCreate*> live = Startable(creates);
  if (live.size() > 1) {
    std::vector<db::Table::PendingInsert> rows;
    for (PendingCreate* create : live) {
      rows.push_back(
          {std::move(create->params), create->create.request_id, create->call->response()});
    }
    const absl::Status status = table_.InsertMany(std::move(rows), SharedLimit(live));
    // The database refused the statement (a constraint, a value it would
    // not take: one row's fault, and nothing was written): one by one below,
    // so that each caller gets its own answer. Otherwise the answer is the
    // batch's, the same for all: written, in doubt (never redone), the
    // database unreachable, or the time gone.
    const absl::StatusCode code = status.code();
    if (status.ok() || code == absl::StatusCode::kUnknown ||
        code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kCancelled ||
        code == absl::StatusCode::kDeadlineExceeded) {
      for (PendingCreate* create : live) Answer(*create, status);
      return;
    }
  }
  // Alone, with the values it bound, or in a batch the database refused,
  // writing nothing (the batch took their values): one by one, each with its
  // own outcome and explanation.
  for (PendingCreate* create : live) {
    const Message& resource = *create->create.resource;
    Answer(*create, live.size() == 1
                        ? table_.InsertBound(resource, std::move(create->params),
                                             create->create.request_id, create->limit,
                                             create->call->response())
                        : table_.Insert(resource, create->create.request_id, create->limit,
                                        create->call->response()));
  }
}

}  // namespace protomodel::server
