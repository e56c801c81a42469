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
#include "grimoire/v1/grimoire.pb.h"
#include "heroes/v1/heroes.grpc.pb.h"
#include "protomodel/client/resources.h"

namespace protomodel::testing {
namespace {

using client::CallOptions;
using client::Resources;

// The typed client of `R` on `channel`; the test fails when it cannot be made.
template <typename R>
Resources<R> ClientOf(std::shared_ptr<grpc::Channel> channel, CallOptions options = {}) {
  absl::StatusOr<Resources<R>> resources = Resources<R>::For(std::move(channel), options);
  EXPECT_TRUE(resources.ok()) << resources.status();
  return *std::move(resources);
}

class ClientTest : public ServiceTest {};

TEST_F(ClientTest, HeroLifecycle) {
  auto channel = client::NewChannel(test_server().address());
  auto heroes = ClientOf<heroes::v1::Hero>(channel);
  auto teams = ClientOf<heroes::v1::Team>(channel);
  heroes::v1::Team team_in;
  team_in.set_name("Preventers");
  auto team = teams.Create(team_in);
  ASSERT_TRUE(team.ok()) << team.status();
  heroes::v1::Hero hero_in;
  hero_in.set_name("Rusty-Man");
  hero_in.set_secret_name("Tommy Sharp");
  hero_in.set_team_id(team->id());
  auto hero = heroes.Create(hero_in);
  ASSERT_TRUE(hero.ok()) << hero.status();

  auto full = heroes.Get(hero->id(), "FULL");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->team().name(), "Preventers");
  EXPECT_EQ(heroes.Get(hero->id(), "SIDEWAYS").status().code(),
            absl::StatusCode::kInvalidArgument);

  hero_in.set_name("Rusty-Man II");
  ASSERT_TRUE(heroes.Create(hero_in).ok());
  hero_in.set_name("Dormammu");
  ASSERT_TRUE(heroes.Create(hero_in).ok());
  // Pages of one row, followed to the end, in order.
  client::ListOptions options;
  options.filter = R"(name = "Rusty*")";
  options.order_by = "name desc";
  options.read_mask = {"name"};
  options.page_size = 1;
  auto listed = heroes.ListAll(options);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name(), "Rusty-Man II");
  EXPECT_EQ((*listed)[1].name(), "Rusty-Man");
  EXPECT_EQ((*listed)[1].secret_name(), "") << "read_mask";

  heroes::v1::Hero change;
  change.set_id(hero->id());
  change.set_age(48);
  auto updated = heroes.Update(change, {"age"});
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->age(), 48);

  EXPECT_TRUE(heroes.Delete(hero->id()).ok());
  auto gone = heroes.Get(hero->id());
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(gone.status().message(), "hero " + std::to_string(hero->id()) + " not found");
  EXPECT_EQ(client::DetailsOf(gone.status()).resource_type, "heroes.v1.Hero");
}

