#include "server/verbs/service.h"

#include <grpcpp/impl/rpc_service_method.h>
#include <grpcpp/impl/codegen/server_callback_handlers.h>

namespace protomodel::server {

ResourceService::ResourceService(std::vector<Route> routes, const TokenStore* tokens)
    : routes_(std::move(routes)), tokens_(tokens) {
  for (size_t i = 0; i < routes_.size(); ++i) {
    const Route* route = &routes_[i];
    if (route->plan.verb == Verb::kWatch || route->plan.verb == Verb::kWatchUpdates) {
      AddMethod(new grpc::internal::RpcServiceMethod(
          route->plan.path.c_str(), grpc::internal::RpcMethod::SERVER_STREAMING, nullptr));
      MarkMethodRawCallback(
          static_cast<int>(i),
          new grpc::internal::CallbackServerStreamingHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
              [this, route](grpc::CallbackServerContext* context,
                            const grpc::ByteBuffer* request) {
                return HandleWatch(*route, context, request);
              }));
      continue;
    }
    AddMethod(new grpc::internal::RpcServiceMethod(
        route->plan.path.c_str(), grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
    MarkMethodRawCallback(
        static_cast<int>(i),
        new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
            [this, route](grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                          grpc::ByteBuffer* reply) {
              return Handle(*route, context, request, reply);
            }));
  }
}

std::vector<std::string> ResourceService::MethodNames() const {
  std::vector<std::string> names;
  for (const Route& route : routes_) names.push_back(route.plan.full_name);
  return names;
}

grpc::ServerUnaryReactor* ResourceService::Handle(const Route& route,
                                                  grpc::CallbackServerContext* context,
                                                  const grpc::ByteBuffer* request,
                                                  grpc::ByteBuffer* reply) {
  Call* call = new Call(context, route.plan, *route.request_type, *route.response_type, reply);
  grpc::ServerUnaryReactor* reactor = call->reactor();
  if (absl::Status auth = Authorize(route, context); !auth.ok()) {
    call->Finish(auth);
    return reactor;
  }
  if (absl::Status parsed = call->Parse(*request); !parsed.ok()) {
    call->Finish(parsed);
    return reactor;
  }
  const Crud& crud = *route.crud;
  switch (route.plan.verb) {
    case Verb::kCreate:
      crud.Create(call);
      break;
    case Verb::kGet:
      crud.Get(call);
      break;
    case Verb::kList:
      crud.List(call);
      break;
    case Verb::kUpdate:
      crud.Update(call);
      break;
    case Verb::kDelete:
      crud.Delete(call);
      break;
    case Verb::kBatchGet:
      crud.BatchGet(call);
      break;
    case Verb::kBatchCreate:
      crud.BatchCreate(call);
      break;
    case Verb::kBatchUpdate:
      crud.BatchUpdate(call);
      break;
    case Verb::kBatchDelete:
      crud.BatchDelete(call);
      break;
    case Verb::kAppendUpdate:
      route.documents->Append(call);
      break;
    case Verb::kListUpdates:
      route.documents->ListUpdates(call);
      break;
    case Verb::kCompact:
      route.documents->Compact(call);
      break;
    case Verb::kWatch:
    case Verb::kWatchUpdates:
      call->Finish(absl::InternalError("a watch is not unary"));
      break;
  }
  return reactor;
}

absl::Status ResourceService::Authorize(const Route& route,
                                        grpc::CallbackServerContext* context) const {
  if (tokens_ == nullptr) return absl::OkStatus();
  return tokens_
      ->Check(MetadataValue(context->client_metadata(), "authorization"), route.plan.full_name,
              ClassOf(route.plan.verb) == VerbClass::kRead ? kReadClass : kWriteClass)
      .status;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* ResourceService::HandleWatch(
    const Route& route, grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  absl::Status auth = Authorize(route, context);
  if (auth.ok() && route.plan.verb == Verb::kWatchUpdates) {
    return route.watches->StartDocument(route.plan, *route.log, *route.request_type,
                                        *route.response_type, context, request);
  }
  if (auth.ok()) {
    return route.watches->Start(route.plan, *route.table, *route.request_type,
                                *route.response_type, context, request);
  }
  return WatchHub::Refuse(auth);
}

}  // namespace protomodel::server
