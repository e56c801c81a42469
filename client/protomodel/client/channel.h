#ifndef PROTOMODEL_CLIENT_CHANNEL_H_
#define PROTOMODEL_CLIENT_CHANNEL_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/channel.h>

#include "absl/status/statusor.h"

namespace protomodel::client {

// How to reach a protomodel server.
struct ChannelOptions {
  // Largest message sent or received: the server accepts 64 MiB, and a
  // a CRDT document's state can be several MB, past gRPC's 4 MiB default.
  int max_message_bytes = 64 * 1024 * 1024;
  // TLS instead of plaintext. With an empty ca_file the system roots verify
  // the server; cert_file and key_file (both or neither) present a client
  // certificate (mTLS). Setting any of the three files also means TLS: a
  // channel never falls back to plaintext with them.
  bool tls = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // A service token, sent as `authorization: Bearer <token>` with every call
  // (over plaintext too, for a mesh sidecar that terminates mTLS).
  std::string token;
  // Retry calls that fail UNAVAILABLE (nothing was written, the contract
  // promises) with exponential backoff, through gRPC's service config.
  // (Creates, which carry a request_id, also retry the in-doubt UNKNOWN:
  // CallOptions::create_attempts.)
  bool retry_unavailable = true;
  int max_attempts = 5;
  // A connection of the channel's own rather than one shared with other
  // channels to the same target (gRPC shares them): for watches
  // (CallOptions::watch_channel).
  bool own_connection = false;
  // Further channel arguments (grpc.* keys), as integers.
  std::vector<std::pair<std::string, int>> extra_arguments;
};

// The service config that retries UNAVAILABLE for every method.
std::string RetryServiceConfig(int max_attempts);

// A channel to a protomodel server at `target` ("host:port"). Fails when a
// TLS file cannot be read, naming it, or when only one of cert_file and
// key_file is set.
//
// Options from the environment, for programs that take no flags:
// PROTOMODEL_TOKEN (token), PROTOMODEL_TLS ("1": tls), PROTOMODEL_TLS_CA_FILE,
// PROTOMODEL_CLIENT_CERT_FILE, PROTOMODEL_CLIENT_KEY_FILE. Each fills only a field
// left empty.
ChannelOptions WithEnvironment(ChannelOptions options);

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const std::string& target,
                                                       const ChannelOptions& options = {});

// A plaintext channel without a token, with the default options: for a
// local server. Anything else (TLS, a token) goes through Connect().
std::shared_ptr<grpc::Channel> NewChannel(const std::string& target);

}  // namespace protomodel::client

#endif  // PROTOMODEL_CLIENT_CHANNEL_H_
