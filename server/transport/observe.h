#ifndef PROTOMODEL_SERVER_TRANSPORT_OBSERVE_H_
#define PROTOMODEL_SERVER_TRANSPORT_OBSERVE_H_

#include <memory>

#include <grpcpp/support/server_interceptor.h>

#include "server/transport/auth.h"
#include "server/transport/metrics.h"

namespace protomodel::server {

struct ObserveOptions {
  // Counts every call (started, handled by code, handling time).
  Metrics* metrics = nullptr;
  // Names the caller's token in the log line; null without tokens.
  const TokenStore* tokens = nullptr;
  // Logs one line per call.
  bool log_calls = true;
};

// What the server sees of every call that reaches a service: its
// x-request-id (the caller's or a generated one) goes back in the response's
// initial metadata and into the call's log line with the peer, the token's
// NAME and a W3C traceparent; the call and its messages are counted in the
// metrics.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeCallObserverFactory(ObserveOptions options);

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_TRANSPORT_OBSERVE_H_
