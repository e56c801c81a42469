#include "harness/watch_reader.h"

#include <grpcpp/impl/codegen/proto_utils.h>

#include "absl/strings/str_cat.h"

namespace protomodel::testing {

using google::protobuf::Message;

WatchReader::WatchReader(const std::shared_ptr<grpc::Channel>& channel,
                         const google::protobuf::MethodDescriptor* method,
                         const Message& request, const std::string& token)
    : path_(absl::StrCat("/", method->service()->full_name(), "/", method->name())),
      request_(request.New()) {
  request_->CopyFrom(request);
  const Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(method->output_type());
  response_.reset(prototype->New());
  if (!token.empty()) context_.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  rpc_ = std::make_unique<grpc::internal::RpcMethod>(
      path_.c_str(), grpc::internal::RpcMethod::SERVER_STREAMING, channel);
  grpc::internal::ClientCallbackReaderFactory<Message>::Create(channel.get(), *rpc_, &context_,
                                                               request_.get(), this);
  StartRead(response_.get());
  StartCall();
}

WatchReader::~WatchReader() {
  context_.TryCancel();
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](std::optional<grpc::Status>* s) { return s->has_value(); }, &status_));
}

void WatchReader::OnReadDone(bool ok) {
  if (!ok) return;  // OnDone follows
  std::unique_ptr<Message> got(response_->New());
  got->CopyFrom(*response_);
  response_->Clear();
  {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(got));
  }
  StartRead(response_.get());
}

void WatchReader::OnDone(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  status_ = status;
}

std::unique_ptr<Message> WatchReader::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || status_.has_value();
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (queue_.empty()) return nullptr;
  std::unique_ptr<Message> next = std::move(queue_.front());
  queue_.pop_front();
  return next;
}

std::optional<grpc::Status> WatchReader::Ended(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(
                           +[](std::optional<grpc::Status>* s) { return s->has_value(); },
                           &status_),
                       timeout);
  return status_;
}

size_t WatchReader::pending() {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

}  // namespace protomodel::testing
