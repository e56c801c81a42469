#ifndef PROTOMODEL_SERVER_VERBS_RANDOM_H_
#define PROTOMODEL_SERVER_VERBS_RANDOM_H_

#include <cstdlib>
#include <string>
#include <vector>

#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"

namespace protomodel::server {

// `bytes` random bytes from OpenSSL's RAND_bytes, as URL-safe base64
// (4 characters for every 3 bytes).
inline std::string RandomUrlSafe(size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  if (RAND_bytes(buffer.data(), static_cast<int>(buffer.size())) != 1) std::abort();
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(buffer.data()), buffer.size()));
}

// `length` random URL-safe characters (A-Z a-z 0-9 - _).
inline std::string RandomText(int length) {
  std::string text = RandomUrlSafe((static_cast<size_t>(length) * 3 + 3) / 4);
  text.resize(static_cast<size_t>(length));
  return text;
}

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_RANDOM_H_
