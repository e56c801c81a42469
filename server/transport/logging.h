#ifndef PROTOMODEL_SERVER_TRANSPORT_LOGGING_H_
#define PROTOMODEL_SERVER_TRANSPORT_LOGGING_H_

#include <memory>
#include <string>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "spdlog/spdlog.h"

// Lets spdlog format absl::string_view (Debian's abseil has its own type).
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view s, FormatContext& ctx) const {
    return fmt::formatter<fmt::string_view>::format(
        fmt::string_view(s.data(), s.size()), ctx);
  }
};

namespace protomodel::server {

// Sends spdlog's default logger to stderr at `level` (trace, debug, info,
// warn, error, critical, off), as text or as JSON lines (`format` "json").
absl::Status SetupLogging(const std::string& level, const std::string& format);

// What a call's log line says of it besides its outcome. Never a token, only
// its NAME.
struct CallTags {
  absl::string_view method;      // package.Service/Method
  absl::string_view request_id;  // the caller's x-request-id, or a generated one
  absl::string_view peer;
  absl::string_view token;       // the token's NAME
  absl::string_view traceparent;
};

// Logs the one line of a finished call: method, code, duration, request id,
// peer, token name, traceparent and, for failures, the status message (info;
// error for INTERNAL and UNKNOWN).
void LogCall(const CallTags& tags, const grpc::Status& status, absl::Duration elapsed);

// A fresh request id: 16 random URL-safe characters.
std::string NewRequestId();

// The caller's x-request-id when it is 1-128 visible ASCII characters (no
// spaces), else a fresh one: what the log and the response carry.
std::string RequestIdOf(absl::string_view given);

// A W3C traceparent ("00-<32 hex>-<16 hex>-<2 hex>") as given, or "" when it
// is not one, so nothing else reaches the log through it.
absl::string_view TraceparentOf(absl::string_view given);

// "OK", "INVALID_ARGUMENT", ...: the code as the gRPC documentation spells it.
const char* StatusCodeName(grpc::StatusCode code);

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_TRANSPORT_LOGGING_H_
