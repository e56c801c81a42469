#include "server/transport/logging.h"

#include <cstdint>
#include <cstring>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

void LogCall(const CallTags& tags, const grpc::Status& status, absl::Duration elapsed) {
  const grpc::StatusCode code = status.error_code();
  const auto level = code == grpc::StatusCode::INTERNAL || code == grpc::StatusCode::UNKNOWN
                         ? spdlog::level::err
                         : spdlog::level::info;
  if (!spdlog::should_log(level)) return;
  std::string line = absl::StrCat("rpc method=", tags.method, " code=", StatusCodeName(code),
                                  " duration_ms=",
                                  absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(elapsed)),
                                  " request_id=", tags.request_id);
  if (!tags.peer.empty()) absl::StrAppend(&line, " peer=", tags.peer);
  if (!tags.token.empty()) absl::StrAppend(&line, " token=", tags.token);
  if (!tags.traceparent.empty()) absl::StrAppend(&line, " traceparent=", tags.traceparent);
  if (!status.ok()) absl::StrAppend(&line, " error=", status.error_message());
  // One call, one line: what callers sent (a path, a filter echoed in an
  // error) cannot start a line of its own.
  std::string safe;
  safe.reserve(line.size());
  for (char c : line) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      absl::StrAppend(&safe, "\\x", absl::Hex(byte, absl::kZeroPad2));
    } else {
      safe.push_back(c);
    }
  }
  spdlog::log(level, "{}", safe);
}

std::string NewRequestId() {
  // A request id ties log lines together: it must not repeat, but it guards
  // nothing, so it comes from a per-thread generator seeded from the OS
  // rather than OpenSSL's locked generator on every call.
  thread_local absl::BitGen bits;
  char bytes[12];
  for (size_t i = 0; i < sizeof bytes; i += sizeof(uint32_t)) {
    const uint32_t word = absl::Uniform<uint32_t>(bits);
    std::memcpy(bytes + i, &word, sizeof word);
  }
  return absl::WebSafeBase64Escape(absl::string_view(bytes, sizeof bytes));
}

std::string RequestIdOf(absl::string_view given) {
  bool ok = !given.empty() && given.size() <= 128;
  for (char c : given) ok = ok && c > ' ' && c <= '~';
  return ok ? std::string(given) : NewRequestId();
}

absl::string_view TraceparentOf(absl::string_view given) {
  // version-trace_id-parent_id-flags; later versions may append fields.
  if (given.size() < 55 || given.size() > 256) return {};
  for (size_t i = 0; i < given.size(); ++i) {
    const char c = given[i];
    const bool dash = i == 2 || i == 35 || i == 52;
    if (i < 55 ? (dash ? c != '-' : !absl::ascii_isxdigit(static_cast<unsigned char>(c)))
               : (c <= ' ' || c > '~')) {
      return {};
    }
  }
  return given;
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
