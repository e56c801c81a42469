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
  absl::StatusOr<PreparedCreate> create = PrepareCreate(call->plan(), call->mutable_request(), false);
  if (!create.ok()) return call->Finish(create.status());
  db::Params params;
  if (absl::Status s = db::BindWritable(table_.schema(), *create->resource, &params); !s.ok()) {
    return call->Finish(s);
  }
  if (!create->drawn.empty()) {
    // Its random values may clash and be drawn again: alone.
    return InsertDrawn(std::make_unique<DrawnCreate>(
        DrawnCreate{call, *std::move(create), Limit(call->context())}));
  }
  PendingCreate pending{call, *std::move(create), std::move(params), Limit(call->context())};
  if (!creates_->Add(pending)) call->Finish(Overloaded());
}

absl::StatusOr<Crud::PreparedCreate> Crud::PrepareCreate(const MethodPlan& plan,
                                                         Message* request,
                                                         bool in_place) const {
  PreparedCreate create;
  Message* resource = request->GetReflection()->MutableMessage(request, plan.resource);
  if (in_place) {
    create.resource = resource;
  } else {
    // The resource moves out of the request (a document of many MiB is not
    // copied); nothing reads it there again.
    create.owned.reset(resource->New());
    create.owned->GetReflection()->Swap(create.owned.get(), resource);
    create.resource = create.owned.get();
  }
  if (plan.request_id != nullptr) {
    std::string request_id = request->GetReflection()->GetString(*request, plan.request_id);
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
      Draw(column, create.resource);
      create.drawn.push_back(&column);
    }
  }
  return create;
}

void Crud::Draw(const db::Column& column, Message* resource) const {
  resource->GetReflection()->SetString(resource, column.field, random_text_(column.random_length));
}

void Crud::InsertDrawn(std::unique_ptr<DrawnCreate> create) const {
  constexpr int kAttempts = 5;
  DrawnCreate& c = *create;
  table_.Insert(c.create.resource, c.create.request_id, c.limit, c.call->response(),
                [this, create = std::move(create)](absl::Status status) mutable {
                  const db::Column* clash = status.ok() ? nullptr : table_.ViolatedColumn(status);
                  const std::vector<const db::Column*>& drawn = create->create.drawn;
                  if (clash != nullptr && ++create->attempts < kAttempts &&
                      std::find(drawn.begin(), drawn.end(), clash) != drawn.end()) {
                    Draw(*clash, create->create.resource);
                    return InsertDrawn(std::move(create));
                  }
                  Answer(create->call, std::move(status));
                });
}

void Crud::InsertCreates(std::vector<PendingCreate> creates, Finished finished) const {
  std::vector<PendingCreate> live = Startable(std::move(creates));
  if (live.empty()) return std::move(finished)();
  if (live.size() == 1) {
    auto create = std::make_unique<PendingCreate>(std::move(live[0]));
    PendingCreate& c = *create;
    return table_.InsertBound(c.create.resource, std::move(c.params), c.create.request_id,
                              c.limit, c.call->response(),
                              [create = std::move(create), finished = std::move(finished)](
                                  absl::Status status) mutable {
                                std::move(finished)();
                                Answer(create->call, std::move(status));
                              });
  }
  std::vector<db::Table::PendingInsert> rows;
  for (PendingCreate& create : live) {
    rows.push_back({std::move(create.params), create.create.request_id,
                    create.create.resource, create.call->response()});
  }
  db::CallLimit limit = SharedLimit(live);
  table_.InsertMany(
      std::move(rows), std::move(limit),
      [this, live = std::move(live), finished = std::move(finished)](absl::Status status) mutable {
        std::move(finished)();
        // The database refused the statement (a constraint, a value it
        // would not take: one row's fault, and nothing was written): one by
        // one below, so that each caller gets its own answer. Otherwise the
        // answer is the batch's, the same for all: written, in doubt (never
        // redone), the database unreachable, or the time gone.
        const absl::StatusCode code = status.code();
        if (status.ok() || code == absl::StatusCode::kUnknown ||
            code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kCancelled ||
            code == absl::StatusCode::kDeadlineExceeded) {
          for (PendingCreate& create : live) Answer(create.call, status);
          return;
        }
        // Each on its own statement, with its own outcome and explanation
        // (the batch took their bound values: bound again).
        for (PendingCreate& pending : live) {
          auto create = std::make_unique<PendingCreate>(std::move(pending));
          PendingCreate& c = *create;
          table_.Insert(c.create.resource, c.create.request_id, c.limit,
                        c.call->response(), [create = std::move(create)](absl::Status own) {
                          Answer(create->call, std::move(own));
                        });
        }
      });
}

}  // namespace protomodel::server
