// What operators see: Prometheus metrics counted exactly by method and code
// (refused and health calls included), x-request-id on every response, and
// logs that carry request ids and token names but never secrets.
#include "server/transport/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "harness/grimoire_client.h"
#include "harness/heroes_client.h"
#include "harness/process.h"
#include "harness/test_server.h"
#include "harness/watch_reader.h"

namespace protomodel::testing {
namespace {

constexpr char kWriter[] = "writer-secret-token-4711";
constexpr char kReader[] = "reader-secret-token-4712";

std::string TokensFile(const std::string& name) {
  std::string text;
  for (const auto& [token_name, token, patterns] :
       {std::tuple<const char*, const char*, const char*>{"heroes-writer", kWriter, "*"},
        {"heroes-reader", kReader, "*/Get*,*/List*"}}) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(token), strlen(token), digest);
    absl::StrAppend(&text, token_name, " ",
                    absl::BytesToHexString(absl::string_view(
                        reinterpret_cast<const char*>(digest), sizeof(digest))),
                    " ", patterns, "\n");
  }
  const std::string path = absl::StrCat(::testing::TempDir(), "/tokens-", name, "-", getpid());
  std::ofstream(path) << text;
  return path;
}

// GET http://127.0.0.1:port/path: the body, "" on failure.
std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return "";
  }
  std::string response;
  char buffer[65536];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
    response.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || response.find(" 200 ") == std::string::npos ||
      body == std::string::npos) {
    return "";
  }
  return response.substr(body + 4);
}

// Every sample of a scrape: `name{labels}` (as served) to its value.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> samples;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    double value = 0;
    if (space == absl::string_view::npos || !absl::SimpleAtod(line.substr(space + 1), &value)) {
      continue;
    }
    samples[std::string(line.substr(0, space))] = value;
  }
  return samples;
}

// A sample's key as prometheus-cpp writes it: labels in name order.
std::string Handled(const std::string& service, const std::string& method,
                    const std::string& code, const std::string& type = "unary") {
  return absl::StrCat("grpc_server_handled_total{grpc_code=\"", code, "\",grpc_method=\"",
                      method, "\",grpc_service=\"", service, "\",grpc_type=\"", type, "\"}");
}
// A per-method series without a code, e.g. grpc_server_started_total.
std::string Series(const std::string& name, const std::string& service,
                   const std::string& method, const std::string& type = "unary") {
  return absl::StrCat(name, "{grpc_method=\"", method, "\",grpc_service=\"", service,
                      "\",grpc_type=\"", type, "\"}");
}
std::string Started(const std::string& service, const std::string& method) {
  return Series("grpc_server_started_total", service, method);
}
std::string HandlingCount(const std::string& service, const std::string& method) {
  return Series("grpc_server_handling_seconds_count", service, method);
}

double Delta(const std::map<std::string, double>& before,
             const std::map<std::string, double>& after, const std::string& key) {
  auto a = after.find(key);
  auto b = before.find(key);
  return (a == after.end() ? 0 : a->second) - (b == before.end() ? 0 : b->second);
}

class ObservedServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new SecureServer("observe", TokensFile("observe"),
                               [](server::ServerOptions& options) {
                                 options.metrics_listen = "127.0.0.1:0";
                                 options.health_listen = "127.0.0.1:0";
                               });
  }
  static void TearDownTestSuite() { delete server_; }

  static std::shared_ptr<grpc::Channel> Channel(const std::string& token) {
    return server_->Channel(token);
  }
  static server::Server& Server() { return server_->server().server(); }
  static std::map<std::string, double> Scrape() {
    const std::string text = HttpGet(Server().metrics_port(), "/metrics");
    EXPECT_FALSE(text.empty()) << "no /metrics";
    return Samples(text);
  }

  static SecureServer* server_;
};

SecureServer* ObservedServerTest::server_ = nullptr;

