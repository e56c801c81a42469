#include "server/transport/auth.h"

#include <fstream>
#include <sstream>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "server/transport/logging.h"
#include "db/errors.h"
#include "server/transport/metrics.h"
#include "server/transport/status.h"
#include "spdlog/spdlog.h"

namespace protomodel::server {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' &&
        c != '.' && c != '@') {
      return false;
    }
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::array<uint8_t, 32> Sha256(absl::string_view text) {
  std::array<uint8_t, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot be opened"));
  std::stringstream content;
  content << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": cannot be read"));
  return content.str();
}

}  // namespace

absl::StatusOr<std::vector<Token>> ParseTokens(absl::string_view text) {
  std::vector<Token> tokens;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    const size_t hash = line.find('#');
    if (hash != absl::string_view::npos) line = line.substr(0, hash);
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    const std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    const auto bad = [number](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("line ", number, ": ", why));
    };
    if (fields.size() != 3) {
      return bad("expected NAME SHA256_HEX PATTERN[,PATTERN...]");
    }
    Token token;
    if (!ValidName(fields[0])) {
      return bad("NAME must be 1-128 of letters, digits, '-', '_', '.', '@'");
    }
    token.name = std::string(fields[0]);
    if (fields[1].size() != 64) return bad("SHA256_HEX must be 64 hexadecimal digits");
    for (size_t i = 0; i < 32; ++i) {
      const int high = HexValue(fields[1][2 * i]);
      const int low = HexValue(fields[1][2 * i + 1]);
      if (high < 0 || low < 0) return bad("SHA256_HEX must be 64 hexadecimal digits");
      token.sha256[i] = static_cast<uint8_t>(high * 16 + low);
    }
    for (absl::string_view pattern : absl::StrSplit(fields[2], ',')) {
      if (pattern.empty()) return bad("empty PATTERN");
      token.patterns.emplace_back(pattern);
    }
    for (const Token& other : tokens) {
      if (other.name == token.name) return bad(absl::StrCat("NAME '", token.name, "' repeats"));
      if (other.sha256 == token.sha256) {
        return bad(absl::StrCat("same hash as token '", other.name, "'"));
      }
    }
    tokens.push_back(std::move(token));
  }
  return tokens;
}

bool GlobMatch(absl::string_view pattern, absl::string_view text) {
  // Iterative match with backtracking to the last `*`: linear in practice,
  // O(pattern x text) at worst, never exponential.
  size_t p = 0, t = 0;
  size_t star = absl::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != absl::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

absl::string_view MetadataValue(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
                                absl::string_view key) {
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return {};
  return absl::string_view(it->second.data(), it->second.size());
}

absl::string_view MethodOfPath(absl::string_view path) {
  absl::ConsumePrefix(&path, "/");
  return path;
}

bool IsOpenMethod(absl::string_view method) {
  return absl::StartsWith(method, "grpc.health.v1.Health/");
}

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::Open(const std::string& path,
                                                             absl::Duration poll) {
  absl::StatusOr<std::string> text = ReadWhole(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--auth_tokens_file: ", text.status().message()));
  }
  absl::StatusOr<std::vector<Token>> tokens = ParseTokens(*text);
  if (!tokens.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--auth_tokens_file: ", path, ": ", tokens.status().message()));
  }
  std::unique_ptr<TokenStore> store(new TokenStore(path, poll));
  {
    absl::MutexLock lock(&store->mu_);
    store->text_ = *std::move(text);
    store->tokens_ = std::make_shared<const std::vector<Token>>(*std::move(tokens));
    spdlog::info("auth: {} token(s) from {}", store->tokens_->size(), path);
  }
  store->thread_ = std::thread([s = store.get()] { s->Loop(); });
  return store;
}

TokenStore::TokenStore(std::string path, absl::Duration poll)
    : path_(std::move(path)), poll_(poll) {}

TokenStore::~TokenStore() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void TokenStore::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), poll_)) return;
    }
    Reload();
  }
}

void TokenStore::Reload() {
  absl::StatusOr<std::string> text = ReadWhole(path_);
  absl::MutexLock lock(&mu_);
  if (!text.ok()) {
    // Logged once until the file is back.
    if (!unreadable_) {
      spdlog::error("auth: {}; keeping the tokens in force", text.status().message());
    }
    unreadable_ = true;
    return;
  }
  unreadable_ = false;
  if (*text == text_) return;
  absl::StatusOr<std::vector<Token>> tokens = ParseTokens(*text);
  if (!tokens.ok()) {
    // Logged once per version of the file.
    text_ = *std::move(text);
    spdlog::error("auth: {}: {}; keeping the tokens in force", path_,
                  tokens.status().message());
    return;
  }
  text_ = *std::move(text);
  tokens_ = std::make_shared<const std::vector<Token>>(*std::move(tokens));
  spdlog::info("auth: reloaded {} token(s) from {}", tokens_->size(), path_);
}

