// Watches (Watch<Rs>) end to end, over heroes: changes made outside the
// service, commit order, resuming on another replica and after a
// disconnect, retention, truncation, draining, limits and many watchers.
// The rules every resource shares are in conformance_test.
#include <memory>
#include <thread>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include "absl/strings/str_cat.h"
#include "grimoire/v1/grimoire.grpc.pb.h"
#include "db/sql/page_token.h"
#include "harness/grimoire_client.h"
#include "harness/heroes_client.h"
#include "harness/test_server.h"
#include "harness/watch_reader.h"
#include "heroes/v1/heroes.grpc.pb.h"
#include "protomodel/client/resources.h"

namespace protomodel::testing {
namespace {

using heroes::v1::Hero;
using heroes::v1::WatchHeroesRequest;
using heroes::v1::WatchHeroesResponse;
using protomodel::v1::ChangeType;

const google::protobuf::MethodDescriptor* WatchHeroes() {
  return heroes::v1::Hero::descriptor()->file()->FindServiceByName("HeroService")->FindMethodByName(
      "WatchHeroes");
}

std::unique_ptr<WatchReader> Watch(const std::shared_ptr<grpc::Channel>& channel,
                                   const std::string& filter = "",
                                   const std::string& token = "") {
  WatchHeroesRequest request;
  request.set_filter(filter);
  request.set_resume_token(token);
  return std::make_unique<WatchReader>(channel, WatchHeroes(), request);
}

// The next event, as a WatchHeroesResponse (type UNSPECIFIED when none came).
WatchHeroesResponse Next(WatchReader& watch, absl::Duration timeout = absl::Seconds(10)) {
  std::unique_ptr<google::protobuf::Message> next = watch.Next(timeout);
  WatchHeroesResponse event;
  if (next != nullptr) event.CopyFrom(*next);
  return event;
}

// The next event, which must be `type` about the hero named `name`.
WatchHeroesResponse ExpectEvent(WatchReader& watch, ChangeType type, const std::string& name,
                                absl::Duration timeout = absl::Seconds(10)) {
  WatchHeroesResponse event = Next(watch, timeout);
  EXPECT_EQ(event.type(), type) << event.ShortDebugString();
  if (type != protomodel::v1::CHANGE_TYPE_REMOVED) {
    EXPECT_EQ(event.hero().name(), name) << event.ShortDebugString();
  }
  return event;
}

// Waits for the SYNCED a new watch starts with; returns its token.
std::string Synced(WatchReader& watch) {
  WatchHeroesResponse event = Next(watch);
  EXPECT_EQ(event.type(), protomodel::v1::CHANGE_TYPE_SYNCED) << event.ShortDebugString();
  return event.resume_token();
}

class WatchTest : public ServiceTest {
 protected:
  HeroesClient client_{channel()};
};

// Rows written straight to the database (psql, a data migration) are
// watched too; two transactions that commit in the reverse of the order
// they wrote in are both delivered.
TEST_F(WatchTest, ChangesMadeOutsideTheServiceAreWatchedInCommitOrder) {
  std::unique_ptr<WatchReader> watch = Watch(channel());
  Synced(*watch);
  pqxx::connection first(database().url()), second(database().url());
  pqxx::work early(first);
  early.exec("INSERT INTO hero (name, secret_name) VALUES ('early', 'e')");
  {
    pqxx::work late(second);
    late.exec("INSERT INTO hero (name, secret_name) VALUES ('late', 'l')");
    late.commit();
  }
  ExpectEvent(*watch, protomodel::v1::CHANGE_TYPE_ADDED, "late");
  // The early transaction, still open, holds nothing back.
  early.commit();
  const WatchHeroesResponse added = ExpectEvent(*watch, protomodel::v1::CHANGE_TYPE_ADDED, "early");

  database().Exec("UPDATE hero SET age = 41 WHERE name = 'early'");
  const WatchHeroesResponse modified =
      ExpectEvent(*watch, protomodel::v1::CHANGE_TYPE_MODIFIED, "early");
  EXPECT_EQ(modified.hero().age(), 41);
  database().Exec("DELETE FROM hero WHERE name = 'early'");
  const WatchHeroesResponse removed = Next(*watch);
  EXPECT_EQ(removed.type(), protomodel::v1::CHANGE_TYPE_REMOVED);
  EXPECT_EQ(removed.hero().id(), added.hero().id());
  EXPECT_EQ(removed.hero().name(), "");
}

// One transaction of many rows is read in pages (of 1000); a filter that
// selects one of them sends that one alone.
TEST_F(WatchTest, ALargeTransactionIsDeliveredWhole) {
  constexpr int kRows = 5500;
  std::unique_ptr<WatchReader> everything = Watch(channel());
  std::unique_ptr<WatchReader> last = Watch(channel(), "name = \"hero 5500\"");
  Synced(*everything);
  Synced(*last);
  database().Exec(absl::StrCat("INSERT INTO hero (name, secret_name) "
                               "SELECT 'hero ' || i, 's' FROM generate_series(1, ",
                               kRows, ") AS i"));
  ExpectEvent(*last, protomodel::v1::CHANGE_TYPE_ADDED, "hero 5500", absl::Seconds(60));
  int added = 0;
  while (added < kRows && Next(*everything).type() == protomodel::v1::CHANGE_TYPE_ADDED) ++added;
  EXPECT_EQ(added, kRows);
  EXPECT_EQ(last->Next(absl::Milliseconds(200)), nullptr);
}

// A token's checksum is no secret: one made by hand with a snapshot the
// database would not take is refused as a token, never sent to it.
TEST_F(WatchTest, AForgedTokenIsInvalidArgument) {
  for (const char* snapshot : {"5:3:", "1:9:12", "x:y:", "0:0:"}) {
    protomodel::v1::WatchToken token;
    token.set_table_name("hero");
    token.set_since(snapshot);
    std::unique_ptr<WatchReader> watch =
        Watch(channel(), "", db::SealToken("protomodel.watch_token.v1", token.SerializeAsString()));
    const std::optional<grpc::Status> ended = watch->Ended();
    ASSERT_TRUE(ended.has_value()) << snapshot;
    EXPECT_CODE(*ended, INVALID_ARGUMENT) << snapshot;
  }
}

TEST_F(WatchTest, ATruncateEndsTheTablesWatchesWithOutOfRange) {
  std::unique_ptr<WatchReader> watch = Watch(channel());
  Synced(*watch);
  client_.NewHero("before", "b");
  ExpectEvent(*watch, protomodel::v1::CHANGE_TYPE_ADDED, "before");
  database().Exec("TRUNCATE hero");
  const std::optional<grpc::Status> ended = watch->Ended();
  ASSERT_TRUE(ended.has_value());
  EXPECT_CODE(*ended, OUT_OF_RANGE);
}

// A watcher that goes away resumes with its last token, on the same
// replica or another, and misses nothing written meanwhile.
TEST_F(WatchTest, AWatchResumesAfterADisconnectOnAnotherReplica) {
  std::unique_ptr<WatchReader> watch = Watch(channel());
  Synced(*watch);
  client_.NewHero("one", "1");
  const std::string token =
      ExpectEvent(*watch, protomodel::v1::CHANGE_TYPE_ADDED, "one").resume_token();
  watch.reset();
  for (const char* name : {"two", "three", "four"}) client_.NewHero(name, "x");

  TestServer other(database().url());
  ASSERT_TRUE(other.WaitReady());
  std::unique_ptr<WatchReader> resumed = Watch(other.NewChannel(), "", token);
  EXPECT_EQ(Synced(*resumed), token);
  for (const char* name : {"two", "three", "four"}) {
    ExpectEvent(*resumed, protomodel::v1::CHANGE_TYPE_ADDED, name);
  }
  // And it goes on live.
  client_.NewHero("five", "5");
  ExpectEvent(*resumed, protomodel::v1::CHANGE_TYPE_ADDED, "five");
}

TEST_F(WatchTest, ATokenOlderThanTheRetentionIsOutOfRange) {
  TestServer brief(database().url(), [](server::ServerOptions& options) {
    options.watch_retention = absl::Seconds(1);
    options.health_interval = absl::Milliseconds(100);
  });
  ASSERT_TRUE(brief.WaitReady());
  std::unique_ptr<WatchReader> watch = Watch(brief.NewChannel());
  const std::string token = Synced(*watch);
  watch.reset();
  client_.NewHero("gone", "g");
  // The log is pruned once every reader younger than the retention has
  // read it; an older token then cannot resume.
  std::optional<grpc::Status> ended;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(500));
    std::unique_ptr<WatchReader> resumed = Watch(brief.NewChannel(), "", token);
    ended = resumed->Ended(absl::Seconds(1));
    if (ended.has_value()) break;
  }
  ASSERT_TRUE(ended.has_value()) << "the old token still resumes";
  EXPECT_CODE(*ended, OUT_OF_RANGE);
}

