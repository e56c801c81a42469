// Service tokens: the tokens file, glob patterns, and every verdict a caller
// can get over TLS (the AuthMetadataProcessor) and over plaintext behind a
// mesh (--allow_plaintext_tokens, checked by the services).
#include "server/transport/auth.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "harness/heroes_client.h"
#include "harness/process.h"
#include "harness/test_server.h"
#include "harness/watch_reader.h"
#include "protomodel/client/call.h"
#include "grimoire/v1/grimoire.grpc.pb.h"
#include "spdlog/sinks/ringbuffer_sink.h"
#include "spdlog/spdlog.h"

namespace protomodel::testing {
namespace {

namespace reflection = grpc::reflection::v1alpha;

std::string Sha256Hex(const std::string& token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string Line(const std::string& name, const std::string& token,
                 const std::string& patterns) {
  return absl::StrCat(name, " ", Sha256Hex(token), " ", patterns, "\n");
}

// Replaces `path` in one step, as a Kubernetes Secret volume does.
void WriteAtomically(const std::string& path, const std::string& text) {
  const std::string next = path + ".next";
  std::ofstream(next) << text;
  ASSERT_EQ(std::rename(next.c_str(), path.c_str()), 0);
}

const char kWriter[] = "writer-token-0123456789";
const char kReader[] = "reader-token-0123456789";
const char kGrimoire[] = "grimoire-token-0123456789";
const char kExplorer[] = "explorer-token-0123456789";
const char kHeroReader[] = "hero-reader-token-0123456789";
const char kAnyWriter[] = "any-writer-token-0123456789";

std::string TokensFile() {
  return absl::StrCat("# name sha256 patterns\n", Line("writer", kWriter, "heroes.v1.*"),
                      Line("reader", kReader, "*/Get*,*/List*"), "\n",
                      Line("grimoire", kGrimoire, "grimoire.v1.*"),
                      Line("explorer", kExplorer, "grpc.reflection.*"),
                      Line("hero-reader", kHeroReader, "heroes.v1.*:read"),
                      Line("any-writer", kAnyWriter, "write"));
}

std::string WriteTokensFile(const std::string& name, const std::string& text) {
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/tokens-", name, "-", getpid(), "-",
                   absl::ToUnixNanos(absl::Now()));
  std::ofstream(path) << text;
  return path;
}

grpc::Status CreateHero(const std::shared_ptr<grpc::Channel>& channel, heroes::v1::Hero* out) {
  heroes::v1::Hero hero;
  hero.set_name("Deadpond");
  hero.set_secret_name("Dive Wilson");
  return HeroesClient(channel).CreateHero(hero, out);
}

grpc::Status GetHero(const std::shared_ptr<grpc::Channel>& channel, int64_t id) {
  heroes::v1::Hero out;
  return HeroesClient(channel).GetHero(id, heroes::v1::VIEW_UNSPECIFIED, &out);
}

// The services reflection lists, or the status of the stream.
grpc::Status ListServices(const std::shared_ptr<grpc::Channel>& channel,
                          std::vector<std::string>* services) {
  auto stub = reflection::ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub->ServerReflectionInfo(&context);
  reflection::ServerReflectionRequest request;
  request.set_list_services("");
  stream->Write(request);
  stream->WritesDone();
  reflection::ServerReflectionResponse response;
  while (stream->Read(&response)) {
    for (const auto& service : response.list_services_response().service()) {
      services->push_back(service.name());
    }
  }
  return stream->Finish();
}

TEST(TokensFileTest, ReadsNamesHashesAndPatternsSkippingComments) {
  auto tokens = server::ParseTokens(TokensFile());
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  ASSERT_EQ(tokens->size(), 6u);
  EXPECT_EQ((*tokens)[1].name, "reader");
  EXPECT_EQ((*tokens)[1].patterns, (std::vector<std::string>{"*/Get*", "*/List*"}));
  EXPECT_EQ(absl::BytesToHexString(absl::string_view(
                reinterpret_cast<const char*>((*tokens)[1].sha256.data()), 32)),
            Sha256Hex(kReader));
}

TEST(TokensFileTest, NamesTheLineAtFault) {
  const std::string hash = Sha256Hex("x");
  for (const auto& [text, line] : std::vector<std::pair<std::string, std::string>>{
           {"# only\nwriter " + hash + "\n", "line 2"},
           {"writer nothex heroes.v1.*\n", "line 1"},
           {"\n\nwriter " + hash.substr(1) + "z heroes.v1.*\n", "line 3"},
           {"wri ter " + hash + " a\n", "line 1"},
           {"bad/name " + hash + " a\n", "line 1"},
           {"a " + hash + " heroes.v1.*,\n", "line 1"},
           {Line("a", "1", "x") + Line("a", "2", "x"), "line 2"},
           {Line("a", "1", "x") + Line("b", "1", "x"), "line 2"}}) {
    auto tokens = server::ParseTokens(text);
    ASSERT_FALSE(tokens.ok()) << text;
    EXPECT_NE(tokens.status().message().find(line), absl::string_view::npos)
        << tokens.status() << " for " << text;
    EXPECT_EQ(tokens.status().message().find(hash), absl::string_view::npos)
        << "an error echoes a hash";
  }
}

// A glob with :read or :write grants only that class of a resource's verbs;
// `read` or `write` alone grants it on every resource.
TEST(GlobTest, VerbClassesGrantOnlyTheirVerbs) {
  const char get[] = "heroes.v1.HeroService/GetHero";
  const char create[] = "heroes.v1.HeroService/CreateHero";
  EXPECT_TRUE(server::PatternGrants("heroes.v1.*:read", get, server::kReadClass));
  EXPECT_FALSE(server::PatternGrants("heroes.v1.*:read", create, server::kWriteClass));
  EXPECT_FALSE(server::PatternGrants("grimoire.v1.*:read", get, server::kReadClass));
  EXPECT_TRUE(server::PatternGrants("write", create, server::kWriteClass));
  EXPECT_FALSE(server::PatternGrants("write", get, server::kReadClass));
  EXPECT_FALSE(server::PatternGrants("read", "grpc.reflection.v1.ServerReflection/Info", ""))
      << "reflection is no resource's verb";
  EXPECT_TRUE(server::PatternGrants("heroes.v1.*", create, server::kWriteClass));
}

TEST(GlobTest, StarMatchesAnyRunIncludingDotsAndSlashes) {
  EXPECT_TRUE(server::GlobMatch("heroes.v1.*", "heroes.v1.HeroService/GetHero"));
  EXPECT_FALSE(server::GlobMatch("heroes.v1.*", "grimoire.v1.UserService/GetUser"));
  EXPECT_TRUE(server::GlobMatch("*/Get*", "grimoire.v1.UserService/GetUser"));
  EXPECT_FALSE(server::GlobMatch("*/Get*", "heroes.v1.HeroService/CreateHero"));
  EXPECT_TRUE(server::GlobMatch("*", "heroes.v1.HeroService/DeleteHero"));
  EXPECT_TRUE(server::GlobMatch("heroes.v1.HeroService/GetHero",
                                "heroes.v1.HeroService/GetHero"));
  EXPECT_FALSE(server::GlobMatch("heroes.v1.HeroService/GetHero",
                                 "heroes.v1.HeroService/GetHeroes"));
  EXPECT_TRUE(server::GlobMatch("*Service/*Hero", "heroes.v1.HeroService/UpdateHero"));
  EXPECT_FALSE(server::GlobMatch("heroes?v1*", "heroes.v1.HeroService/GetHero"))
      << "only * is special";
  EXPECT_FALSE(server::GlobMatch(std::string(40, '*') + "x", std::string(5000, 'a')));
}

// One TLS server with tokens for the suite.
class TlsTokensTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new SecureServer("auth", WriteTokensFile("tls", TokensFile()),
                               [](server::ServerOptions& options) {
                                 options.health_listen = "127.0.0.1:0";
                               });
  }
  static void TearDownTestSuite() { delete server_; }

