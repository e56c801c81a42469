#include "protomodel/client/call.h"

#include <openssl/rand.h>

#include "absl/strings/str_format.h"

namespace protomodel::client {

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

std::string NewRequestId() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) std::abort();
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  return absl::StrFormat(
      "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
      b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
      b[15]);
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
