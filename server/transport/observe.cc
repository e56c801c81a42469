#include "server/transport/observe.h"

#include <chrono>
#include <string>

#include <grpcpp/server_context.h>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/transport/logging.h"

namespace protomodel::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

// What the caller got. A call cancelled before its status went out (the
// client left, its deadline passed, the connection broke) never receives the
// handler's status, and gRPC's own services answer such calls UNKNOWN
// ("OnCancel()"): counted and logged as that, a client closing a health Watch
// would look like a server error.
grpc::Status Delivered(grpc::ServerContextBase* context, grpc::Status status) {
  if (!context->IsCancelled() || status.error_code() == grpc::StatusCode::CANCELLED ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return status;
  }
  if (std::chrono::system_clock::now() >= context->deadline()) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "the deadline passed before the answer");
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled before the answer");
}

class CallObserver final : public grpc::experimental::Interceptor {
 public:
  CallObserver(grpc::experimental::ServerRpcInfo* info, const ObserveOptions& options)
      : info_(info), options_(options), start_(absl::Now()) {
    if (options_.metrics != nullptr) {
      counters_ = &options_.metrics->ForMethod(MethodOfPath(info_->method()));
      counters_->Started();
    }
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      const auto& metadata = *methods->GetRecvInitialMetadata();
      request_id_ = RequestIdOf(MetadataValue(metadata, "x-request-id"));
      traceparent_ = std::string(TraceparentOf(MetadataValue(metadata, "traceparent")));
      // The token's NAME is for the log line alone: no hashing without it.
      if (options_.log_calls && options_.tokens != nullptr) {
        token_ = options_.tokens->NameOf(MetadataValue(metadata, "authorization"));
      }
    }
    if (counters_ != nullptr) {
      // At a stream's end the hook comes with no message: nothing was read.
      if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
          methods->GetRecvMessage() != nullptr) {
        counters_->Received();
      }
      if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
        counters_->Sent();
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      if (request_id_.empty()) request_id_ = NewRequestId();
      methods->GetSendInitialMetadata()->emplace("x-request-id", request_id_);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = Delivered(info_->server_context(), methods->GetSendStatus());
      const absl::Duration elapsed = absl::Now() - start_;
      if (counters_ != nullptr) counters_->Handled(status.error_code(), elapsed);
      if (options_.log_calls) {
        if (request_id_.empty()) request_id_ = NewRequestId();
        const std::string peer = info_->server_context()->peer();
        CallTags tags;
        tags.method = MethodOfPath(info_->method());
        tags.request_id = request_id_;
        tags.peer = peer;
        tags.token = token_;
        tags.traceparent = traceparent_;
        LogCall(tags, status, elapsed);
      }
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* const info_;
  const ObserveOptions& options_;
  const absl::Time start_;
  const Metrics::Method* counters_ = nullptr;
  std::string request_id_;
  std::string traceparent_;
  std::string token_;
};

class CallObserverFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallObserverFactory(ObserveOptions options) : options_(options) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new CallObserver(info, options_);
  }

 private:
  const ObserveOptions options_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeCallObserverFactory(ObserveOptions options) {
  return std::make_unique<CallObserverFactory>(options);
}

}  // namespace protomodel::server