  static std::shared_ptr<grpc::Channel> Channel(const std::string& token) {
    return server_->Channel(token);
  }

  static SecureServer* server_;
};

SecureServer* TlsTokensTest::server_ = nullptr;

TEST_F(TlsTokensTest, NoTokenIsUnauthenticated) {
  heroes::v1::Hero out;
  const grpc::Status status = CreateHero(Channel(""), &out);
  EXPECT_CODE(status, UNAUTHENTICATED);
  EXPECT_NE(status.error_message().find("authorization: Bearer"), std::string::npos);
}

TEST_F(TlsTokensTest, AnUnknownTokenIsUnauthenticated) {
  heroes::v1::Hero out;
  EXPECT_CODE(CreateHero(Channel("no-such-token"), &out), UNAUTHENTICATED);
  EXPECT_CODE(GetHero(Channel("no-such-token"), 1), UNAUTHENTICATED);
}

TEST_F(TlsTokensTest, AReadOnlyTokenReadsButCannotWrite) {
  heroes::v1::Hero out;
  const grpc::Status status = CreateHero(Channel(kReader), &out);
  EXPECT_CODE(status, PERMISSION_DENIED);
  EXPECT_NE(status.error_message().find("heroes.v1.HeroService/CreateHero"), std::string::npos)
      << status.error_message();
  ASSERT_TRUE(CreateHero(Channel(kWriter), &out).ok());
  EXPECT_TRUE(GetHero(Channel(kReader), out.id()).ok());
  EXPECT_CODE(HeroesClient(Channel(kReader)).DeleteHero(out.id()), PERMISSION_DENIED);
  EXPECT_TRUE(GetHero(Channel(kReader), out.id()).ok()) << "the refused delete wrote nothing";
}

