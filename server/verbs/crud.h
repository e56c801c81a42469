#ifndef PROTOMODEL_SERVER_VERBS_CRUD_H_
#define PROTOMODEL_SERVER_VERBS_CRUD_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "db/table.h"
#include "server/verbs/batcher.h"
#include "server/verbs/call.h"
#include "server/verbs/executor.h"

namespace protomodel::server {

// The five standard verbs (AIP-131..135) over one table, for any method
// whose plan (MethodPlan) names the request and response fields it reads
// and writes. Every request is checked on gRPC's thread (INVALID_ARGUMENT
// naming the field) before it takes a place in the Executor's queue, and
// nothing throws. The database work runs on the Executor, so gRPC's threads
// never wait on the database: a call queued past its deadline or after its
// client left is answered without touching the database. Point reads (Get
// without the detailed view) and creates that queue up together are done
// together, in one statement (see Batcher). Each verb finishes its Call.
class Crud final {
 public:
  // Makes `length` random URL-safe characters, for columns with a
  // random_length option.
  using RandomText = std::function<std::string(int length)>;

  Crud(const db::Table& table, Executor& executor, absl::Duration default_deadline,
       RandomText random_text);

  void Create(Call* call) const;
  void Get(Call* call) const;
  void List(Call* call) const;
  void Update(Call* call) const;
  void Delete(Call* call) const;

 private:
  // A Get waiting to be read in a batch.
  struct PendingGet {
    Call* call;
    std::string key;
    db::CallLimit limit;
    size_t bytes() const { return key.size(); }
  };

  // A create checked and ready to insert.
  struct PreparedCreate {
    std::unique_ptr<google::protobuf::Message> resource;
    std::string request_id;  // canonical, or ""
    // The random columns the server filled: drawn again on a clash.
    std::vector<const db::Column*> drawn;
  };
  // A create waiting to be inserted in a batch: checked and bound.
  struct PendingCreate {
    Call* call;
    PreparedCreate create;
    db::Params params;
    db::CallLimit limit;
    size_t bytes() const { return params.bytes(); }
  };

  // A delete checked: its key and etag.
  struct PreparedDelete {
    std::string key;
    std::optional<std::string> etag;
  };

  using Work = absl::AnyInvocable<absl::Status(const db::CallLimit&)>;

  // The call's deadline (or the default one) and its cancellation.
  db::CallLimit Limit(grpc::CallbackServerContext* context) const;
  // Queues `work` for the executor and finishes `call` with its status (or
  // at once, when the queue is full).
  void Enqueue(Call* call, Work work) const;

  // Each request checked and made ready for the database, or
  // INVALID_ARGUMENT about the field at fault.
  absl::StatusOr<PreparedCreate> PrepareCreate(const Call& call) const;
  absl::StatusOr<db::Table::PreparedList> PrepareList(const Call& call) const;
  absl::StatusOr<db::Table::PreparedUpdate> PrepareUpdate(const Call& call) const;
  absl::StatusOr<PreparedDelete> PrepareDelete(const Call& call) const;

  // Fills `column` of `resource` with random text.
  void Draw(const db::Column& column, google::protobuf::Message* resource) const;
  // Inserts one create, retrying a clash on a random value it drew.
  absl::Status InsertOne(const db::CallLimit& limit, PreparedCreate& create,
                         google::protobuf::Message* response) const;
  // Inserts a batch of creates, in one statement when there are several.
  void InsertCreates(std::vector<PendingCreate> creates) const;
  // Reads a batch of Gets, in one statement when there are several.
  void ReadGets(std::vector<PendingGet> gets) const;

  const db::Table& table_;
  // The columns a create writes, in table order.
  std::vector<const db::Column*> writable_;
  Executor& executor_;
  const absl::Duration default_deadline_;
  const RandomText random_text_;
  std::unique_ptr<Batcher<PendingGet>> gets_;
  std::unique_ptr<Batcher<PendingCreate>> creates_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_CRUD_H_