TEST_F(ObservedServerTest, MetricsCountEveryCallByMethodAndCode) {
  HeroesClient writer(Channel(kWriter));
  HeroesClient reader(Channel(kReader));
  HeroesClient anonymous(Channel(""));
  const std::map<std::string, double> before = Scrape();

  heroes::v1::Hero hero;
  hero.set_name("Deadpond");
  hero.set_secret_name("Dive Wilson");
  heroes::v1::Hero created;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(writer.CreateHero(hero, &created).ok());
  heroes::v1::Hero nameless;
  nameless.set_secret_name("Nobody");
  EXPECT_CODE(writer.CreateHero(nameless, &created), INVALID_ARGUMENT);
  EXPECT_CODE(reader.CreateHero(hero, &created), PERMISSION_DENIED);
  EXPECT_CODE(anonymous.CreateHero(hero, &created), UNAUTHENTICATED);
  heroes::v1::Hero got;
  EXPECT_TRUE(reader.GetHero(created.id(), heroes::v1::VIEW_UNSPECIFIED, &got).ok());
  EXPECT_CODE(reader.GetHero(created.id() + 1000, heroes::v1::VIEW_UNSPECIFIED, &got), NOT_FOUND);
  EXPECT_CODE(reader.GetHero(created.id() + 1001, heroes::v1::VIEW_UNSPECIFIED, &got), NOT_FOUND);
  EXPECT_EQ(HealthStatus(Channel(""), ""), "SERVING");
  EXPECT_EQ(HealthStatus(
                client::NewChannel(absl::StrCat("127.0.0.1:", Server().health_port())),
                ""),
            "SERVING");

  const std::map<std::string, double> after = Scrape();
  const std::string heroes = "heroes.v1.HeroService";
  EXPECT_EQ(Delta(before, after, Started(heroes, "CreateHero")), 6);
  EXPECT_EQ(Delta(before, after, Handled(heroes, "CreateHero", "OK")), 3);
  EXPECT_EQ(Delta(before, after, Handled(heroes, "CreateHero", "InvalidArgument")), 1);
  EXPECT_EQ(Delta(before, after, Handled(heroes, "CreateHero", "PermissionDenied")), 1);
  EXPECT_EQ(Delta(before, after, Handled(heroes, "CreateHero", "Unauthenticated")), 1);
  EXPECT_EQ(Delta(before, after, HandlingCount(heroes, "CreateHero")), 6);
  EXPECT_EQ(Delta(before, after, Started(heroes, "GetHero")), 3);
  EXPECT_EQ(Delta(before, after, Handled(heroes, "GetHero", "OK")), 1);
  EXPECT_EQ(Delta(before, after, Handled(heroes, "GetHero", "NotFound")), 2);
  EXPECT_EQ(Delta(before, after, Handled(heroes, "ListHeroes", "OK")), 0);
  EXPECT_EQ(Delta(before, after, Handled("grpc.health.v1.Health", "Check", "OK")), 2);
  // Messages: every call's request was read (the service checks tokens, so
  // refused calls reached it); failed ones sent none.
  EXPECT_EQ(Delta(before, after, Series("grpc_server_msg_received_total", heroes, "CreateHero")),
            6);
  EXPECT_EQ(Delta(before, after, Series("grpc_server_msg_sent_total", heroes, "CreateHero")), 3);
  EXPECT_EQ(Delta(before, after, Series("grpc_server_msg_received_total", heroes, "GetHero")), 3);
  EXPECT_EQ(Delta(before, after, Series("grpc_server_msg_sent_total", heroes, "GetHero")), 1);
  // Database time: three inserts reached the database, and three reads.
  EXPECT_EQ(Delta(before, after, "protomodel_db_query_seconds_count{op=\"insert\"}"), 3);
  EXPECT_EQ(Delta(before, after, "protomodel_db_query_seconds_count{op=\"get\"}"), 3);
}