TEST_F(WatchTest, ADrainingReplicaEndsItsWatchesWithUnavailable) {
  auto draining = std::make_unique<TestServer>(database().url());
  ASSERT_TRUE(draining->WaitReady());
  std::unique_ptr<WatchReader> watch = Watch(draining->NewChannel());
  Synced(*watch);
  const absl::Time start = absl::Now();
  draining->server().Shutdown();
  const std::optional<grpc::Status> ended = watch->Ended();
  ASSERT_TRUE(ended.has_value());
  EXPECT_CODE(*ended, UNAVAILABLE);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "the watch waited for the grace period";
}

TEST_F(WatchTest, PastMaxWatchesANewWatchIsResourceExhausted) {
  TestServer small(database().url(),
                   [](server::ServerOptions& options) { options.max_watches = 2; });
  ASSERT_TRUE(small.WaitReady());
  auto channel = small.NewChannel();
  std::unique_ptr<WatchReader> a = Watch(channel), b = Watch(channel);
  Synced(*a);
  Synced(*b);
  std::unique_ptr<WatchReader> c = Watch(channel);
  const std::optional<grpc::Status> ended = c->Ended();
  ASSERT_TRUE(ended.has_value());
  EXPECT_CODE(*ended, RESOURCE_EXHAUSTED);
  // A watch that ends makes room.
  a.reset();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  std::unique_ptr<WatchReader> d;
  while (absl::Now() < deadline) {
    d = Watch(channel);
    if (Next(*d, absl::Seconds(2)).type() == protomodel::v1::CHANGE_TYPE_SYNCED) break;
    d.reset();
  }
  EXPECT_NE(d, nullptr);
}

