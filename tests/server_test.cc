// The server as a whole: health, reflection, start-up without a database,
// the binary's flags, `migrate`, and graceful shutdown on SIGTERM.
#include "server/transport/server.h"

#include <signal.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <gmock/gmock.h>
#include <google/protobuf/descriptor.pb.h>
#include <gtest/gtest.h>
#include <pqxx/connection>
#include <pqxx/transaction>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "protomodel/reflection_versions.h"
#include "harness/heroes_client.h"
#include "harness/process.h"
#include "harness/test_server.h"
#include "protomodel/client/call.h"

namespace protomodel::testing {
namespace {

class ServerTest : public ServiceTest {};

TEST_F(ServerTest, ReportsServingForEveryServiceAndLiveness) {
  for (const std::string service :
       {"", "liveness", "heroes.v1.HeroService", "heroes.v1.TeamService",
        "grimoire.v1.UserService", "grimoire.v1.ClassService",
        "grimoire.v1.ConversationService"}) {
    EXPECT_EQ(HealthStatus(channel(), service), "SERVING") << service;
  }
  EXPECT_EQ(HealthStatus(channel(), "no.such.Service"), "error 5");
}

template <typename Version>
class ReflectionTest : public ServiceTest {
 protected:
  using Request = typename Version::Request;
  using Response = typename Version::Response;

  // One stream, one answer per request.
  std::vector<Response> Reflect(const std::vector<Request>& requests) {
    auto stub = Version::Service::NewStub(channel());
    grpc::ClientContext context;
    auto stream = stub->ServerReflectionInfo(&context);
    std::vector<Response> responses;
    for (const auto& request : requests) {
      stream->Write(request);
      Response response;
      if (!stream->Read(&response)) break;
      responses.push_back(response);
    }
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
    return responses;
  }
};
// Both versions of server reflection, as clients use them.
using ReflectionVersions = ::testing::Types<reflection::V1, reflection::V1Alpha>;
TYPED_TEST_SUITE(ReflectionTest, ReflectionVersions);

const std::vector<std::string>& ApiServices() {
  static const std::vector<std::string> services = {
      "heroes.v1.HeroService", "heroes.v1.TeamService", "grimoire.v1.UserService",
      "grimoire.v1.ClassService", "grimoire.v1.ConversationService"};
  return services;
}

TYPED_TEST(ReflectionTest, ListsEveryService) {
  typename TestFixture::Request list;
  list.set_list_services("*");
  auto responses = this->Reflect({list});
  ASSERT_EQ(responses.size(), 1u);
  std::vector<std::string> names;
  for (const auto& service : responses[0].list_services_response().service()) {
    names.push_back(service.name());
  }
  std::vector<std::string> expected = ApiServices();
  for (const std::string other :
       {"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection"}) {
    expected.push_back(other);
  }
  EXPECT_THAT(names, ::testing::UnorderedElementsAreArray(expected));
}

TYPED_TEST(ReflectionTest, DescribesEveryServiceWithTheFilesItImports) {
  std::vector<std::string> symbols = ApiServices();
  symbols.push_back("grpc.health.v1.Health");
  std::vector<typename TestFixture::Request> requests(symbols.size());
  for (size_t i = 0; i < symbols.size(); ++i) {
    requests[i].set_file_containing_symbol(symbols[i]);
  }
  auto responses = this->Reflect(requests);
  ASSERT_EQ(responses.size(), symbols.size());
  for (size_t i = 0; i < symbols.size(); ++i) {
    const auto& files = responses[i].file_descriptor_response();
    ASSERT_GT(files.file_descriptor_proto_size(), 0) << symbols[i];
    google::protobuf::FileDescriptorProto first;
    ASSERT_TRUE(first.ParseFromString(files.file_descriptor_proto(0)));
    const std::string service = symbols[i].substr(symbols[i].rfind('.') + 1);
    bool found = false;
    for (const auto& s : first.service()) found = found || s.name() == service;
    EXPECT_TRUE(found) << symbols[i] << " not in " << first.name();
    // Every file it imports comes along, so a client needs no local protos.
    std::set<std::string> sent;
    for (const std::string& bytes : files.file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto file;
      ASSERT_TRUE(file.ParseFromString(bytes));
      sent.insert(file.name());
    }
    for (const std::string& dependency : first.dependency()) {
      EXPECT_TRUE(sent.count(dependency)) << dependency << " missing for " << symbols[i];
    }
  }
}

TYPED_TEST(ReflectionTest, AnUnknownSymbolIsNotFound) {
  typename TestFixture::Request request;
  request.set_file_containing_symbol("no.such.Thing");
  auto responses = this->Reflect({request});
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].error_response().error_code(),
            static_cast<int>(grpc::StatusCode::NOT_FOUND));
}

