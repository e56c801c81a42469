// The C++ client library: typed calls, deadlines, and retries of
// UNAVAILABLE through the service config.
#include <stdlib.h>

#include <atomic>
#include <thread>

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "harness/test_server.h"
#include "protomodel/client/channel.h"
#include "protomodel/client/grimoire.h"
#include "protomodel/client/heroes.h"

namespace protomodel::testing {
namespace {

using client::CallOptions;
using client::GrimoireClient;
using client::HeroesClient;

class ClientTest : public ServiceTest {};

TEST_F(ClientTest, HeroLifecycle) {
  HeroesClient heroes(client::NewChannel(test_server().address()));
  heroes::v1::Team team_in;
  team_in.set_name("Preventers");
  auto team = heroes.CreateTeam(team_in);
  ASSERT_TRUE(team.ok()) << team.status();
  heroes::v1::Hero hero_in;
  hero_in.set_name("Rusty-Man");
  hero_in.set_secret_name("Tommy Sharp");
  hero_in.set_team_id(team->id());
  auto hero = heroes.CreateHero(hero_in);
  ASSERT_TRUE(hero.ok()) << hero.status();

  auto full = heroes.GetHero(hero->id(), heroes::v1::FULL);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->team().name(), "Preventers");

  heroes::v1::ListHeroesRequest list;
  list.set_filter(R"(name = "Rusty*")");
  auto page = heroes.ListHeroes(list);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->heroes_size(), 1);

  heroes::v1::Hero change;
  change.set_id(hero->id());
  change.set_age(48);
  auto updated = heroes.UpdateHero(change, {"age"});
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->age(), 48);

  EXPECT_TRUE(heroes.DeleteHero(hero->id()).ok());
  auto gone = heroes.GetHero(hero->id());
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(gone.status().message(), "hero " + std::to_string(hero->id()) + " not found");
}

TEST_F(ClientTest, ConversationEtagsThroughTheClient) {
  GrimoireClient grimoire(client::NewChannel(test_server().address()));
  grimoire::v1::User user_in;
  user_in.set_email("ada@example.com");
  user_in.set_display_name("Ada");
  auto user = grimoire.CreateUser(user_in);
  ASSERT_TRUE(user.ok()) << user.status();
  grimoire::v1::Class class_in;
  class_in.set_name("CS 101");
  class_in.set_owner_id(user->id());
  auto cls = grimoire.CreateClass(class_in);
  ASSERT_TRUE(cls.ok()) << cls.status();
  grimoire::v1::Conversation conversation_in;
  conversation_in.set_class_id(cls->id());
  conversation_in.set_owner_id(user->id());
  conversation_in.set_crdt_state(std::string(5 << 20, '\x7f'));
  auto conversation = grimoire.CreateConversation(conversation_in);
  ASSERT_TRUE(conversation.ok()) << conversation.status();
  EXPECT_EQ(grimoire.DeleteConversation(conversation->id(), "stale").code(),
            absl::StatusCode::kAborted);
  EXPECT_TRUE(grimoire.DeleteConversation(conversation->id(), conversation->etag()).ok());
}

