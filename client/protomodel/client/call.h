#ifndef PROTOMODEL_CLIENT_CALL_H_
#define PROTOMODEL_CLIENT_CALL_H_

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace protomodel::client {

// Per-call settings of the typed clients.
struct CallOptions {
  // Each call's deadline, counted from when it starts (retries included).
  absl::Duration deadline = absl::Seconds(10);
  // A create that ends UNKNOWN (the outcome in doubt) is sent again with the
  // same request_id, up to this many attempts in all: a create that did
  // commit answers with its row and makes no other.
  int create_attempts = 5;
  // The channel watches use. A watch holds one of the connection's HTTP/2
  // streams for as long as it lasts, and a server allows a few hundred
  // streams on a connection (--max_concurrent_streams): on a channel of
  // their own (Connect with ChannelOptions::own_connection) watches never
  // keep unary calls waiting. Null: the client's channel.
  std::shared_ptr<grpc::ChannelInterface> watch_channel;
};

// A grpc::Status as an absl::Status: same code, same message, and the
// server's AIP-193 details (a serialized google.rpc.Status) as the payload
// kRpcStatusUrl.
absl::Status FromGrpc(const grpc::Status& status);

inline constexpr char kRpcStatusUrl[] = "type.googleapis.com/google.rpc.Status";

// What the server said about an error beyond its code and message
// (google.rpc.ErrorInfo, BadRequest, ResourceInfo, RetryInfo); empty fields
// where it said nothing, as gRPC's own refusals do.
struct ErrorDetails {
  std::string reason;  // stable, UPPER_SNAKE_CASE: "REQUIRED_FIELD"
  std::string domain;  // "protomodel"
  std::map<std::string, std::string> metadata;
  // BadRequest's field violations: the field's path in the request
  // ("book.title", "filter") and what is wrong with it.
  std::vector<std::pair<std::string, std::string>> field_violations;
  std::string resource_type;  // "library.v1.Book"
  std::string resource_name;  // "7", or "email=ada@example.com"
  std::optional<absl::Duration> retry_delay;
};

// The details of `status` (from FromGrpc) or of a grpc::Status.
ErrorDetails DetailsOf(const absl::Status& status);
ErrorDetails DetailsOf(const grpc::Status& status);

// A random version-4 UUID in lower case, e.g. for request_id.
std::string NewRequestId();
// A version-4-shaped UUID derived from `key` (SHA-256): the same key gives
// the same id on every run, so work that is redone (an import run again)
// sends the request_ids it sent before.
std::string RequestIdOf(absl::string_view key);

namespace internal {

// A context with the deadline of `options`, counted from now.
std::unique_ptr<grpc::ClientContext> NewContext(const CallOptions& options);

}  // namespace internal
}  // namespace protomodel::client

#endif  // PROTOMODEL_CLIENT_CALL_H_
