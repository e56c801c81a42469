#ifndef PROTOMODEL_SERVER_VERBS_SERVICE_H_
#define PROTOMODEL_SERVER_VERBS_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/message.h>
#include <grpcpp/impl/service_type.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include "server/transport/auth.h"
#include "server/verbs/crud.h"
#include "server/verbs/document.h"
#include "server/verbs/plan.h"
#include "server/verbs/watch.h"

namespace protomodel::server {

// One gRPC service built at start-up from its descriptor: each method,
// planned once (its verb, its table, the fields it reads), is registered
// with gRPC's callback API on raw ByteBuffers, as generated code registers
// its methods, and dispatched to its verb. The same code serves the
// built-in services and any descriptor set's.
class ResourceService final : public grpc::Service {
 public:
  // One method: its plan, the verbs of its table, and prototypes of its
  // request and response (generated or dynamic), all outliving the service.
  struct Route {
    MethodPlan plan;
    const Crud* crud = nullptr;
    const google::protobuf::Message* request_type = nullptr;
    const google::protobuf::Message* response_type = nullptr;
    // Watch, Watch<R>Updates: the replica's watches and the method's table.
    WatchHub* watches = nullptr;
    const db::Table* table = nullptr;
    // The document verbs: the table's live documents.
    const DocumentVerbs* documents = nullptr;
    const db::DocumentLog* log = nullptr;
  };

  // With `tokens`, each call's token is checked against the method's full
  // name and its verb's class before anything else, and a refusal carries
  // its AIP-193 details.
  ResourceService(std::vector<Route> routes, const TokenStore* tokens);

  // The methods' full names, "package.Service/Method".
  std::vector<std::string> MethodNames() const;

 private:
  grpc::ServerUnaryReactor* Handle(const Route& route, grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request, grpc::ByteBuffer* reply);
  grpc::ServerWriteReactor<grpc::ByteBuffer>* HandleWatch(const Route& route,
                                                          grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* request);
  // The caller's token, checked for `route`'s method: OK when no tokens
  // are required.
  absl::Status Authorize(const Route& route, grpc::CallbackServerContext* context) const;

  const std::vector<Route> routes_;
  const TokenStore* const tokens_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_SERVICE_H_