TEST_F(ObservedServerTest, AStreamIsTypedAsOneAndCountsEachMessage) {
  const std::map<std::string, double> before = Scrape();
  auto stub = grpc::health::v1::Health::NewStub(Channel(""));
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  auto reader = stub->Watch(&context, request);
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  context.TryCancel();
  while (reader->Read(&response)) {
  }
  EXPECT_CODE(reader->Finish(), CANCELLED);

  const std::string health = "grpc.health.v1.Health";
  std::map<std::string, double> after;
  // The server counts the cancelled stream once it has wound it up.
  for (int i = 0; i < 100; ++i) {
    after = Scrape();
    if (Delta(before, after, Series("grpc_server_handling_seconds_count", health, "Watch",
                                    "server_stream")) == 1) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  // Started once, one message each way, handled once.
  for (const char* name : {"grpc_server_started_total", "grpc_server_msg_received_total",
                           "grpc_server_msg_sent_total", "grpc_server_handling_seconds_count"}) {
    EXPECT_EQ(Delta(before, after, Series(name, health, "Watch", "server_stream")), 1) << name;
  }
  // Its code is not asserted: gRPC's health service may see the cancel as a
  // failed write first and answer UNKNOWN before the call is marked cancelled.
}

TEST_F(ObservedServerTest, MethodsNoServiceHasShareOneSeries) {
  const std::map<std::string, double> before = Scrape();
  grpc::GenericStub stub(Channel(""));
  for (const char* path : {"/no.such.Service/Nope", "/no.such.Service/Other"}) {
    grpc::ClientContext context;
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1);
    grpc::ByteBuffer response;
    grpc::Status status;
    absl::Notification done;
    stub.UnaryCall(&context, path, grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    EXPECT_CODE(status, UNAUTHENTICATED);
  }
  const std::string text = HttpGet(Server().metrics_port(), "/metrics");
  EXPECT_EQ(text.find("no.such.Service"), std::string::npos);
  EXPECT_EQ(Delta(before, Samples(text), Handled("unknown", "unknown", "Unauthenticated")), 2);
}

TEST_F(ObservedServerTest, MetricsReportTheConnectionsAndTheSchemaVersion) {
  HeroesClient writer(Channel(kWriter));
  heroes::v1::Hero got;
  EXPECT_CODE(writer.GetHero(1 << 30, heroes::v1::VIEW_UNSPECIFIED, &got), NOT_FOUND);
  const std::map<std::string, double> samples = Scrape();
  ASSERT_TRUE(samples.count("protomodel_db_pipeline_connections_open"));
  EXPECT_GE(samples.at("protomodel_db_pipeline_connections_open"), 1);
  EXPECT_EQ(samples.at("protomodel_db_statements_in_flight"), 0);
  ASSERT_TRUE(samples.count("protomodel_db_pool_connections{state=\"idle\"}"));
  EXPECT_EQ(samples.at("protomodel_db_pool_connections{state=\"in_use\"}"), 0);
  EXPECT_EQ(samples.at("protomodel_db_pool_waiting"), 0);
  const int version =
      server_->database().Exec("SELECT max(version) FROM schema_migrations")[0][0].as<int>();
  EXPECT_EQ(samples.at("protomodel_schema_version"), version);
  EXPECT_GE(version, 3);
}

TEST_F(ObservedServerTest, MetricsCoverWatches) {
  const std::map<std::string, double> before = Scrape();
  heroes::v1::WatchHeroesRequest request;
  auto watch = std::make_unique<WatchReader>(
      Channel(kWriter),
      heroes::v1::Hero::descriptor()->file()->FindServiceByName("HeroService")->FindMethodByName(
          "WatchHeroes"),
      request);
  ASSERT_NE(watch->Next(), nullptr) << "no SYNCED";
  HeroesClient writer(Channel(kWriter));
  writer.NewHero("Observed", "o");
  ASSERT_NE(watch->Next(), nullptr) << "no ADDED";
  const std::map<std::string, double> during = Scrape();
  EXPECT_EQ(during.at("protomodel_watches_open"), 1);
  EXPECT_EQ(Delta(before, during, "protomodel_watch_events_total"), 2);  // SYNCED, ADDED
  EXPECT_GE(Delta(before, during, "protomodel_watch_lag_seconds_count"), 1);
  watch.reset();
  std::map<std::string, double> after;
  for (int i = 0; i < 100; ++i) {
    after = Scrape();
    if (after.at("protomodel_watches_open") == 0) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(after.at("protomodel_watches_open"), 0);
}

// The x-request-id of a call's response, and its status.
std::string ResponseRequestId(const std::shared_ptr<grpc::Channel>& channel,
                              const std::string& sent) {
  auto stub = heroes::v1::HeroService::NewStub(channel);
  grpc::ClientContext context;
  if (!sent.empty()) context.AddMetadata("x-request-id", sent);
  heroes::v1::GetHeroRequest request;
  request.set_id(1 << 30);
  heroes::v1::Hero hero;
  EXPECT_CODE(stub->GetHero(&context, request, &hero), NOT_FOUND);
  const auto& metadata = context.GetServerInitialMetadata();
  auto it = metadata.find("x-request-id");
  if (it == metadata.end()) {
    const auto& trailers = context.GetServerTrailingMetadata();
    it = trailers.find("x-request-id");
    if (it == trailers.end()) return "";
  }
  return std::string(it->second.data(), it->second.size());
}

TEST_F(ObservedServerTest, TheCallersRequestIdComesBackOrOneIsMade) {
  auto channel = Channel(kReader);
  EXPECT_EQ(ResponseRequestId(channel, "checkout-7f3a"), "checkout-7f3a");
  const std::string made = ResponseRequestId(channel, "");
  EXPECT_EQ(made.size(), 16u) << made;
  EXPECT_NE(ResponseRequestId(channel, ""), made);
  const std::string replaced = ResponseRequestId(channel, "has a space");
  EXPECT_EQ(replaced.size(), 16u) << "a request id that cannot be logged safely is replaced";
}

TEST(LogTest, LogsCarryRequestIdsAndTokenNamesButNeverSecrets) {
  const Certificates certs = MakeCertificates("logs");
  TestDatabase db;
  const int port = FreePort();
  // The test cluster trusts local logins, so any password works.
  std::string url = db.url();
  const size_t at = url.find("postgres@");
  ASSERT_NE(at, std::string::npos) << url;
  url.replace(at, 9, "postgres:pw-hunter2-pw@");
  Process process =
      Spawn({absl::StrCat("--listen=127.0.0.1:", port), "--log_level=debug",
             "--tls_cert_file=" + certs.server_cert, "--tls_key_file=" + certs.server_key,
             "--auth_tokens_file=" + TokensFile("logs")},
            {"DATABASE_URL=" + url});
  client::ChannelOptions options = TlsChannelOptions(certs, kWriter);
  const std::string target = absl::StrCat("127.0.0.1:", port);
  const std::string secret_bytes = "CRDT-SECRET-BYTES-\x01\x02";
  {  // Every channel is closed before the server is stopped.
  ASSERT_TRUE(WaitServing(target, options)) << ReadFile(process.log);
  auto channel = *client::Connect(target, options);
  GrimoireClient grimoire(channel);
  const grimoire::v1::User user = grimoire.NewUser("ada@example.com");
  const grimoire::v1::Class course = grimoire.NewClass(user.id());
  grimoire::v1::Conversation conversation =
      grimoire.NewConversation(course.id(), user.id(), secret_bytes);
  {  // A failing write of bytes: a stale etag.
    grimoire::v1::Conversation stale = conversation;
    stale.set_etag("stale");
    stale.set_crdt_state(secret_bytes + "-update");
    grimoire::v1::Conversation out;
    EXPECT_CODE(grimoire.UpdateConversation(stale, {"crdt_state"}, &out), ABORTED);
  }
  {  // A filter on the bytes field.
    grpc::ClientContext context;
    grimoire::v1::ListConversationsRequest request;
    request.set_filter(absl::StrCat("crdt_state = \"", "CRDT-SECRET-BYTES-filter", "\""));
    grimoire::v1::ListConversationsResponse response;
    (void)grimoire.conversations->ListConversations(&context, request, &response);
  }
  {  // A caller's text echoed in an error, with a line break.
    grimoire::v1::Conversation out;
    EXPECT_CODE(grimoire.UpdateConversation(conversation, {"raw_text\nINJECTED line"}, &out),
                INVALID_ARGUMENT);
  }
  {  // A traced call with the caller's request id.
    grpc::ClientContext context;
    context.AddMetadata("x-request-id", "req-visible-1");
    context.AddMetadata("traceparent",
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    grimoire::v1::GetConversationRequest request;
    request.set_id(conversation.id());
    grimoire::v1::Conversation out;
    EXPECT_TRUE(grimoire.conversations->GetConversation(&context, request, &out).ok());
  }
  {  // Refused tokens.
    options.token = "wrong-secret-token-4713";
    GrimoireClient wrong(*client::Connect(target, options));
    grimoire::v1::Conversation out;
    EXPECT_CODE(wrong.GetConversation(conversation.id(), &out), UNAUTHENTICATED);
    options.token = kReader;
    GrimoireClient reader(*client::Connect(target, options));
    EXPECT_CODE(reader.DeleteConversation(conversation.id()), PERMISSION_DENIED);
  }
  }
  kill(process.pid, SIGTERM);
  EXPECT_EQ(WaitExit(process), 0);
  const std::string log = ReadFile(process.log);

  EXPECT_NE(log.find("request_id=req-visible-1"), std::string::npos) << log;
  EXPECT_NE(log.find("traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("token=heroes-writer"), std::string::npos) << log;
  EXPECT_NE(log.find("token=heroes-reader"), std::string::npos) << log;
  EXPECT_NE(log.find("peer=ipv4:127.0.0.1:"), std::string::npos) << log;
  EXPECT_EQ(log.find("\nINJECTED"), std::string::npos) << "a caller's text began a log line";
  for (const std::string& secret :
       {std::string(kWriter), std::string(kReader), std::string("wrong-secret-token-4713"),
        std::string("pw-hunter2-pw"), std::string("CRDT-SECRET-BYTES"),
        absl::Base64Escape(secret_bytes).substr(0, 16)}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "the log shows " << secret << ":\n" << log;
  }
}

}  // namespace
}  // namespace protomodel::testing
