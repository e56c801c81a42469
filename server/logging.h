#ifndef PROTOMODEL_SERVER_LOGGING_H_
#define PROTOMODEL_SERVER_LOGGING_H_

#include <memory>
#include <string>

#include <grpcpp/support/server_interceptor.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
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

// Logs one line per RPC: method, status code, duration and peer.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRpcLogInterceptorFactory();

// "OK", "INVALID_ARGUMENT", ...: the code as the gRPC documentation spells it.
const char* StatusCodeName(grpc::StatusCode code);

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_LOGGING_H_
