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

namespace protomodel::server {

// The five standard verbs (AIP-131..135) over one table, for any method
// whose plan (MethodPlan) names the request and response fields it reads
// and writes. Every request is checked on gRPC's thread (INVALID_ARGUMENT
// naming the field), and nothing throws. Its statement is then sent from
// that thread on the Table's pipeline, and the call is finished on the
// pipeline's thread when the database answers: no thread waits for the
// database, and none hands a call to another on the way in. Point reads
// (Get without the detailed view) and creates that arrive while earlier
// ones are under way are done together, in one statement (see Batcher); a
// call that waited for its batch past its deadline or after its client left
// is answered without touching the database. Each verb finishes its Call.
class Crud final {
 public:
  // Makes `length` random URL-safe characters, for columns with a
  // random_length option.
  using RandomText = std::function<std::string(int length)>;

  // At most `max_waiting` Gets, and as many creates, wait for a batch.
  Crud(const db::Table& table, absl::Duration default_deadline, int max_waiting,
       RandomText random_text);

  void Create(Call* call) const;
  void Get(Call* call) const;
  void List(Call* call) const;
  void Update(Call* call) const;
  void Delete(Call* call) const;
  // The batch verbs (AIP-231, 233, 234, 235): each entry checked as its
  // single call's request is, every one before any database work, then all
  // of them in one statement (db::Table's batches).
  void BatchGet(Call* call) const;
  void BatchCreate(Call* call) const;
  void BatchUpdate(Call* call) const;
  void BatchDelete(Call* call) const;

  // Calls waiting for their batch.
  int waiting() const { return static_cast<int>(gets_->waiting() + creates_->waiting()); }

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
    // The resource: moved out of the request (`owned`), or in place.
    google::protobuf::Message* resource = nullptr;
    std::unique_ptr<google::protobuf::Message> owned;
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

  // A create whose random values the server drew: tried again, drawing
  // anew, while they clash.
  struct DrawnCreate {
    Call* call;
    PreparedCreate create;
    db::CallLimit limit;
    int attempts = 0;
  };

  using Finished = Batcher<PendingGet>::Finished;

  // The call's deadline (or the default one) and its cancellation.
  db::CallLimit Limit(grpc::CallbackServerContext* context) const;
  // What answers `call` when the table is done.
  static db::Table::Done Finisher(Call* call);

  // Each request (a call's, or a batch entry: `plan`'s fields are then
  // the entry's) checked and made ready for the database, or
  // INVALID_ARGUMENT about the field at fault.
  absl::StatusOr<PreparedCreate> PrepareCreate(const MethodPlan& plan,
                                               google::protobuf::Message* request,
                                               bool in_place) const;
  absl::StatusOr<db::Table::PreparedList> PrepareList(const Call& call) const;
  absl::StatusOr<db::Table::UpdateEntry> CheckUpdate(const MethodPlan& plan,
                                                     google::protobuf::Message* request) const;
  absl::StatusOr<PreparedDelete> PrepareDelete(const MethodPlan& plan,
                                               const google::protobuf::Message& request) const;
  // The columns `request`'s read_mask names (none when it has none).
  absl::StatusOr<std::vector<const db::Column*>> ReadMask(
      const MethodPlan& plan, const google::protobuf::Message& request) const;
  // Whether `request` asks for the detailed view (its `view` is FULL).
  absl::StatusOr<bool> FullView(const MethodPlan& plan,
                                const google::protobuf::Message& request) const;

  // Fills `column` of `resource` with random text.
  void Draw(const db::Column& column, google::protobuf::Message* resource) const;
  // Inserts one create, retrying a clash on a random value it drew.
  void InsertDrawn(std::unique_ptr<DrawnCreate> create) const;
  // Inserts a batch of creates, in one statement when there are several.
  void InsertCreates(std::vector<PendingCreate> creates, Finished finished) const;
  // Reads a batch of Gets, in one statement when there are several.
  void ReadGets(std::vector<PendingGet> gets, Finished finished) const;

  const db::Table& table_;
  // The columns a create writes, in table order.
  std::vector<const db::Column*> writable_;
  const absl::Duration default_deadline_;
  const RandomText random_text_;
  std::unique_ptr<Batcher<PendingGet>> gets_;
  std::unique_ptr<Batcher<PendingCreate>> creates_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_CRUD_H_
