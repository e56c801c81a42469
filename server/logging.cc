#include "server/logging.h"

#include <grpcpp/server_context.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace protomodel::server {
namespace {

void Append(spdlog::memory_buf_t& dest, std::string_view text) {
  dest.append(text.data(), text.data() + text.size());
}

void AppendJsonString(std::string_view text, spdlog::memory_buf_t& dest) {
  dest.push_back('"');
  for (char c : text) {
    switch (c) {
      case '"':
        Append(dest, "\\\"");
        break;
      case '\\':
        Append(dest, "\\\\");
        break;
      case '\n':
        Append(dest, "\\n");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          const std::string escaped = absl::StrCat(
              "\\u00", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
          Append(dest, escaped);
        } else {
          dest.push_back(c);
        }
    }
  }
  dest.push_back('"');
}

// One JSON object a line: {"time":...,"level":...,"msg":...}.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override {
    const std::string time = absl::FormatTime(
        "%Y-%m-%dT%H:%M:%E6SZ", absl::FromChrono(msg.time), absl::UTCTimeZone());
    Append(dest, "{\"time\":\"");
    Append(dest, time);
    Append(dest, "\",\"level\":");
    const auto level = spdlog::level::to_string_view(msg.level);
    AppendJsonString(std::string_view(level.data(), level.size()), dest);
    Append(dest, ",\"msg\":");
    AppendJsonString(std::string_view(msg.payload.data(), msg.payload.size()), dest);
    Append(dest, "}\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

class RpcLogInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit RpcLogInterceptor(grpc::experimental::ServerRpcInfo* info)
      : info_(info), start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      const double ms = absl::ToDoubleMilliseconds(absl::Now() - start_);
      const auto level = status.ok() ? spdlog::level::info
                         : status.error_code() == grpc::StatusCode::INTERNAL ||
                                 status.error_code() == grpc::StatusCode::UNKNOWN
                             ? spdlog::level::err
                             : spdlog::level::info;
      if (spdlog::should_log(level)) {
        spdlog::log(level, "rpc method={} code={} duration_ms={:.3f} peer={}{}{}",
                    info_->method(), StatusCodeName(status.error_code()), ms,
                    info_->server_context()->peer(),
                    status.ok() ? "" : " error=", status.error_message());
      }
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  absl::Time start_;
};

class RpcLogFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcLogInterceptor(info);
  }
};

}  // namespace

absl::Status SetupLogging(const std::string& level, const std::string& format) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--log_level: '", level, "' is not one of trace, debug, info, warn, error, "
                                 "critical, off"));
  }
  if (format != "text" && format != "json") {
    return absl::InvalidArgumentError(
        absl::StrCat("--log_format: '", format, "' is not text or json"));
  }
  auto logger = spdlog::stderr_logger_mt("protomodel");
  if (format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  return absl::OkStatus();
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRpcLogInterceptorFactory() {
  return std::make_unique<RpcLogFactory>();
}

const char* StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN_CODE";
  }
}

}  // namespace protomodel::server
