#ifndef PROTOMODEL_SERVER_VERBS_CALL_H_
#define PROTOMODEL_SERVER_VERBS_CALL_H_

#include <memory>

#include <google/protobuf/message.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include "absl/status/status.h"
#include "server/verbs/plan.h"

namespace protomodel::server {

// Parses `request`, a call's request on the wire, into `out`, then clears
// the wire bytes (a document of many MiB is held once, in the message):
// INVALID_ARGUMENT when it is not one.
absl::Status ParseRequest(const grpc::ByteBuffer& request, google::protobuf::Message* out);

// One unary call of a served method, from its parsed request to its answer.
// It owns itself: Finish answers the call and deletes it.
class Call {
 public:
  // The call's request and response are new messages of `request_type` and
  // `response_type` (prototypes, generated or dynamic); the answer goes
  // into `reply`.
  Call(grpc::CallbackServerContext* context, const MethodPlan& plan,
       const google::protobuf::Message& request_type,
       const google::protobuf::Message& response_type, grpc::ByteBuffer* reply);
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  // Parses the request from the wire: INVALID_ARGUMENT when it is not one.
  absl::Status Parse(const grpc::ByteBuffer& request);

  grpc::CallbackServerContext* context() const { return context_; }
  const MethodPlan& plan() const { return plan_; }
  const google::protobuf::Message& request() const { return *request_; }
  google::protobuf::Message* mutable_request() { return request_.get(); }
  google::protobuf::Message* response() { return response_.get(); }
  grpc::ServerUnaryReactor* reactor() const { return reactor_; }

  // Answers with the response (OK) or `status` and its AIP-193 details,
  // then deletes this Call.
  void Finish(const absl::Status& status);

 private:
  ~Call() = default;

  grpc::CallbackServerContext* const context_;
  const MethodPlan& plan_;
  grpc::ServerUnaryReactor* const reactor_;
  std::unique_ptr<google::protobuf::Message> request_;
  std::unique_ptr<google::protobuf::Message> response_;
  grpc::ByteBuffer* const reply_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_CALL_H_
