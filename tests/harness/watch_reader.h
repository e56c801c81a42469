#ifndef PROTOMODEL_TESTS_HARNESS_WATCH_READER_H_
#define PROTOMODEL_TESTS_HARNESS_WATCH_READER_H_

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/impl/codegen/rpc_method.h>
#include <grpcpp/support/client_callback.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace protomodel::testing {

// One watch call (a Watch<Rs> method, any proto's), read as it comes: the
// stream's messages queue up for Next(). A callback reactor, no thread of
// its own, so a test holds a thousand at once.
class WatchReader final : public grpc::ClientReadReactor<google::protobuf::Message> {
 public:
  // Starts the call; `token` ("": none) goes as `authorization: Bearer`.
  WatchReader(const std::shared_ptr<grpc::Channel>& channel,
              const google::protobuf::MethodDescriptor* method,
              const google::protobuf::Message& request, const std::string& token = "");
  // Cancels the call if it is still open, and waits for its end.
  ~WatchReader() override;

  // The next message, or null when none came within `timeout` or the
  // stream has ended (see Ended()).
  std::unique_ptr<google::protobuf::Message> Next(absl::Duration timeout = absl::Seconds(10));
  // The stream's status once it ended within `timeout`; nullopt while open.
  std::optional<grpc::Status> Ended(absl::Duration timeout = absl::Seconds(10));
  // Messages received and not yet taken.
  size_t pending();

  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  std::string path_;
  std::unique_ptr<grpc::internal::RpcMethod> rpc_;
  grpc::ClientContext context_;
  std::unique_ptr<google::protobuf::Message> request_;
  std::unique_ptr<google::protobuf::Message> response_;
  absl::Mutex mu_;
  std::deque<std::unique_ptr<google::protobuf::Message>> queue_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace protomodel::testing

#endif  // PROTOMODEL_TESTS_HARNESS_WATCH_READER_H_