TEST_F(TlsTokensTest, ATokenForAnotherPackageIsPermissionDenied) {
  heroes::v1::Hero out;
  const grpc::Status status = CreateHero(Channel(kGrimoire), &out);
  EXPECT_CODE(status, PERMISSION_DENIED);
  EXPECT_NE(status.error_message().find("token 'grimoire'"), std::string::npos);
  // ...while its own package answers (it got past the check).
  auto users = grimoire::v1::UserService::NewStub(Channel(kGrimoire));
  grpc::ClientContext context;
  grimoire::v1::ListUsersRequest request;
  grimoire::v1::ListUsersResponse response;
  const grpc::Status own = users->ListUsers(&context, request, &response);
  EXPECT_TRUE(own.ok()) << own.error_message();
}

// Refusals of a resource's methods come from the service itself, with their
// AIP-193 reason, also on TLS.
TEST_F(TlsTokensTest, RefusalsCarryTheirReason) {
  heroes::v1::Hero out;
  EXPECT_EQ(client::DetailsOf(CreateHero(Channel(""), &out)).reason, "TOKEN_MISSING");
  EXPECT_EQ(client::DetailsOf(CreateHero(Channel("no-such-token"), &out)).reason,
            "TOKEN_UNKNOWN");
  EXPECT_EQ(client::DetailsOf(CreateHero(Channel(kReader), &out)).reason, "METHOD_NOT_GRANTED");
}

TEST_F(TlsTokensTest, VerbClassesGrantReadsOrWrites) {
  heroes::v1::Hero out;
  ASSERT_TRUE(CreateHero(Channel(kAnyWriter), &out).ok()) << "write: any resource's Create";
  EXPECT_CODE(GetHero(Channel(kAnyWriter), out.id()), PERMISSION_DENIED) << "write is no read";
  EXPECT_TRUE(GetHero(Channel(kHeroReader), out.id()).ok()) << "heroes.v1.*:read";
  EXPECT_CODE(CreateHero(Channel(kHeroReader), &out), PERMISSION_DENIED);
  auto users = grimoire::v1::UserService::NewStub(Channel(kHeroReader));
  grpc::ClientContext context;
  grimoire::v1::ListUsersResponse response;
  EXPECT_CODE(users->ListUsers(&context, grimoire::v1::ListUsersRequest(), &response),
              PERMISSION_DENIED)
      << "another package";
}

