#ifndef PROTOMODEL_CLIENT_CHANNEL_H_
#define PROTOMODEL_CLIENT_CHANNEL_H_

#include <memory>
#include <string>

#include <grpcpp/channel.h>

namespace protomodel::client {

struct ChannelOptions {
  // Largest message sent or received: the server accepts 64 MiB, and a
  // Conversation's CRDT state is several MB, past gRPC's 4 MiB default.
  int max_message_bytes = 64 * 1024 * 1024;
};

// A plaintext channel to a protomodel server at `target` ("host:port").
std::shared_ptr<grpc::Channel> NewChannel(const std::string& target,
                                          const ChannelOptions& options = {});

}  // namespace protomodel::client

#endif  // PROTOMODEL_CLIENT_CHANNEL_H_
