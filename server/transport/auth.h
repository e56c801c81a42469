#ifndef PROTOMODEL_SERVER_TRANSPORT_AUTH_H_
#define PROTOMODEL_SERVER_TRANSPORT_AUTH_H_

#include <array>
#include <functional>
#include <map>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/support/status.h>
#include <grpcpp/support/string_ref.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace protomodel::server {

class Metrics;

// One line of the tokens file: `NAME SHA256_HEX PATTERN[,PATTERN...]`.
struct Token {
  std::string name;
  std::array<uint8_t, 32> sha256{};
  // Globs over "package.Service/Method"; `*` matches any run of characters.
  // A glob followed by `:read` or `:write` (or `read`, `write` alone, for
  // every method) grants only the resource methods of that verb class.
  std::vector<std::string> patterns;
};

// The verb classes a token pattern may grant: `read` (Get, List) and
// `write` (every other verb). Methods that are not a resource's verbs
// (reflection) have none.
inline constexpr absl::string_view kReadClass = "read";
inline constexpr absl::string_view kWriteClass = "write";

// Whether `pattern` grants `method` of `verb_class` ("" for none).
bool PatternGrants(absl::string_view pattern, absl::string_view method,
                   absl::string_view verb_class);

// Parses a tokens file: one token a line, blank lines and `#` comments
// skipped. Errors name the line ("line 3: ...") and never echo a hash.
absl::StatusOr<std::vector<Token>> ParseTokens(absl::string_view text);

// Whether `text` matches the glob `pattern`, where `*` matches any run of
// characters (`.` and `/` included) and every other character itself.
bool GlobMatch(absl::string_view pattern, absl::string_view text);

// The first value of `key` in a call's metadata as gRPC hands it to servers
// (AuthMetadataProcessor, interceptors, ServerContext::client_metadata()),
// "" when absent.
absl::string_view MetadataValue(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
                                absl::string_view key);

// "package.Service/Method" from a gRPC path "/package.Service/Method".
absl::string_view MethodOfPath(absl::string_view path);

// Methods every caller may call without a token: the health service, which
// kubelet's probes and load balancers call.
bool IsOpenMethod(absl::string_view method);

// The verdict on one call.
struct AuthResult {
  absl::Status status;
  // The token's NAME when the token is known (also when PERMISSION_DENIED).
  std::string name;
};

// The tokens of --auth_tokens_file, re-read every `poll` so a rotated
// Kubernetes Secret applies without a restart. Only SHA-256 hashes are kept;
// presented tokens are hashed and compared in constant time with every one.
class TokenStore final {
 public:
  // Reads and parses `path` once; errors name the file (and line).
  static absl::StatusOr<std::unique_ptr<TokenStore>> Open(
      const std::string& path, absl::Duration poll = absl::Seconds(5));
  ~TokenStore();
  TokenStore(const TokenStore&) = delete;
  TokenStore& operator=(const TokenStore&) = delete;

  // Checks the `authorization` metadata value (empty when absent) of a call
  // to `method` ("package.Service/Method") of `verb_class` (kReadClass,
  // kWriteClass, or "" for a method that is no resource's verb). OK for open
  // methods. UNAUTHENTICATED: no bearer token, or an unknown one.
  // PERMISSION_DENIED: the token's patterns do not cover the method, which
  // the message names. The status carries its AIP-193 reason.
  AuthResult Check(absl::string_view authorization, absl::string_view method,
                   absl::string_view verb_class = "") const;

  // The NAME of the token in `authorization`, or "" when none is known.
  std::string NameOf(absl::string_view authorization) const;

 private:
  TokenStore(std::string path, absl::Duration poll);
  // Re-reads the file; a version that does not parse keeps the tokens in
  // force and is logged with its line number.
  void Reload();
  void Loop();
  std::shared_ptr<const std::vector<Token>> tokens() const;
  const Token* Find(const std::vector<Token>& tokens, absl::string_view authorization) const;

  const std::string path_;
  const absl::Duration poll_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const std::vector<Token>> tokens_ ABSL_GUARDED_BY(mu_);
  std::string text_ ABSL_GUARDED_BY(mu_);  // the file as last read
  bool unreadable_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// The check on TLS listeners for the methods the services do not check
// themselves (`checked_by_services`, "package.Service/Method": the resource
// services check theirs, so that refusals carry details): gRPC runs it for
// every call before the call reaches a service (it sees the `:path`), and
// answers refused calls itself, so it also counts them in `metrics` and
// logs them.
std::unique_ptr<grpc::AuthMetadataProcessor> MakeTokenProcessor(
    const TokenStore& tokens, Metrics* metrics,
    std::function<bool(absl::string_view)> checked_by_services);

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_TRANSPORT_AUTH_H_