// A PostgreSQL cluster of the test's own that can be stopped and started.
class OwnCluster {
 public:
  OwnCluster() : dir_(absl::StrCat(PROTOMODEL_TEST_PG_DIR, "-own-", getpid())) {
    url_ = RunCommand(absl::StrCat(PgScript(), " start ", dir_, " auto --fast"));
  }
  ~OwnCluster() {
    RunCommand(absl::StrCat(PgScript(), " stop ", dir_));
    RunCommand(absl::StrCat("rm -rf ", dir_, " ", dir_, ".initdb.log"));
  }
  void Start() { RunCommand(absl::StrCat(PgScript(), " start ", dir_)); }
  void Stop() { RunCommand(absl::StrCat(PgScript(), " stop ", dir_)); }
  const std::string& url() const { return url_; }

 private:
  std::string dir_;
  std::string url_;
};

TEST(ServerStartTest, StartsWithTheDatabaseDownAndRecoversWhenItComesUp) {
  OwnCluster cluster;
  cluster.Stop();
  TestServer server(cluster.url());
  auto channel = server.NewChannel();
  EXPECT_EQ(HealthStatus(channel, ""), "NOT_SERVING");
  EXPECT_EQ(HealthStatus(channel, "heroes.v1.HeroService"), "NOT_SERVING");
  EXPECT_EQ(HealthStatus(channel, "liveness"), "SERVING");
  cluster.Start();
  EXPECT_TRUE(server.WaitReady(absl::Seconds(20)));
  EXPECT_EQ(HealthStatus(channel, "heroes.v1.HeroService"), "SERVING");

  cluster.Stop();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (HealthStatus(channel, "") == "SERVING" && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(HealthStatus(channel, ""), "NOT_SERVING");
  EXPECT_EQ(HealthStatus(channel, "liveness"), "SERVING");
  cluster.Start();
  EXPECT_TRUE(server.WaitReady(absl::Seconds(20)));
}

// Behind PgBouncer in transaction pooling mode a stopped PostgreSQL refuses
// nothing: PgBouncer accepts the probe's connection and queues its query.
// The probe's own deadline turns readiness NOT_SERVING within 5 s all the
// same, and it is SERVING again within 5 s of PgBouncer reaching the
// database (the test's PgBouncer retries its server login every second;
// PgBouncer's default is 15 s).
TEST(ServerReadinessTest, FollowsADatabaseBehindPgBouncerWithinFiveSeconds) {
  OwnCluster cluster;
  const std::string bouncer = absl::StrCat(PROTOMODEL_TEST_PG_DIR, "-bouncer-", getpid());
  const std::string url =
      RunCommand(absl::StrCat(PgBouncerScript(), " start ", bouncer, " ", cluster.url()));
  {
    TestServer server(url, [](server::ServerOptions& options) {
      options.prepared_statements = false;
    });
    auto channel = server.NewChannel();
    ASSERT_TRUE(server.WaitReady(absl::Seconds(30)));

    const auto wait_for = [&](const std::string& status) {
      const absl::Time start = absl::Now();
      while (HealthStatus(channel, "heroes.v1.HeroService") != status &&
             absl::Now() - start < absl::Seconds(30)) {
        absl::SleepFor(absl::Milliseconds(50));
      }
      return absl::Now() - start;
    };
    cluster.Stop();
    EXPECT_LT(wait_for("NOT_SERVING"), absl::Seconds(5));
    EXPECT_EQ(HealthStatus(channel, ""), "NOT_SERVING");
    EXPECT_EQ(HealthStatus(channel, "liveness"), "SERVING");

    cluster.Start();
    // PostgreSQL answers now; PgBouncer logs in within its retry interval.
    EXPECT_LT(wait_for("SERVING"), absl::Seconds(5));
    EXPECT_EQ(HealthStatus(channel, ""), "SERVING");
  }
  RunCommand(absl::StrCat(PgBouncerScript(), " stop ", bouncer));
  RunCommand(absl::StrCat("rm -rf ", bouncer));
}

// gRPC would share a port between two servers (SO_REUSEPORT) and the
// kernel would split connections between them: the second must not start.
TEST(ServerStartTest, ASecondServerOnATakenPortFailsSayingAddressInUse) {
  TestDatabase db;
  TestServer first(db.url());
  server::ServerOptions options;
  options.database_url = db.url();
  options.listen = absl::StrCat("127.0.0.1:", first.server().port());
  absl::StatusOr<std::unique_ptr<server::Server>> second = server::Server::Start(options);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("address in use"), std::string::npos)
      << second.status().message();
}