TEST_F(TlsTokensTest, AValidTokenCreates) {
  heroes::v1::Hero out;
  const grpc::Status status = CreateHero(Channel(kWriter), &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(out.id(), 0);
}

TEST_F(TlsTokensTest, HealthNeedsNoTokenOnEitherPort) {
  EXPECT_EQ(HealthStatus(Channel(""), ""), "SERVING");
  // The health port: plaintext, no token, health alone.
  auto plain = client::NewChannel(
      absl::StrCat("127.0.0.1:", server_->server().server().health_port()));
  EXPECT_EQ(HealthStatus(plain, ""), "SERVING");
  EXPECT_EQ(HealthStatus(plain, "heroes.v1.HeroService"), "SERVING");
  EXPECT_EQ(HealthStatus(plain, "liveness"), "SERVING");
  EXPECT_CODE(GetHero(plain, 1), UNIMPLEMENTED);
  std::vector<std::string> services;
  EXPECT_CODE(ListServices(plain, &services), UNIMPLEMENTED) << "no reflection there";
}

TEST_F(TlsTokensTest, ReflectionNeedsAToken) {
  std::vector<std::string> services;
  EXPECT_CODE(ListServices(Channel(""), &services), UNAUTHENTICATED);
  EXPECT_CODE(ListServices(Channel(kReader), &services), PERMISSION_DENIED);
  services.clear();
  ASSERT_TRUE(ListServices(Channel(kExplorer), &services).ok());
  EXPECT_NE(std::find(services.begin(), services.end(), "heroes.v1.HeroService"),
            services.end());
}

// The default logger's lines while it lives. Made before, and gone after, the
// threads that log: a logger's sinks may not change while it logs.
class CapturedLog {
 public:
  CapturedLog() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256)) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~CapturedLog() { spdlog::default_logger()->sinks().pop_back(); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  // Whether a line holding every one of `parts` is logged within 10 s.
  bool WaitFor(std::initializer_list<absl::string_view> parts) const {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    do {
      for (const std::string& line : sink_->last_formatted()) {
        if (std::all_of(parts.begin(), parts.end(),
                        [&](absl::string_view part) { return absl::StrContains(line, part); })) {
          return true;
        }
      }
      absl::SleepFor(absl::Milliseconds(50));
    } while (absl::Now() < deadline);
    return false;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

TEST(TokenRotationTest, AChangedTokensFileTakesEffectWithoutARestart) {
  const std::string path = WriteTokensFile("rotation", Line("old", kWriter, "heroes.v1.*"));
  const CapturedLog log;
  SecureServer server("rotation", path, [&](server::ServerOptions& options) {
    options.auth_poll = absl::Milliseconds(100);
  });
  auto old_token = server.Channel(kWriter);
  auto new_token = server.Channel(kReader);
  heroes::v1::Hero out;
  ASSERT_TRUE(CreateHero(old_token, &out).ok());
  EXPECT_CODE(CreateHero(new_token, &out), UNAUTHENTICATED);

  WriteAtomically(path, Line("new", kReader, "heroes.v1.*"));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!CreateHero(new_token, &out).ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(CreateHero(new_token, &out).ok());
  EXPECT_CODE(CreateHero(old_token, &out), UNAUTHENTICATED) << "the removed token still works";

  // A version that does not parse keeps the tokens in force, and the log
  // names the line at fault.
  WriteAtomically(path, absl::StrCat("# rotated\n", Line("new", kReader, "heroes.v1.*"),
                                     "newer not-a-hash heroes.v1.*\n"));
  EXPECT_TRUE(log.WaitFor({path, "line 3", "keeping the tokens in force"}));
  EXPECT_TRUE(CreateHero(new_token, &out).ok());
}

// A watch is checked once when it starts and again while it lasts: a
// reload that withdraws the caller's grant ends its open watches.
TEST(TokenRotationTest, AWithdrawnGrantEndsTheCallersWatches) {
  const std::string path =
      WriteTokensFile("watch", absl::StrCat(Line("reader", kHeroReader, "heroes.v1.*:read"),
                                            Line("narrowed", kReader, "heroes.v1.*:read")));
  SecureServer server("watch", path, [&](server::ServerOptions& options) {
    options.auth_poll = absl::Milliseconds(100);
  });
  const auto* method = heroes::v1::Hero::descriptor()->file()->FindServiceByName("HeroService")
                           ->FindMethodByName("WatchHeroes");
  heroes::v1::WatchHeroesRequest request;
  WatchReader removed(server.Channel(kHeroReader), method, request);
  WatchReader narrowed(server.Channel(kReader), method, request);
  ASSERT_NE(removed.Next(), nullptr) << "no SYNCED";
  ASSERT_NE(narrowed.Next(), nullptr) << "no SYNCED";
  // One token is gone, the other may no longer watch heroes.
  WriteAtomically(path, Line("narrowed", kReader, "heroes.v1.HeroService/Get*"));
  const std::optional<grpc::Status> gone = removed.Ended(absl::Seconds(15));
  ASSERT_TRUE(gone.has_value()) << "the watch outlived its token";
  EXPECT_CODE(*gone, UNAUTHENTICATED);
  const std::optional<grpc::Status> denied = narrowed.Ended(absl::Seconds(15));
  ASSERT_TRUE(denied.has_value()) << "the watch outlived its grant";
  EXPECT_CODE(*denied, PERMISSION_DENIED);
}

TEST(PlaintextTokensTest, TokensOverPlaintextNeedTheFlag) {
  server::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.database_url = "postgresql://127.0.0.1:1/none";
  options.auth_tokens_file = WriteTokensFile("plain", TokensFile());
  auto server = server::Server::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("--allow_plaintext_tokens"), absl::string_view::npos)
      << server.status();
}

TEST(PlaintextTokensTest, AMissingTokensFileStopsTheServerNamingIt) {
  server::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.database_url = "postgresql://127.0.0.1:1/none";
  options.allow_plaintext_tokens = true;
  options.auth_tokens_file = "/nonexistent/tokens";
  auto server = server::Server::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("/nonexistent/tokens"), absl::string_view::npos);
}

