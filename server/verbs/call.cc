#include "server/verbs/call.h"

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include "absl/strings/str_cat.h"
#include "db/errors.h"
#include "server/transport/status.h"

namespace protomodel::server {

Call::Call(grpc::CallbackServerContext* context, const MethodPlan& plan,
           const google::protobuf::Message& request_type,
           const google::protobuf::Message& response_type, grpc::ByteBuffer* reply)
    : context_(context),
      plan_(plan),
      reactor_(context->DefaultReactor()),
      request_(request_type.New()),
      response_(response_type.New()),
      reply_(reply) {}

absl::Status ParseRequest(const grpc::ByteBuffer& request, google::protobuf::Message* out) {
  // Read in place: gRPC's GenericDeserialize would clear the buffer, which
  // the handler owns, so it would need a copy. The reader only reads (it
  // wants a non-const buffer for ByteBuffer::c_buffer()).
  bool parsed = false;
  {
    grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(&request));
    parsed = reader.status().ok() && out->ParseFromZeroCopyStream(&reader);
  }
  if (parsed) {
    const_cast<grpc::ByteBuffer&>(request).Clear();
    return absl::OkStatus();
  }
  return db::WithReason(
      absl::InvalidArgumentError(
          absl::StrCat("the request is not a valid ", out->GetDescriptor()->full_name())),
      db::reason::kInvalidField);
}

absl::Status Call::Parse(const grpc::ByteBuffer& request) {
  return ParseRequest(request, request_.get());
}

void Call::Finish(const absl::Status& status) {
  grpc::Status answer = ToGrpcStatus(status);
  if (status.ok()) {
    bool own_buffer = false;
    answer = grpc::GenericSerialize<grpc::ProtoBufferWriter, google::protobuf::Message>(
        *response_, reply_, &own_buffer);
  }
  grpc::ServerUnaryReactor* reactor = reactor_;
  delete this;
  reactor->Finish(answer);
}

}  // namespace protomodel::server