// A HeroService that answers UNAVAILABLE a given number of times, then OK,
// or that sleeps before answering.
class FlakyHeroes final : public heroes::v1::HeroService::Service {
 public:
  explicit FlakyHeroes(int failures, absl::Duration delay = absl::ZeroDuration())
      : failures_(failures), delay_(delay) {}
  grpc::Status GetHero(grpc::ServerContext*, const heroes::v1::GetHeroRequest* request,
                       heroes::v1::Hero* hero) override {
    absl::SleepFor(delay_);
    if (calls_++ < failures_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "try again");
    hero->set_id(request->id());
    return grpc::Status::OK;
  }
  grpc::Status CreateHero(grpc::ServerContext*, const heroes::v1::CreateHeroRequest* request,
                          heroes::v1::Hero* hero) override {
    request_ids_.push_back(request->request_id());
    if (create_unknowns_ > 0) {
      --create_unknowns_;
      return grpc::Status(grpc::StatusCode::UNKNOWN, "the outcome is unknown");
    }
    if (create_ok_) {
      hero->set_id(1);
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no");
  }
  grpc::Status UpdateHero(grpc::ServerContext*, const heroes::v1::UpdateHeroRequest*,
                          heroes::v1::Hero*) override {
    ++updates_;
    return grpc::Status(grpc::StatusCode::UNKNOWN, "the outcome is unknown");
  }
  int calls() const { return calls_; }
  std::vector<std::string> request_ids_;
  int create_unknowns_ = 0;
  bool create_ok_ = false;
  std::atomic<int> updates_{0};

 private:
  const int failures_;
  const absl::Duration delay_;
  std::atomic<int> calls_{0};
};

std::unique_ptr<grpc::Server> Serve(grpc::Service* service, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

TEST(ClientRetryTest, RetriesUnavailableWithBackoff) {
  FlakyHeroes flaky(2);
  int port = 0;
  auto server = Serve(&flaky, &port);
  HeroesClient heroes(client::NewChannel("127.0.0.1:" + std::to_string(port)));
  auto hero = heroes.GetHero(7);
  ASSERT_TRUE(hero.ok()) << hero.status();
  EXPECT_EQ(hero->id(), 7);
  EXPECT_EQ(flaky.calls(), 3);
}

TEST(ClientRetryTest, GivesUpAfterMaxAttempts) {
  FlakyHeroes flaky(100);
  int port = 0;
  auto server = Serve(&flaky, &port);
  client::ChannelOptions options;
  options.max_attempts = 3;
  HeroesClient heroes(*client::Connect("127.0.0.1:" + std::to_string(port), options));
  EXPECT_EQ(heroes.GetHero(7).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(flaky.calls(), 3);
}

TEST(ClientRetryTest, RetriesCanBeTurnedOff) {
  FlakyHeroes flaky(1);
  int port = 0;
  auto server = Serve(&flaky, &port);
  client::ChannelOptions options;
  options.retry_unavailable = false;
  HeroesClient heroes(*client::Connect("127.0.0.1:" + std::to_string(port), options));
  EXPECT_EQ(heroes.GetHero(7).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(flaky.calls(), 1);
}

TEST(ClientRetryTest, ACreateInDoubtIsRetriedWithTheSameRequestId) {
  FlakyHeroes service(0);
  service.create_unknowns_ = 2;
  service.create_ok_ = true;
  int port = 0;
  auto server = Serve(&service, &port);
  HeroesClient heroes(client::NewChannel("127.0.0.1:" + std::to_string(port)));
  auto hero = heroes.CreateHero(heroes::v1::Hero());
  ASSERT_TRUE(hero.ok()) << hero.status();
  ASSERT_EQ(service.request_ids_.size(), 3u);
  EXPECT_EQ(service.request_ids_[0], service.request_ids_[1]);
  EXPECT_EQ(service.request_ids_[1], service.request_ids_[2]);
}

TEST(ClientRetryTest, AnUpdateInDoubtIsNotRetried) {
  FlakyHeroes service(0);
  int port = 0;
  auto server = Serve(&service, &port);
  HeroesClient heroes(client::NewChannel("127.0.0.1:" + std::to_string(port)));
  heroes::v1::Hero hero;
  hero.set_id(1);
  hero.set_name("x");
  EXPECT_EQ(heroes.UpdateHero(hero).status().code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(service.updates_, 1);
}

TEST(ClientDeadlineTest, EachCallHasTheConfiguredDeadline) {
  FlakyHeroes slow(0, absl::Milliseconds(500));
  int port = 0;
  auto server = Serve(&slow, &port);
  CallOptions options;
  options.deadline = absl::Milliseconds(50);
  HeroesClient heroes(client::NewChannel("127.0.0.1:" + std::to_string(port)), options);
  const absl::Time start = absl::Now();
  EXPECT_EQ(heroes.GetHero(7).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(400));
}

TEST(ClientCreateTest, EveryCreateCarriesAFreshRequestId) {
  FlakyHeroes service(0);
  int port = 0;
  auto server = Serve(&service, &port);
  HeroesClient heroes(client::NewChannel("127.0.0.1:" + std::to_string(port)));
  heroes::v1::Hero hero;
  (void)heroes.CreateHero(hero);
  (void)heroes.CreateHero(hero);
  ASSERT_EQ(service.request_ids_.size(), 2u);
  EXPECT_EQ(service.request_ids_[0].size(), 36u);
  EXPECT_NE(service.request_ids_[0], service.request_ids_[1]);
}

TEST(ClientTlsTest, AMissingCertificateFileIsNamed) {
  client::ChannelOptions options;
  options.tls = true;
  options.ca_file = "/nonexistent/ca.pem";
  auto channel = client::Connect("localhost:1", options);
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(channel.status().message().find("/nonexistent/ca.pem"), absl::string_view::npos);
}

TEST(ClientEnvironmentTest, FillsTlsAndTokenFromTheEnvironmentWithoutOverridingFields) {
  const std::vector<std::pair<const char*, const char*>> env = {
      {"PROTOMODEL_TLS", "1"},
      {"PROTOMODEL_TLS_CA_FILE", "/env/ca.pem"},
      {"PROTOMODEL_CLIENT_CERT_FILE", "/env/client.crt"},
      {"PROTOMODEL_CLIENT_KEY_FILE", "/env/client.key"},
      {"PROTOMODEL_TOKEN", "env-token"},
      // The server's names for its own certificate are not the client's.
      {"PROTOMODEL_TLS_CERT_FILE", "/env/server.crt"},
      {"PROTOMODEL_TLS_KEY_FILE", "/env/server.key"}};
  for (const auto& [name, value] : env) setenv(name, value, 1);
  client::ChannelOptions set;
  set.token = "given-token";
  const client::ChannelOptions from_env = client::WithEnvironment({});
  const client::ChannelOptions kept = client::WithEnvironment(set);
  for (const auto& [name, value] : env) unsetenv(name);

  EXPECT_TRUE(from_env.tls);
  EXPECT_EQ(from_env.ca_file, "/env/ca.pem");
  EXPECT_EQ(from_env.cert_file, "/env/client.crt");
  EXPECT_EQ(from_env.key_file, "/env/client.key");
  EXPECT_EQ(from_env.token, "env-token");
  EXPECT_EQ(kept.token, "given-token");
  EXPECT_FALSE(client::WithEnvironment({}).tls) << "PROTOMODEL_TLS unset is plaintext";
}

}  // namespace
}  // namespace protomodel::testing