TEST(ServerStartTest, RefusesToStartWithoutADatabaseUrl) {
  server::ServerOptions options;
  options.listen = "127.0.0.1:0";
  auto server = server::Server::Start(options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("database_url"), absl::string_view::npos);
}

TEST(ServerBinaryTest, HelpListsEveryFlag) {
  Process process = Spawn({"--help"});
  WaitExit(process);
  const std::string help = ReadFile(process.log);
  for (const std::string flag :
       {"--listen", "--database_url", "DATABASE_URL", "--pool_size", "--log_level",
        "--log_format", "--max_message_bytes", "--migrate", "--prepared_statements",
        "--max_concurrent_streams", "--keepalive_seconds", "--max_connection_age_seconds",
        "--max_waiting", "--max_statement_seconds", "--default_deadline_seconds",
        "--descriptor_set", "--migrations_dir",
        "PROTOMODEL_MAX_CONCURRENT_STREAMS", "--tls_cert_file", "--tls_key_file",
        "--tls_client_ca_file", "--tls_reload_seconds", "--auth_tokens_file",
        "--allow_plaintext_tokens", "--health_listen", "--metrics_listen",
        "PROTOMODEL_AUTH_TOKENS_FILE"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

TEST(ServerBinaryTest, RejectsABadEnvironmentValue) {
  Process process = Spawn({}, {"PROTOMODEL_POOL_SIZE=many"});
  EXPECT_EQ(WaitExit(process), 2);
  EXPECT_NE(ReadFile(process.log).find("PROTOMODEL_POOL_SIZE"), std::string::npos);
}

TEST(ServerBinaryTest, MigrateAppliesMigrationsAndExits) {
  TestDatabase db;
  Process process = Spawn({"migrate"}, {"DATABASE_URL=" + db.url()});
  EXPECT_EQ(WaitExit(process), 0) << ReadFile(process.log);
  EXPECT_GT(db.Exec("SELECT count(*) FROM schema_migrations")[0][0].as<int>(), 0);
}

TEST(ServerBinaryTest, DrainsAndExitsZeroOnSigterm) {
  TestDatabase db;
  const int port = FreePort();
  // The test cluster trusts every local login, so any password works.
  std::string url = db.url();
  if (const size_t at = url.find("postgres@"); at != std::string::npos) {
    url.replace(at, 9, "postgres:hunter2@");
  }
  Process process = Spawn({absl::StrCat("--listen=127.0.0.1:", port), "--log_format=json"},
                          {"DATABASE_URL=" + url});
  ASSERT_TRUE(WaitServing(absl::StrCat("127.0.0.1:", port))) << ReadFile(process.log);
  kill(process.pid, SIGTERM);
  EXPECT_EQ(WaitExit(process), 0);
  const std::string log = ReadFile(process.log);
  EXPECT_NE(log.find("\"msg\":\"received Terminated"), std::string::npos) << log;
  EXPECT_NE(log.find("\"msg\":\"stopped\""), std::string::npos) << log;
  EXPECT_EQ(log.find("hunter2"), std::string::npos) << "the log shows the password";
}

}  // namespace
}  // namespace protomodel::testing

namespace protomodel::testing {
namespace {

TEST(ServerDrainTest, InFlightCallsFinishDuringShutdown) {
  TestDatabase db;
  auto server = std::make_unique<TestServer>(db.url(), [](server::ServerOptions& options) {
    options.health_listen = "127.0.0.1:0";
  });
  ASSERT_TRUE(server->WaitReady());
  auto probes =
      client::NewChannel(absl::StrCat("127.0.0.1:", server->server().health_port()));
  auto channel = server->NewChannel();
  HeroesClient client(channel);
  const auto hero = client.NewHero("Deadpond", "Dive Wilson");

  // Hold the hero table so the next GetHero waits inside the database.
  pqxx::connection locker(db.url());
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE hero IN ACCESS EXCLUSIVE MODE");

  grpc::Status in_flight;
  heroes::v1::Hero got;
  std::thread call([&] { in_flight = client.GetHero(hero.id(), heroes::v1::BASIC, &got); });
  absl::SleepFor(absl::Milliseconds(300));  // the call is now waiting on the lock

  std::thread shutdown([&] { server.reset(); });  // Shutdown() with its grace, then Wait()
  absl::SleepFor(absl::Milliseconds(300));
  // Draining: new calls are refused while the old one is still running.
  heroes::v1::Hero refused;
  grpc::Status late = HeroesClient(channel).GetHero(hero.id(), heroes::v1::BASIC, &refused);
  EXPECT_FALSE(late.ok());
  // The probes' port: out of rotation, yet alive.
  EXPECT_EQ(HealthStatus(probes, ""), "NOT_SERVING");
  EXPECT_EQ(HealthStatus(probes, "heroes.v1.HeroService"), "NOT_SERVING");
  EXPECT_EQ(HealthStatus(probes, "liveness"), "SERVING");
  lock.abort();
  call.join();
  shutdown.join();
  EXPECT_TRUE(in_flight.ok()) << in_flight.error_message();
  EXPECT_EQ(got.name(), "Deadpond");
}

// Calls beyond the workers and the queue are refused at once, saying so,
// and slow calls hold only their own worker.
TEST(ServerOverloadTest, AFullQueueIsResourceExhaustedAtOnce) {
  TestDatabase db;
  TestServer server(db.url(), [](server::ServerOptions& options) {
    options.pool_size = 1;
    options.max_waiting = 1;
  });
  ASSERT_TRUE(server.WaitReady());
  HeroesClient client(server.NewChannel());
  const auto hero = client.NewHero("Deadpond", "Dive Wilson");

  pqxx::connection locker(db.url());
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE hero IN ACCESS EXCLUSIVE MODE");
  grpc::Status held, queued;
  heroes::v1::Hero got_held, got_queued;
  std::thread first([&] { held = client.GetHero(hero.id(), heroes::v1::BASIC, &got_held); });
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (server.server().statements_in_flight() == 0 && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  std::thread second([&] { queued = client.GetHero(hero.id(), heroes::v1::BASIC, &got_queued); });
  while (server.server().waiting_calls() == 0 && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(server.server().waiting_calls(), 1);

  const absl::Time start = absl::Now();
  heroes::v1::Hero refused;
  grpc::Status third = client.GetHero(hero.id(), heroes::v1::BASIC, &refused);
  EXPECT_CODE(third, RESOURCE_EXHAUSTED);
  EXPECT_NE(third.error_message().find("overloaded"), std::string::npos);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(client::DetailsOf(third).reason, "SERVER_OVERLOADED");
  EXPECT_EQ(client::DetailsOf(third).retry_delay, absl::Milliseconds(200));

  // Malformed requests are refused for what they are, before they would
  // take a place in the queue.
  heroes::v1::ListHeroesRequest list;
  list.set_filter("name = = 1");
  heroes::v1::ListHeroesResponse listed;
  EXPECT_CODE(client.ListHeroes(list, &listed), INVALID_ARGUMENT);
  heroes::v1::Hero update = hero;
  EXPECT_CODE(client.UpdateHero(update, {"powers"}, &refused), INVALID_ARGUMENT);
  EXPECT_CODE(client.DeleteHero(-3), INVALID_ARGUMENT);
  EXPECT_CODE(client.GetHero(0, heroes::v1::BASIC, &refused), INVALID_ARGUMENT);

  lock.abort();
  first.join();
  second.join();
  EXPECT_TRUE(held.ok()) << held.error_message();
  EXPECT_TRUE(queued.ok()) << queued.error_message();
}

// A request past --max_message_bytes is refused by gRPC before any handler
// runs: RESOURCE_EXHAUSTED, nothing written.
TEST(ServerLimitsTest, ARequestPastTheMessageLimitIsResourceExhausted) {
  TestDatabase db;
  TestServer server(db.url(), [](server::ServerOptions& options) {
    options.max_message_bytes = 1 << 20;
  });
  ASSERT_TRUE(server.WaitReady());
  HeroesClient client(server.NewChannel());
  heroes::v1::Hero hero;
  hero.set_name(std::string(2 << 20, 'x'));
  hero.set_secret_name("s");
  heroes::v1::Hero out;
  EXPECT_CODE(client.CreateHero(hero, &out), RESOURCE_EXHAUSTED);
  EXPECT_EQ(db.Exec("SELECT count(*) FROM hero")[0][0].as<int>(), 0);
}

}  // namespace
}  // namespace protomodel::testing
