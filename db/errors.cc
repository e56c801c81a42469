#include "db/errors.h"

#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace protomodel::db {
namespace {

constexpr absl::string_view kReasonKey = "protomodel/reason";
constexpr absl::string_view kFieldKey = "protomodel/field";
constexpr absl::string_view kResourceTypeKey = "protomodel/resource_type";
constexpr absl::string_view kResourceNameKey = "protomodel/resource_name";
constexpr absl::string_view kRetryMillisKey = "protomodel/retry_ms";

std::string PayloadText(const absl::Status& status, absl::string_view key) {
  const auto payload = status.GetPayload(key);
  return payload.has_value() ? std::string(*payload) : std::string();
}

absl::Status WithPayload(absl::Status status, absl::string_view key, absl::string_view value) {
  if (!status.ok()) status.SetPayload(key, absl::Cord(value));
  return status;
}

}  // namespace

absl::Status InvalidField(absl::string_view path, absl::string_view reason,
                          absl::string_view message) {
  return WithReason(AboutField(absl::InvalidArgumentError(message), path), reason);
}

absl::Status AboutField(absl::Status status, absl::string_view path) {
  if (status.GetPayload(kFieldKey).has_value()) return status;
  return WithPayload(std::move(status), kFieldKey, path);
}

absl::Status WithReason(absl::Status status, absl::string_view reason) {
  return WithPayload(std::move(status), kReasonKey, reason);
}

absl::Status AboutResource(absl::Status status, absl::string_view type,
                           absl::string_view name) {
  status = WithPayload(std::move(status), kResourceTypeKey, type);
  return WithPayload(std::move(status), kResourceNameKey, name);
}

absl::Status WithRetryDelay(absl::Status status, absl::Duration delay) {
  return WithPayload(std::move(status), kRetryMillisKey,
                     absl::StrCat(absl::ToInt64Milliseconds(delay)));
}

absl::Status UnderField(absl::Status status, absl::string_view entry) {
  if (status.ok()) return status;
  const std::string field = ErrorField(status);
  const absl::string_view message = status.message();
  std::string text = !field.empty() && absl::StartsWith(message, field)
                         ? absl::StrCat(entry, ".", message)
                         : absl::StrCat(entry, ": ", message);
  absl::Status under(status.code(), text);
  status.ForEachPayload([&](absl::string_view key, const absl::Cord& payload) {
    under.SetPayload(key, payload);
  });
  under.SetPayload(kFieldKey,
                   absl::Cord(field.empty() ? std::string(entry) : absl::StrCat(entry, ".", field)));
  return under;
}

absl::string_view DefaultReason(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "";
    case absl::StatusCode::kInvalidArgument:
      return reason::kInvalidField;
    case absl::StatusCode::kNotFound:
      return "RESOURCE_NOT_FOUND";
    case absl::StatusCode::kAlreadyExists:
      return "RESOURCE_ALREADY_EXISTS";
    case absl::StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case absl::StatusCode::kAborted:
      return "CONCURRENT_UPDATE";
    case absl::StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case absl::StatusCode::kUnavailable:
      return "DATABASE_UNAVAILABLE";
    case absl::StatusCode::kResourceExhausted:
      return "SERVER_OVERLOADED";
    case absl::StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kCancelled:
      return "CANCELLED";
    case absl::StatusCode::kUnknown:
      return "COMMIT_OUTCOME_UNKNOWN";
    case absl::StatusCode::kUnauthenticated:
      return reason::kTokenUnknown;
    case absl::StatusCode::kPermissionDenied:
      return "METHOD_NOT_GRANTED";
    case absl::StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    default:
      return "INTERNAL";
  }
}

std::string ErrorReason(const absl::Status& status) {
  std::string reason = PayloadText(status, kReasonKey);
  return reason.empty() ? std::string(DefaultReason(status.code())) : reason;
}

std::string ErrorField(const absl::Status& status) { return PayloadText(status, kFieldKey); }

std::string ErrorResourceType(const absl::Status& status) {
  return PayloadText(status, kResourceTypeKey);
}

std::string ErrorResourceName(const absl::Status& status) {
  return PayloadText(status, kResourceNameKey);
}

absl::Duration ErrorRetryDelay(const absl::Status& status) {
  int64_t millis = 0;
  if (absl::SimpleAtoi(PayloadText(status, kRetryMillisKey), &millis)) {
    return absl::Milliseconds(millis);
  }
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      return absl::Seconds(1);
    case absl::StatusCode::kResourceExhausted:
      return absl::Milliseconds(200);
    default:
      return absl::ZeroDuration();
  }
}

}  // namespace protomodel::db