TEST_F(ClientTest, ConversationEtagsThroughTheClient) {
  auto channel = client::NewChannel(test_server().address());
  grimoire::v1::User user_in;
  user_in.set_email("ada@example.com");
  user_in.set_display_name("Ada");
  auto user = ClientOf<grimoire::v1::User>(channel).Create(user_in);
  ASSERT_TRUE(user.ok()) << user.status();
  grimoire::v1::Class class_in;
  class_in.set_name("CS 101");
  class_in.set_owner_id(user->id());
  auto cls = ClientOf<grimoire::v1::Class>(channel).Create(class_in);
  ASSERT_TRUE(cls.ok()) << cls.status();
  EXPECT_EQ(cls->invite_code().size(), 16u);
  auto conversations = ClientOf<grimoire::v1::Conversation>(channel);
  grimoire::v1::Conversation conversation_in;
  conversation_in.set_class_id(cls->id());
  conversation_in.set_owner_id(user->id());
  conversation_in.set_crdt_state(std::string(5 << 20, '\x7f'));
  auto conversation = conversations.Create(conversation_in);
  ASSERT_TRUE(conversation.ok()) << conversation.status();
  EXPECT_EQ(conversations.Get(conversation->id())->crdt_state().size(), 5u << 20);
  EXPECT_EQ(conversations.Delete(conversation->id(), "stale").code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(conversations.Delete(conversation->id(), conversation->etag()).ok());
}

// A message no service serves has no client.
TEST(ClientForTest, AMessageNoServiceServesHasNone) {
  auto none = Resources<heroes::v1::GetHeroRequest>::For(client::NewChannel("localhost:1"));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
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

TEST(RequestIdTest, DerivedIdsAreStableVersionFourUuids) {
  const std::string id = client::RequestIdOf("heroes.v1.Hero\n7\n{\"name\":\"Deadpond\"}");
  EXPECT_EQ(id, client::RequestIdOf("heroes.v1.Hero\n7\n{\"name\":\"Deadpond\"}"));
  EXPECT_NE(id, client::RequestIdOf("heroes.v1.Hero\n8\n{\"name\":\"Deadpond\"}"));
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4') << id;  // the version
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // the variant
  EXPECT_NE(client::NewRequestId(), client::NewRequestId());
}

TEST(ClientRetryTest, RetriesUnavailableWithBackoff) {
  FlakyHeroes flaky(2);
  int port = 0;
  auto server = Serve(&flaky, &port);
  auto heroes = ClientOf<heroes::v1::Hero>(client::NewChannel("127.0.0.1:" + std::to_string(port)));
  auto hero = heroes.Get(7);
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
  auto heroes = ClientOf<heroes::v1::Hero>(*client::Connect("127.0.0.1:" + std::to_string(port), options));
  EXPECT_EQ(heroes.Get(7).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(flaky.calls(), 3);
}

TEST(ClientRetryTest, RetriesCanBeTurnedOff) {
  FlakyHeroes flaky(1);
  int port = 0;
  auto server = Serve(&flaky, &port);
  client::ChannelOptions options;
  options.retry_unavailable = false;
  auto heroes = ClientOf<heroes::v1::Hero>(*client::Connect("127.0.0.1:" + std::to_string(port), options));
  EXPECT_EQ(heroes.Get(7).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(flaky.calls(), 1);
}

TEST(ClientRetryTest, ACreateInDoubtIsRetriedWithTheSameRequestId) {
  FlakyHeroes service(0);
  service.create_unknowns_ = 2;
  service.create_ok_ = true;
  int port = 0;
  auto server = Serve(&service, &port);
  auto heroes = ClientOf<heroes::v1::Hero>(client::NewChannel("127.0.0.1:" + std::to_string(port)));
  auto hero = heroes.Create(heroes::v1::Hero());
  ASSERT_TRUE(hero.ok()) << hero.status();
  ASSERT_EQ(service.request_ids_.size(), 3u);
  EXPECT_EQ(service.request_ids_[0], service.request_ids_[1]);
  EXPECT_EQ(service.request_ids_[1], service.request_ids_[2]);
}

TEST(ClientRetryTest, AnUpdateInDoubtIsNotRetried) {
  FlakyHeroes service(0);
  int port = 0;
  auto server = Serve(&service, &port);
  auto heroes = ClientOf<heroes::v1::Hero>(client::NewChannel("127.0.0.1:" + std::to_string(port)));
  heroes::v1::Hero hero;
  hero.set_id(1);
  hero.set_name("x");
  EXPECT_EQ(heroes.Update(hero).status().code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(service.updates_, 1);
}

TEST(ClientDeadlineTest, EachCallHasTheConfiguredDeadline) {
  FlakyHeroes slow(0, absl::Milliseconds(500));
  int port = 0;
  auto server = Serve(&slow, &port);
  CallOptions options;
  options.deadline = absl::Milliseconds(50);
  auto heroes =
      ClientOf<heroes::v1::Hero>(client::NewChannel("127.0.0.1:" + std::to_string(port)), options);
  const absl::Time start = absl::Now();
  EXPECT_EQ(heroes.Get(7).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(400));
}

TEST(ClientCreateTest, EveryCreateCarriesAFreshRequestId) {
  FlakyHeroes service(0);
  int port = 0;
  auto server = Serve(&service, &port);
  auto heroes = ClientOf<heroes::v1::Hero>(client::NewChannel("127.0.0.1:" + std::to_string(port)));
  heroes::v1::Hero hero;
  (void)heroes.Create(hero);
  (void)heroes.Create(hero);
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
