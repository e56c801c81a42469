#ifndef PROTOMODEL_SERVER_VERBS_CRUD_H_
#define PROTOMODEL_SERVER_VERBS_CRUD_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/empty.pb.h>
#include <google/protobuf/message.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "db/table.h"
#include "server/transport/auth.h"
#include "server/verbs/batcher.h"
#include "server/verbs/executor.h"

namespace protomodel::server {

// The five standard methods (AIP-131..135) for any table message, driven by
// Protobuf reflection over the request messages the contract fixes:
//   CreateXRequest  {X x = 1; string request_id = 2;}
//   GetXRequest     {id = 1; View view = 2 (optional);}
//   ListXsRequest   {page_size = 1; page_token = 2; filter = 3; order_by = 4;
//                    FieldMask read_mask = 5;}
//   ListXsResponse  {repeated X xs = 1; string next_page_token = 2;}
//   UpdateXRequest  {X x = 1; FieldMask update_mask = 2;}
//   DeleteXRequest  {id = 1; string etag = 2 (optional);}
// It validates input against the descriptor (INVALID_ARGUMENT naming the
// field) before anything reaches the database, and never throws. Each method
// hands the call to the Executor and returns its reactor at once, so gRPC's
// threads never wait on the database: a call queued there past its deadline
// or after its client left is answered without touching the database.
// Point reads (Get without the detailed view) that queue up together are
// done together, in one statement (see Batcher).
class Crud final {
 public:
  // Rules of one resource beyond what its options say. Each runs after the
  // generic validation and before the database is touched.
  struct Rules {
    // On create: may check fields and fill server-generated values.
    std::function<absl::Status(google::protobuf::Message&)> on_create;
    // On update: may check the columns about to be written.
    std::function<absl::Status(const google::protobuf::Message&,
                               const std::vector<const db::Column*>&)>
        on_update;
    // A unique column that on_create fills when the request leaves it empty:
    // a clash on it is retried with a fresh value.
    std::string generated_column;
  };

  // `tokens` (plaintext listeners with tokens, where no AuthMetadataProcessor
  // runs): each call's token is checked against the method, named from
  // `service` and the request message ("CreateHeroRequest": CreateHero).
  Crud(const db::Table& table, Executor& executor, absl::Duration default_deadline,
       Rules rules = {}, std::string service = "", const TokenStore* tokens = nullptr);

  grpc::ServerUnaryReactor* Create(grpc::CallbackServerContext* context,
                      const google::protobuf::Message& request,
                      google::protobuf::Message* response) const;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                   const google::protobuf::Message& request,
                   google::protobuf::Message* response) const;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* context,
                    const google::protobuf::Message& request,
                    google::protobuf::Message* response) const;
  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* context,
                      const google::protobuf::Message& request,
                      google::protobuf::Message* response) const;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* context,
                      const google::protobuf::Message& request,
                      google::protobuf::Empty* response) const;

 private:
  // A Get waiting to be read in a batch.
  struct PendingGet {
    grpc::CallbackServerContext* context;
    grpc::ServerUnaryReactor* reactor;
    std::string key;
    google::protobuf::Message* response;
    db::CallLimit limit;
    size_t bytes() const { return key.size(); }
  };

  // A create checked and ready to insert.
  struct PreparedCreate {
    std::unique_ptr<google::protobuf::Message> resource;
    std::string request_id;  // canonical, or ""
    // The generated column is empty: on_create fills it, again on a clash.
    bool regenerate = false;
  };
  // A create waiting to be inserted in a batch: on_create applied, bound.
  struct PendingCreate {
    grpc::CallbackServerContext* context;
    grpc::ServerUnaryReactor* reactor;
    PreparedCreate create;
    db::Params params;
    google::protobuf::Message* response;
    db::CallLimit limit;
    size_t bytes() const { return params.bytes(); }
  };

  // False, after finishing the call with the refusal, when a token store
  // is set and the call's token may not call this method.
  bool Authorized(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                  const google::protobuf::Message& request) const;
  // The call's deadline (or the default one) and its cancellation.
  db::CallLimit Limit(grpc::CallbackServerContext* context) const;
  // Queues `work` (absl::Status(const db::CallLimit&)) for the executor and
  // finishes `reactor` with its status (or at once, when the queue is full).
  template <typename Work>
  grpc::ServerUnaryReactor* Enqueue(grpc::CallbackServerContext* context,
                                    grpc::ServerUnaryReactor* reactor, Work work) const;
  // Authorized, then `prepare()` (a StatusOr: the request checked on gRPC's
  // thread, before it takes a place in the queue), then Enqueue of
  // `run(prepared, limit)` on the call's own reactor.
  template <typename Prepare, typename Run>
  grpc::ServerUnaryReactor* Dispatch(grpc::CallbackServerContext* context,
                                     const google::protobuf::Message& request, Prepare prepare,
                                     Run run) const;
  // The request's resource and request_id, checked.
  absl::StatusOr<PreparedCreate> PrepareCreate(const google::protobuf::Message& request) const;
  // Inserts one create, retrying a clash on a generated value it filled.
  absl::Status InsertOne(const db::CallLimit& limit, PreparedCreate& create,
                         google::protobuf::Message* response) const;
  // Inserts a batch of creates, in one statement when there are several.
  void InsertCreates(std::vector<PendingCreate> creates) const;
  // Reads a batch of Gets, in one statement when there are several.
  void ReadGets(std::vector<PendingGet> gets) const;
  // A delete checked: its key and etag.
  struct PreparedDelete {
    std::string key;
    std::optional<std::string> etag;
  };
  // Each request checked and made ready for the database, or
  // INVALID_ARGUMENT about the field at fault.
  absl::StatusOr<db::Table::PreparedList> PrepareList(
      const google::protobuf::Message& request) const;
  absl::StatusOr<db::Table::PreparedUpdate> PrepareUpdate(
      const google::protobuf::Message& request) const;
  absl::StatusOr<PreparedDelete> PrepareDelete(const google::protobuf::Message& request) const;

  const db::Table& table_;
  Executor& executor_;
  const absl::Duration default_deadline_;
  const Rules rules_;
  const std::string service_;
  const TokenStore* const tokens_;
  std::unique_ptr<Batcher<PendingGet>> gets_;
  std::unique_ptr<Batcher<PendingCreate>> creates_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_CRUD_H_