TEST_F(WatchTest, NoDefaultDeadlineEndsAWatch) {
  TestServer quick(database().url(), [](server::ServerOptions& options) {
    options.default_deadline = absl::Milliseconds(500);
  });
  ASSERT_TRUE(quick.WaitReady());
  std::unique_ptr<WatchReader> watch = Watch(quick.NewChannel());
  Synced(*watch);
  EXPECT_FALSE(watch->Ended(absl::Seconds(2)).has_value());
  client_.NewHero("later", "l");
  ExpectEvent(*watch, protomodel::v1::CHANGE_TYPE_ADDED, "later");
}

// One replica holds a thousand watches, without a thread each, and every
// one of them receives a change.
TEST_F(WatchTest, AThousandWatchesEachReceiveAChange) {
  constexpr int kWatches = 1000;
  TestServer many(database().url(), [](server::ServerOptions& options) {
    options.max_concurrent_streams = kWatches + 10;
  });
  ASSERT_TRUE(many.WaitReady());
  auto channel = many.NewChannel();
  std::vector<std::unique_ptr<WatchReader>> watches;
  for (int i = 0; i < kWatches; ++i) {
    watches.push_back(Watch(channel, i % 2 == 0 ? "" : "age > 10"));
  }
  for (auto& watch : watches) ASSERT_EQ(Synced(*watch).empty(), false);
  EXPECT_EQ(many.server().open_watches(), kWatches);
  client_.NewHero("everyone", "e", 42);
  int received = 0;
  for (auto& watch : watches) {
    if (Next(*watch).hero().name() == "everyone") ++received;
  }
  EXPECT_EQ(received, kWatches);
}

// A watcher that reads nothing while more than 16 MiB of changes queue up
// for it is ended with UNAVAILABLE; the server does not hold more for it.
TEST_F(WatchTest, AWatcherThatFallsBehindIsEndedWithUnavailable) {
  GrimoireClient grimoire(channel());
  const grimoire::v1::User owner = grimoire.NewUser("slow@example.com");
  const grimoire::v1::Class room = grimoire.NewClass(owner.id());
  auto stub = grimoire::v1::ConversationService::NewStub(channel());
  grpc::ClientContext context;
  // Without the limit the stream would never end: the deadline ends it.
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  grimoire::v1::WatchConversationsRequest request;
  std::unique_ptr<grpc::ClientReader<grimoire::v1::WatchConversationsResponse>> reader =
      stub->WatchConversations(&context, request);
  grimoire::v1::WatchConversationsResponse event;
  ASSERT_TRUE(reader->Read(&event));
  ASSERT_EQ(event.type(), protomodel::v1::CHANGE_TYPE_SYNCED);
  // Each event carries the document: 12 of 3 MiB pass 16 MiB beyond what
  // the connection's windows hold.
  const std::string state(3 << 20, 'x');
  for (int i = 0; i < 12; ++i) grimoire.NewConversation(room.id(), owner.id(), state);
  // What was on the wire comes, then the end.
  while (reader->Read(&event)) {
  }
  EXPECT_CODE(reader->Finish(), UNAVAILABLE);
}

// The C++ client resumes by itself when a replica goes away.
TEST_F(WatchTest, TheClientResumesByItselfAfterUnavailable) {
  auto first = std::make_unique<TestServer>(database().url());
  ASSERT_TRUE(first->WaitReady());
  const int port = first->server().port();
  absl::StatusOr<client::Resources<Hero>> heroes =
      client::Resources<Hero>::For(first->NewChannel());
  ASSERT_TRUE(heroes.ok());
  absl::Mutex mu;
  std::vector<std::string> names;
  std::thread watcher([&] {
    (void)heroes->Watch({}, [&](client::WatchEvent& event) {
      absl::MutexLock lock(&mu);
      if (event.type == client::WatchEvent::Type::kAdded) {
        names.push_back(event.As<Hero>()->name());
      }
      return names.size() < 2;
    });
  });
  const auto wait_for = [&](size_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      {
        absl::MutexLock lock(&mu);
        if (names.size() >= n) return true;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  };
  absl::SleepFor(absl::Milliseconds(500));
  client_.NewHero("before restart", "b");
  ASSERT_TRUE(wait_for(1));
  first.reset();  // the replica drains: the watch ends UNAVAILABLE
  client_.NewHero("while away", "w");
  TestServer second(database().url(), [port](server::ServerOptions& options) {
    options.listen = absl::StrCat("127.0.0.1:", port);
  });
  ASSERT_TRUE(second.WaitReady());
  EXPECT_TRUE(wait_for(2));
  watcher.join();
  EXPECT_EQ(names, (std::vector<std::string>{"before restart", "while away"}));
}

}  // namespace
}  // namespace protomodel::testing
