#include "protomodel/client/call.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "absl/strings/cord.h"
#include "absl/strings/str_format.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace protomodel::client {

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status converted(static_cast<absl::StatusCode>(status.error_code()),
                         status.error_message());
  if (!status.error_details().empty()) {
    converted.SetPayload(kRpcStatusUrl, absl::Cord(status.error_details()));
  }
  return converted;
}

ErrorDetails DetailsOf(const absl::Status& status) {
  ErrorDetails details;
  const auto payload = status.GetPayload(kRpcStatusUrl);
  google::rpc::Status rpc;
  if (!payload.has_value() || !rpc.ParseFromString(std::string(*payload))) return details;
  for (const google::protobuf::Any& any : rpc.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::BadRequest bad;
    google::rpc::ResourceInfo resource;
    google::rpc::RetryInfo retry;
    if (any.UnpackTo(&info)) {
      details.reason = info.reason();
      details.domain = info.domain();
      details.metadata.insert(info.metadata().begin(), info.metadata().end());
    } else if (any.UnpackTo(&bad)) {
      for (const auto& violation : bad.field_violations()) {
        details.field_violations.emplace_back(violation.field(), violation.description());
      }
    } else if (any.UnpackTo(&resource)) {
      details.resource_type = resource.resource_type();
      details.resource_name = resource.resource_name();
    } else if (any.UnpackTo(&retry)) {
      details.retry_delay = absl::Seconds(retry.retry_delay().seconds()) +
                            absl::Nanoseconds(retry.retry_delay().nanos());
    }
  }
  return details;
}

ErrorDetails DetailsOf(const grpc::Status& status) { return DetailsOf(FromGrpc(status)); }

namespace {

// The first 16 bytes of `b` as a version-4 UUID (its version and variant
// bits set), in lower case.
std::string UuidFromBytes(unsigned char* b) {
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  return absl::StrFormat(
      "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
      b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
      b[15]);
}

}  // namespace

std::string NewRequestId() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) std::abort();
  return UuidFromBytes(b);
}

std::string RequestIdOf(absl::string_view key) {
  unsigned char b[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), b);
  return UuidFromBytes(b);
}

namespace internal {

std::unique_ptr<grpc::ClientContext> NewContext(const CallOptions& options) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(options.deadline));
  return context;
}

}  // namespace internal
}  // namespace protomodel::client
