#include "db/sql/page_token.h"

#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace protomodel::db {
namespace {

constexpr size_t kChecksumBytes = 12;
constexpr absl::string_view kChecksumDomain = "protomodel.page_token.v1";

std::string Sha256(absl::string_view a, absl::string_view b) {
  const std::string input = absl::StrCat(a, b);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(input.data(), input.size(), digest, &size, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), size);
}

absl::Status Invalid(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("page_token: ", why));
}

}  // namespace

std::string QueryDigest(absl::string_view table, absl::string_view filter,
                        absl::string_view order_by) {
  const std::string joined =
      absl::StrCat(table.size(), ":", table, filter.size(), ":", filter,
                   order_by.size(), ":", order_by);
  return Sha256("protomodel.query", joined).substr(0, 16);
}

std::string SealToken(absl::string_view domain, std::string payload) {
  payload += Sha256(domain, payload).substr(0, kChecksumBytes);
  return absl::WebSafeBase64Escape(payload);
}

std::optional<std::string> OpenToken(absl::string_view domain, absl::string_view token) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || raw.size() < kChecksumBytes) {
    return std::nullopt;
  }
  const absl::string_view payload(raw.data(), raw.size() - kChecksumBytes);
  if (Sha256(domain, payload).substr(0, kChecksumBytes) !=
      absl::string_view(raw).substr(payload.size())) {
    return std::nullopt;
  }
  raw.resize(payload.size());
  return raw;
}

std::string EncodePageToken(const protomodel::v1::PageToken& token) {
  return SealToken(kChecksumDomain, token.SerializeAsString());
}

absl::StatusOr<protomodel::v1::PageToken> DecodePageToken(
    absl::string_view token, absl::string_view query_digest) {
  if (token.size() > kMaxPageTokenLength) {
    return Invalid(absl::StrCat("longer than the limit of ", kMaxPageTokenLength,
                                " bytes"));
  }
  const std::optional<std::string> payload = OpenToken(kChecksumDomain, token);
  if (!payload.has_value()) return Invalid("not a page token from this service, or altered");
  protomodel::v1::PageToken parsed;
  if (!parsed.ParseFromString(*payload)) {
    return Invalid("not a page token from this service");
  }
  if (parsed.query_digest() != query_digest) {
    return Invalid("issued for a different filter or order_by");
  }
  return parsed;
}

}  // namespace protomodel::db