TEST(PlaintextTokensTest, BehindAMeshTheServicesCheckTokensAndReflectionIsOff) {
  TestDatabase db;
  const std::string path = WriteTokensFile("mesh", TokensFile());
  TestServer server(db.url(), [&](server::ServerOptions& options) {
    options.auth_tokens_file = path;
    options.allow_plaintext_tokens = true;
  });
  ASSERT_TRUE(server.WaitReady());
  client::ChannelOptions options;
  auto none = server.NewChannel(options);
  options.token = "no-such-token";
  auto unknown = server.NewChannel(options);
  options.token = kReader;
  auto reader = server.NewChannel(options);
  options.token = kWriter;
  auto writer = server.NewChannel(options);
  options.token = kExplorer;
  auto explorer = server.NewChannel(options);

  heroes::v1::Hero out;
  EXPECT_CODE(CreateHero(none, &out), UNAUTHENTICATED);
  EXPECT_CODE(CreateHero(unknown, &out), UNAUTHENTICATED);
  const grpc::Status denied = CreateHero(reader, &out);
  EXPECT_CODE(denied, PERMISSION_DENIED);
  EXPECT_NE(denied.error_message().find("heroes.v1.HeroService/CreateHero"), std::string::npos);
  ASSERT_TRUE(CreateHero(writer, &out).ok());
  EXPECT_TRUE(GetHero(reader, out.id()).ok());
  EXPECT_EQ(HealthStatus(none, ""), "SERVING");
  std::vector<std::string> services;
  EXPECT_CODE(ListServices(explorer, &services), UNIMPLEMENTED);
}

}  // namespace
}  // namespace protomodel::testing
