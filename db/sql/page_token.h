#ifndef PROTOMODEL_DB_SQL_PAGE_TOKEN_H_
#define PROTOMODEL_DB_SQL_PAGE_TOKEN_H_

#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "protomodel/v1/page_token.pb.h"

namespace protomodel::db {

// Limit on the page_token a caller may send. A token carries the last row's
// order_by values, so it is sized for long text keys (a 45 KB name still
// pages); decoding is linear, so the limit guards memory, not time.
inline constexpr size_t kMaxPageTokenLength = 64 * 1024;

// What a token is bound to: the table, filter and order_by it was issued for.
std::string QueryDigest(absl::string_view table, absl::string_view filter,
                        absl::string_view order_by);

// An opaque, URL-safe token of `payload` and a checksum bound to `domain`
// (which kind of token it is); no per-process secret, so every replica reads
// every other one's tokens.
std::string SealToken(absl::string_view domain, std::string payload);
// The payload of a token SealToken made for `domain`; nullopt when it was
// altered, is another kind's, or is no token.
std::optional<std::string> OpenToken(absl::string_view domain, absl::string_view token);

// An opaque, URL-safe token: the serialized PageToken and a checksum. It holds
// no per-process secret, so every replica reads every other one's tokens.
std::string EncodePageToken(const protomodel::v1::PageToken& token);

// INVALID_ARGUMENT naming page_token when `token` was altered, is not a token,
// or was issued for another query (`query_digest` differs).
absl::StatusOr<protomodel::v1::PageToken> DecodePageToken(
    absl::string_view token, absl::string_view query_digest);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_SQL_PAGE_TOKEN_H_