std::shared_ptr<const std::vector<Token>> TokenStore::tokens() const {
  absl::MutexLock lock(&mu_);
  return tokens_;
}

const Token* TokenStore::Find(const std::vector<Token>& tokens,
                              absl::string_view authorization) const {
  absl::string_view presented = authorization;
  if (!absl::ConsumePrefix(&presented, kBearer) || presented.empty()) return nullptr;
  const std::array<uint8_t, 32> digest = Sha256(presented);
  // Every hash is compared, in constant time, whatever matches.
  const Token* found = nullptr;
  for (const Token& token : tokens) {
    if (CRYPTO_memcmp(token.sha256.data(), digest.data(), digest.size()) == 0) {
      found = &token;
    }
  }
  return found;
}

bool PatternGrants(absl::string_view pattern, absl::string_view method,
                   absl::string_view verb_class) {
  for (const absl::string_view cls : {kReadClass, kWriteClass}) {
    if (pattern == cls) return verb_class == cls;
    if (absl::EndsWith(pattern, absl::StrCat(":", cls))) {
      return verb_class == cls &&
             GlobMatch(pattern.substr(0, pattern.size() - cls.size() - 1), method);
    }
  }
  return GlobMatch(pattern, method);
}

AuthResult TokenStore::Check(absl::string_view authorization, absl::string_view method,
                             absl::string_view verb_class) const {
  AuthResult result;
  const std::shared_ptr<const std::vector<Token>> all = tokens();
  const Token* token = Find(*all, authorization);
  if (token != nullptr) result.name = token->name;
  if (IsOpenMethod(method)) return result;
  if (authorization.empty()) {
    result.status = db::WithReason(
        absl::UnauthenticatedError("missing token: send metadata 'authorization: Bearer <token>'"),
        db::reason::kTokenMissing);
    return result;
  }
  if (token == nullptr) {
    result.status = absl::UnauthenticatedError(
        absl::StartsWith(authorization, kBearer)
            ? "unknown token"
            : "authorization metadata must be 'Bearer <token>'");
    return result;
  }
  for (const std::string& pattern : token->patterns) {
    if (PatternGrants(pattern, method, verb_class)) return result;
  }
  result.status = absl::PermissionDeniedError(
      absl::StrCat("token '", token->name, "' may not call ", method));
  return result;
}

std::string TokenStore::NameOf(absl::string_view authorization) const {
  const std::shared_ptr<const std::vector<Token>> all = tokens();
  const Token* token = Find(*all, authorization);
  return token == nullptr ? "" : token->name;
}

namespace {

class TokenProcessor final : public grpc::AuthMetadataProcessor {
 public:
  TokenProcessor(const TokenStore& tokens, Metrics* metrics,
                 std::function<bool(absl::string_view)> checked_by_services)
      : tokens_(tokens), metrics_(metrics), checked_by_services_(std::move(checked_by_services)) {}

  // Hashing and a lookup: no need for a thread of its own.
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* /*context*/,
                       OutputMetadata* /*consumed*/, OutputMetadata* /*response*/) override {
    const absl::Time start = absl::Now();
    const absl::string_view method = MethodOfPath(MetadataValue(metadata, ":path"));
    if (checked_by_services_ && checked_by_services_(method)) return grpc::Status::OK;
    AuthResult result = tokens_.Check(MetadataValue(metadata, "authorization"), method);
    if (result.status.ok()) return grpc::Status::OK;
    const grpc::Status refused = ToGrpcStatus(result.status);
    // gRPC answers the call here; it never reaches the services, so it is
    // counted and logged here.
    if (metrics_ != nullptr) {
      const Metrics::Method& counters = metrics_->ForMethod(method);
      counters.Started();
      counters.Handled(refused.error_code(), absl::Now() - start);
    }
    const std::string request_id = RequestIdOf(MetadataValue(metadata, "x-request-id"));
    CallTags tags;
    tags.method = method;
    tags.request_id = request_id;
    tags.traceparent = TraceparentOf(MetadataValue(metadata, "traceparent"));
    tags.token = result.name;
    LogCall(tags, refused, absl::Now() - start);
    return refused;
  }

 private:
  const TokenStore& tokens_;
  Metrics* const metrics_;
  const std::function<bool(absl::string_view)> checked_by_services_;
};

}  // namespace

std::unique_ptr<grpc::AuthMetadataProcessor> MakeTokenProcessor(
    const TokenStore& tokens, Metrics* metrics,
    std::function<bool(absl::string_view)> checked_by_services) {
  return std::make_unique<TokenProcessor>(tokens, metrics, std::move(checked_by_services));
}

}  // namespace protomodel::server
