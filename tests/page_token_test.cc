// Page tokens: opaque, bound to their query, rejected when altered.
#include "db/sql/page_token.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"

namespace protomodel::db {
namespace {

protomodel::v1::PageToken Sample(const std::string& digest) {
  protomodel::v1::PageToken token;
  token.set_query_digest(digest);
  token.add_keys()->set_string_value("Deadpond");
  token.add_keys()->set_int_value(42);
  return token;
}

TEST(PageTokenTest, RoundTrips) {
  const std::string digest = QueryDigest("hero", "age > 3", "name");
  const std::string encoded = EncodePageToken(Sample(digest));
  auto decoded = DecodePageToken(encoded, digest);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->keys(0).string_value(), "Deadpond");
  EXPECT_EQ(decoded->keys(1).int_value(), 42);
}

TEST(PageTokenTest, IsUrlSafe) {
  const std::string encoded = EncodePageToken(Sample(QueryDigest("hero", "", "")));
  EXPECT_EQ(encoded.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
}

TEST(PageTokenTest, RejectsAnotherQuery) {
  const std::string encoded = EncodePageToken(Sample(QueryDigest("hero", "age > 3", "")));
  auto decoded = DecodePageToken(encoded, QueryDigest("hero", "age > 4", ""));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(decoded.status().message(),
            "page_token: issued for a different filter or order_by");
  EXPECT_NE(QueryDigest("hero", "a", "b"), QueryDigest("hero", "ab", ""));
  EXPECT_NE(QueryDigest("hero", "", ""), QueryDigest("team", "", ""));
}

TEST(PageTokenTest, RejectsEveryAlteredByte) {
  const std::string digest = QueryDigest("hero", "", "");
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(EncodePageToken(Sample(digest)), &raw));
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string altered = raw;
    altered[i] = static_cast<char>(altered[i] ^ 0x01);
    auto decoded = DecodePageToken(absl::WebSafeBase64Escape(altered), digest);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << i;
  }
}

TEST(PageTokenTest, RejectsGarbage) {
  const std::string digest = QueryDigest("hero", "", "");
  for (const std::string& token : {std::string("x"), std::string("!!!!"),
                                   std::string("AAAA"), std::string(5000, 'A')}) {
    EXPECT_EQ(DecodePageToken(token, digest).status().code(),
              absl::StatusCode::kInvalidArgument)
        << token.substr(0, 10);
  }
}

}  // namespace
}  // namespace protomodel::db
