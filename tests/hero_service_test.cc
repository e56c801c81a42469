// heroes.v1.HeroService over a real server and database, rule by rule.
#include <algorithm>
#include <functional>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "harness/heroes_client.h"
#include "db/exec/request_ids.h"
#include "harness/test_server.h"

namespace protomodel::testing {
namespace {

using heroes::v1::Hero;
using heroes::v1::View;

// Runs `calls`, each on a thread of its own, so that they wait together in
// the server's queue and go in one batch: while a lock on the hero table
// holds, three `holder` calls (of the same method) take the two batches
// that may run at once (the first alone, the other two together), then
// `calls` queue behind them; then the lock goes.
void RunTogether(server::Server& server, const std::string& database_url,
                 const std::function<void()>& holder,
                 const std::vector<std::function<void()>>& calls) {
  pqxx::connection locker(database_url);
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE hero IN ACCESS EXCLUSIVE MODE");
  const absl::Time until = absl::Now() + absl::Seconds(10);
  auto wait_for = [&](auto done) {
    while (!done() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
  };
  std::vector<std::thread> threads;
  threads.emplace_back(holder);
  wait_for([&] { return server.statements_in_flight() == 1; });
  for (int i = 0; i < 2; ++i) threads.emplace_back(holder);
  wait_for([&] { return server.statements_in_flight() == 2; });
  for (const auto& call : calls) threads.emplace_back(call);
  const int queued = static_cast<int>(calls.size());
  wait_for([&] { return server.waiting_calls() == queued; });
  EXPECT_EQ(server.waiting_calls(), queued);
  lock.abort();
  for (std::thread& thread : threads) thread.join();
}

// Each outcome of creates run together, and the hero each returned, by index.
struct Created {
  std::vector<grpc::Status> statuses;
  std::vector<Hero> heroes;
};

// `count` creates run together (RunTogether, three creates holding the
// batches): create(i, &hero) makes the i-th.
Created CreateTogether(server::Server& server, const std::string& database_url,
                       HeroesClient& client, int count,
                       const std::function<grpc::Status(int, Hero*)>& create) {
  Created created{std::vector<grpc::Status>(count), std::vector<Hero>(count)};
  std::vector<std::function<void()>> calls;
  for (int i = 0; i < count; ++i) {
    calls.push_back([&, i] { created.statuses[i] = create(i, &created.heroes[i]); });
  }
  RunTogether(server, database_url, [&] { client.NewHero("holder", "holder"); }, calls);
  return created;
}

class HeroServiceTest : public ServiceTest {
 protected:
  // Statements of this suite's database waiting for a lock.
  static int LockWaiters(pqxx::transaction_base& tx) {
    return tx.exec("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                   "AND datname = current_database()")[0][0]
        .as<int>();
  }

  // While `lock` still holds the table: the server's statement is gone from
  // the database, which said so (within 5 s).
  void ExpectStatementCancelledWhileLocked(pqxx::work& lock) {
    const absl::Time until = absl::Now() + absl::Seconds(5);
    while (test_server().server().statements_in_flight() > 0 && absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_EQ(test_server().server().statements_in_flight(), 0);
    EXPECT_EQ(LockWaiters(lock), 0);
  }

  HeroesClient client_{channel()};
};

TEST_F(HeroServiceTest, CreateReturnsTheStoredHeroWithAnAssignedId) {
  Hero hero = client_.NewHero("Deadpond", "Dive Wilson");
  EXPECT_GT(hero.id(), 0);
  EXPECT_EQ(hero.name(), "Deadpond");
  EXPECT_EQ(hero.secret_name(), "Dive Wilson");
  EXPECT_FALSE(hero.has_age());
  EXPECT_FALSE(hero.has_team_id());
  Hero second = client_.NewHero("Spider-Boy", "Pedro Parqueador", 16);
  EXPECT_GT(second.id(), hero.id());
  EXPECT_EQ(second.age(), 16);
}

TEST_F(HeroServiceTest, CreateIgnoresServerAssignedAndOutputOnlyFields) {
  Hero hero;
  hero.set_id(999);
  hero.set_name("Rusty-Man");
  hero.set_secret_name("Tommy Sharp");
  hero.mutable_team()->set_name("ignored");
  Hero out;
  ASSERT_TRUE(client_.CreateHero(hero, &out).ok());
  EXPECT_NE(out.id(), 999);
  EXPECT_FALSE(out.has_team());
}

TEST_F(HeroServiceTest, CreateRequiresNameAndSecretName) {
  Hero hero;
  hero.set_secret_name("x");
  Hero out;
  grpc::Status status = client_.CreateHero(hero, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "hero.name is required");
  hero.set_name("x");
  hero.clear_secret_name();
  status = client_.CreateHero(hero, &out);
  EXPECT_EQ(status.error_message(), "hero.secret_name is required");
}

TEST_F(HeroServiceTest, CreateWithAMissingTeamIsAFailedPrecondition) {
  Hero hero;
  hero.set_name("Deadpond");
  hero.set_secret_name("Dive Wilson");
  hero.set_team_id(424242);
  Hero out;
  grpc::Status status = client_.CreateHero(hero, &out);
  EXPECT_CODE(status, FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(), "hero.team_id: team 424242 does not exist");
  EXPECT_EQ(database().Exec("SELECT count(*) FROM hero")[0][0].as<int>(), 0);
}

TEST_F(HeroServiceTest, CreateRejectsANonPositiveTeamId) {
  Hero hero;
  hero.set_name("Deadpond");
  hero.set_secret_name("Dive Wilson");
  hero.set_team_id(0);
  Hero out;
  grpc::Status status = client_.CreateHero(hero, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "hero.team_id: ids are integers > 0, not 0");
}

TEST_F(HeroServiceTest, CreateRejectsTextWithANulCharacter) {
  Hero hero;
  hero.set_name(std::string("Dead\0pond", 9));
  hero.set_secret_name("Dive Wilson");
  Hero out;
  grpc::Status status = client_.CreateHero(hero, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "hero.name: text must not contain NUL characters");
}

TEST_F(HeroServiceTest, CreateRejectsAMalformedRequestId) {
  heroes::v1::CreateHeroRequest request;
  request.mutable_hero()->set_name("a");
  request.mutable_hero()->set_secret_name("b");
  request.set_request_id("not-a-uuid");
  Hero out;
  grpc::Status status = client_.heroes().CreateHero(Context().get(), request, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("request_id"), std::string::npos);
}

TEST_F(HeroServiceTest, StoresTextExactly) {
  const std::string name = "Ünïcödé 🦸 \"quoted\" 'single' \\ back % _ *";
  Hero hero = client_.NewHero(name, std::string(10000, 'x'));
  Hero got;
  ASSERT_TRUE(client_.GetHero(hero.id(), View::BASIC, &got).ok());
  EXPECT_EQ(got.name(), name);
  EXPECT_EQ(got.secret_name(), std::string(10000, 'x'));
}

TEST_F(HeroServiceTest, GetReturnsTheHero) {
  Hero hero = client_.NewHero("Deadpond", "Dive Wilson", 30);
  Hero got;
  ASSERT_TRUE(client_.GetHero(hero.id(), View::VIEW_UNSPECIFIED, &got).ok());
  EXPECT_EQ(got.SerializeAsString(), hero.SerializeAsString());
}

TEST_F(HeroServiceTest, GetOfAMissingHeroIsNotFound) {
  Hero got;
  grpc::Status status = client_.GetHero(12345, View::BASIC, &got);
  EXPECT_CODE(status, NOT_FOUND);
  EXPECT_EQ(status.error_message(), "hero 12345 not found");
}

TEST_F(HeroServiceTest, GetRejectsNonPositiveIds) {
  Hero got;
  for (int64_t id : {0L, -1L}) {
    grpc::Status status = client_.GetHero(id, View::BASIC, &got);
    EXPECT_CODE(status, INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("id:"), std::string::npos);
  }
}

TEST_F(HeroServiceTest, GetRejectsAnUnknownView) {
  Hero hero = client_.NewHero("Deadpond", "Dive Wilson");
  Hero got;
  grpc::Status status = client_.GetHero(hero.id(), static_cast<View>(7), &got);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "view: unknown value 7");
}

TEST_F(HeroServiceTest, FullViewEmbedsTheTeam) {
  auto team = client_.NewTeam("Preventers");
  Hero hero = client_.NewHero("Rusty-Man", "Tommy Sharp", 48, team.id());
  Hero full;
  ASSERT_TRUE(client_.GetHero(hero.id(), View::FULL, &full).ok());
  ASSERT_TRUE(full.has_team());
  EXPECT_EQ(full.team().id(), team.id());
  EXPECT_EQ(full.team().name(), "Preventers");
  EXPECT_EQ(full.team().heroes_size(), 0);
  Hero basic;
  ASSERT_TRUE(client_.GetHero(hero.id(), View::BASIC, &basic).ok());
  EXPECT_FALSE(basic.has_team());
  EXPECT_EQ(basic.team_id(), team.id());
}

TEST_F(HeroServiceTest, FullViewOfAHeroWithoutTeamHasNoTeam) {
  Hero hero = client_.NewHero("Deadpond", "Dive Wilson");
  Hero full;
  ASSERT_TRUE(client_.GetHero(hero.id(), View::FULL, &full).ok());
  EXPECT_FALSE(full.has_team());
  EXPECT_EQ(full.name(), "Deadpond");
}

TEST_F(HeroServiceTest, UpdateChangesOnlyTheMaskedFields) {
  Hero hero = client_.NewHero("Spider-Boy", "Pedro Parqueador", 16);
  Hero change;
  change.set_id(hero.id());
  change.set_name("Spider-Youngster");
  change.set_secret_name("ignored, not in the mask");
  change.set_age(17);
  Hero out;
  ASSERT_TRUE(client_.UpdateHero(change, {"name", "age"}, &out).ok());
  EXPECT_EQ(out.name(), "Spider-Youngster");
  EXPECT_EQ(out.secret_name(), "Pedro Parqueador");
  EXPECT_EQ(out.age(), 17);
  Hero got;
  ASSERT_TRUE(client_.GetHero(hero.id(), View::BASIC, &got).ok());
  EXPECT_EQ(got.SerializeAsString(), out.SerializeAsString());
}

TEST_F(HeroServiceTest, UpdateWithAnEmptyMaskWritesTheFieldsThatAreSet) {
  auto team = client_.NewTeam("Preventers");
  Hero hero = client_.NewHero("Spider-Boy", "Pedro Parqueador", 16);
  Hero change;
  change.set_id(hero.id());
  change.set_team_id(team.id());
  Hero out;
  ASSERT_TRUE(client_.UpdateHero(change, {}, &out).ok());
  EXPECT_EQ(out.name(), "Spider-Boy");
  EXPECT_EQ(out.age(), 16);
  EXPECT_EQ(out.team_id(), team.id());
}

TEST_F(HeroServiceTest, UpdateClearsAnOptionalFieldNamedInTheMask) {
  auto team = client_.NewTeam("Preventers");
  Hero hero = client_.NewHero("Rusty-Man", "Tommy Sharp", 48, team.id());
  Hero change;
  change.set_id(hero.id());
  Hero out;
  ASSERT_TRUE(client_.UpdateHero(change, {"age", "team_id"}, &out).ok());
  EXPECT_FALSE(out.has_age());
  EXPECT_FALSE(out.has_team_id());
  EXPECT_EQ(database()
                .Exec("SELECT count(*) FROM hero WHERE age IS NULL AND team_id IS NULL")[0][0]
                .as<int>(),
            1);
}

TEST_F(HeroServiceTest, UpdateWithStarReplacesEveryWritableField) {
  Hero hero = client_.NewHero("Rusty-Man", "Tommy Sharp", 48);
  Hero change;
  change.set_id(hero.id());
  change.set_name("Rusty");
  change.set_secret_name("Tom");
  Hero out;
  ASSERT_TRUE(client_.UpdateHero(change, {"*"}, &out).ok());
  EXPECT_EQ(out.name(), "Rusty");
  EXPECT_FALSE(out.has_age());
}

TEST_F(HeroServiceTest, UpdateWithStarStillNeedsRequiredFields) {
  Hero hero = client_.NewHero("Rusty-Man", "Tommy Sharp", 48);
  Hero change;
  change.set_id(hero.id());
  change.set_name("Rusty");
  Hero out;
  grpc::Status status = client_.UpdateHero(change, {"*"}, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "hero.secret_name is required");
}

TEST_F(HeroServiceTest, UpdateCannotEmptyARequiredField) {
  Hero hero = client_.NewHero("Rusty-Man", "Tommy Sharp");
  Hero change;
  change.set_id(hero.id());
  Hero out;
  grpc::Status status = client_.UpdateHero(change, {"name"}, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "hero.name is required");
}

TEST_F(HeroServiceTest, UpdateRejectsOutputOnlyAndUnknownMaskPaths) {
  Hero hero = client_.NewHero("Rusty-Man", "Tommy Sharp");
  Hero change;
  change.set_id(hero.id());
  Hero out;
  grpc::Status status = client_.UpdateHero(change, {"id"}, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "update_mask: field 'id' is output only and cannot be updated");
  status = client_.UpdateHero(change, {"team"}, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "update_mask: field 'team' is output only");
  status = client_.UpdateHero(change, {"power"}, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "update_mask: unknown field 'power' (hero has no such field)");
  status = client_.UpdateHero(change, {"team.name"}, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  status = client_.UpdateHero(change, {"*", "name"}, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
}

TEST_F(HeroServiceTest, UpdateOfAMissingHeroIsNotFound) {
  Hero change;
  change.set_id(777);
  change.set_name("x");
  Hero out;
  grpc::Status status = client_.UpdateHero(change, {"name"}, &out);
  EXPECT_CODE(status, NOT_FOUND);
  EXPECT_EQ(status.error_message(), "hero 777 not found");
}

TEST_F(HeroServiceTest, UpdateNeedsAValidId) {
  Hero change;
  change.set_name("x");
  Hero out;
  grpc::Status status = client_.UpdateHero(change, {"name"}, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "hero.id: ids are integers > 0, not 0");
}

TEST_F(HeroServiceTest, UpdateToAMissingTeamIsAFailedPreconditionAndWritesNothing) {
  Hero hero = client_.NewHero("Rusty-Man", "Tommy Sharp");
  Hero change;
  change.set_id(hero.id());
  change.set_name("changed");
  change.set_team_id(5555);
  Hero out;
  grpc::Status status = client_.UpdateHero(change, {"name", "team_id"}, &out);
  EXPECT_CODE(status, FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(), "hero.team_id: team 5555 does not exist");
  Hero got;
  ASSERT_TRUE(client_.GetHero(hero.id(), View::BASIC, &got).ok());
  EXPECT_EQ(got.name(), "Rusty-Man");
}

TEST_F(HeroServiceTest, ErrorsComeInTheContractsOrder) {
  Hero change;
  change.set_id(888);
  change.set_team_id(5555);
  Hero out;
  // A bad mask wins over the missing hero.
  EXPECT_CODE(client_.UpdateHero(change, {"power"}, &out), INVALID_ARGUMENT);
  // The missing hero wins over the missing team.
  EXPECT_CODE(client_.UpdateHero(change, {"team_id"}, &out), NOT_FOUND);
}

TEST_F(HeroServiceTest, DeleteRemovesTheHero) {
  Hero hero = client_.NewHero("Deadpond", "Dive Wilson");
  ASSERT_TRUE(client_.DeleteHero(hero.id()).ok());
  Hero got;
  EXPECT_CODE(client_.GetHero(hero.id(), View::BASIC, &got), NOT_FOUND);
  grpc::Status again = client_.DeleteHero(hero.id());
  EXPECT_CODE(again, NOT_FOUND);
  EXPECT_EQ(again.error_message(), "hero " + std::to_string(hero.id()) + " not found");
}

TEST_F(HeroServiceTest, DeleteRejectsNonPositiveIds) {
  EXPECT_CODE(client_.DeleteHero(0), INVALID_ARGUMENT);
}

TEST_F(HeroServiceTest, ADeadlinePassingInTheDatabaseCancelsTheQuery) {
  Hero hero = client_.NewHero("Deadpond", "Dive Wilson");
  pqxx::connection locker(database().url());
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE hero IN ACCESS EXCLUSIVE MODE");

  heroes::v1::GetHeroRequest request;
  request.set_id(hero.id());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  Hero out;
  grpc::Status status = client_.heroes().GetHero(&context, request, &out);
  EXPECT_CODE(status, DEADLINE_EXCEEDED);
  ExpectStatementCancelledWhileLocked(lock);
}

TEST_F(HeroServiceTest, AClientCancellingCancelsItsQueryAndFreesTheConnection) {
  Hero hero = client_.NewHero("Deadpond", "Dive Wilson");
  pqxx::connection locker(database().url());
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE hero IN ACCESS EXCLUSIVE MODE");

  heroes::v1::GetHeroRequest request;
  request.set_id(hero.id());
  grpc::ClientContext context;  // no deadline: only the cancel ends the call
  std::thread canceller([&] {
    // Cancel once the server's statement waits for the lock.
    const absl::Time until = absl::Now() + absl::Seconds(10);
    while (absl::Now() < until) {
      pqxx::connection watcher(database().url());
      pqxx::nontransaction tx(watcher);
      if (LockWaiters(tx) > 0) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    context.TryCancel();
  });
  Hero out;
  const absl::Time start = absl::Now();
  grpc::Status status = client_.heroes().GetHero(&context, request, &out);
  canceller.join();
  EXPECT_CODE(status, CANCELLED);
  // Long before the 30 s default deadline.
  ExpectStatementCancelledWhileLocked(lock);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

// Gets that wait together are read in one statement; each caller still gets
// its own hero, or NOT_FOUND for its own id, repeated ids included.
TEST_F(HeroServiceTest, GetsWaitingTogetherEachReceiveTheirOwnHero) {
  std::vector<Hero> heroes;
  for (int i = 0; i < 6; ++i) {
    heroes.push_back(client_.NewHero(absl::StrCat("hero-", i), absl::StrCat("secret-", i), i));
  }
  // Ids asked for: every hero, some twice, and two that do not exist.
  std::vector<int64_t> ids;
  for (const Hero& hero : heroes) ids.push_back(hero.id());
  ids.push_back(heroes[2].id());
  ids.push_back(heroes[4].id());
  ids.push_back(heroes.back().id() + 1000);
  ids.push_back(heroes.back().id() + 1001);
  std::vector<grpc::Status> statuses(ids.size());
  std::vector<Hero> got(ids.size());
  std::vector<std::function<void()>> calls;
  for (size_t i = 0; i < ids.size(); ++i) {
    calls.push_back([&, i] {
      statuses[i] = HeroesClient(channel()).GetHero(ids[i], View::BASIC, &got[i]);
    });
  }
  RunTogether(
      test_server().server(), database().url(), [&] {
        Hero out;
        (void)HeroesClient(channel()).GetHero(heroes[0].id(), View::BASIC, &out);
      },
      calls);

  for (size_t i = 0; i < ids.size(); ++i) {
    if (i >= ids.size() - 2) {
      EXPECT_CODE(statuses[i], NOT_FOUND);
      EXPECT_EQ(statuses[i].error_message(), absl::StrCat("hero ", ids[i], " not found"));
      continue;
    }
    ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
    const Hero& want = *std::find_if(heroes.begin(), heroes.end(),
                                     [&](const Hero& h) { return h.id() == ids[i]; });
    EXPECT_EQ(got[i].SerializeAsString(), want.SerializeAsString()) << i;
  }
}

// Creates that wait together are inserted in one statement; each caller gets
// the row made from its own request.
TEST_F(HeroServiceTest, CreatesWaitingTogetherEachReceiveTheirOwnHero) {
  constexpr int kCreates = 8;
  const auto [statuses, made] = CreateTogether(
      test_server().server(), database().url(), client_, kCreates, [&](int i, Hero* out) {
        heroes::v1::CreateHeroRequest request;
        request.mutable_hero()->set_name(absl::StrCat("hero-", i));
        request.mutable_hero()->set_secret_name(absl::StrCat("secret-", i));
        if (i % 2 == 0) request.mutable_hero()->set_age(i);
        if (i % 3 == 0) {
          request.set_request_id(absl::StrCat("00000000-0000-4000-8000-00000000000", i));
        }
        grpc::ClientContext context;
        return client_.heroes().CreateHero(&context, request, out);
      });
  std::set<int64_t> ids;
  for (int i = 0; i < kCreates; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
    EXPECT_EQ(made[i].name(), absl::StrCat("hero-", i));
    EXPECT_EQ(made[i].secret_name(), absl::StrCat("secret-", i));
    EXPECT_EQ(made[i].has_age(), i % 2 == 0);
    if (i % 2 == 0) {
      EXPECT_EQ(made[i].age(), i);
    }
    ids.insert(made[i].id());
    Hero stored;
    ASSERT_TRUE(client_.GetHero(made[i].id(), View::BASIC, &stored).ok());
    EXPECT_EQ(stored.SerializeAsString(), made[i].SerializeAsString());
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kCreates));
  // The request_ids were recorded with their rows: a retry returns the row.
  heroes::v1::CreateHeroRequest retry;
  retry.mutable_hero()->set_name("other");
  retry.mutable_hero()->set_secret_name("other");
  retry.set_request_id("00000000-0000-4000-8000-000000000003");
  grpc::ClientContext context;
  Hero again;
  ASSERT_TRUE(client_.heroes().CreateHero(&context, retry, &again).ok());
  EXPECT_EQ(again.SerializeAsString(), made[3].SerializeAsString());
  EXPECT_EQ(database().Exec("SELECT count(*) FROM hero")[0][0].as<int>(), kCreates + 3);
}

// A create that fails in a batch fails alone, with its own reason; the
// others are made.
TEST_F(HeroServiceTest, ABadCreateInABatchFailsAloneWithItsOwnReason) {
  auto team = client_.NewTeam("Preventers");
  constexpr int kCreates = 6;
  const auto [statuses, made] = CreateTogether(
      test_server().server(), database().url(), client_, kCreates, [&](int i, Hero* out) {
        Hero hero;
        hero.set_name(absl::StrCat("hero-", i));
        hero.set_secret_name("s");
        hero.set_team_id(i == 4 ? team.id() + 100 : team.id());
        return client_.CreateHero(hero, out);
      });
  for (int i = 0; i < kCreates; ++i) {
    if (i == 4) {
      EXPECT_CODE(statuses[i], FAILED_PRECONDITION);
      EXPECT_EQ(statuses[i].error_message(),
                absl::StrCat("hero.team_id: team ", team.id() + 100, " does not exist"));
      continue;
    }
    ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
    EXPECT_EQ(made[i].name(), absl::StrCat("hero-", i));
    EXPECT_EQ(made[i].team_id(), team.id());
  }
  EXPECT_EQ(database().Exec("SELECT count(*) FROM hero")[0][0].as<int>(), kCreates - 1 + 3);
}

// One statement reads for several callers: one caller's deadline passing
// fails that caller alone, and the statement goes on for the others.
TEST_F(HeroServiceTest, OneDeadlineInABatchedReadFailsOnlyItsCall) {
  Hero hero = client_.NewHero("Deadpond", "Dive Wilson");
  pqxx::connection locker(database().url());
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE hero IN ACCESS EXCLUSIVE MODE");
  auto call = [&](grpc::ClientContext* context, Hero* out) {
    heroes::v1::GetHeroRequest request;
    request.set_id(hero.id());
    return client_.heroes().GetHero(context, request, out);
  };
  const absl::Time until = absl::Now() + absl::Seconds(10);
  auto wait_for = [&](auto done) {
    while (!done() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
  };

  // Three reads hold the two batches that may run at once (the first alone,
  // the other two together), waiting for the lock.
  grpc::ClientContext holders[3];
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      Hero out;
      (void)call(&holders[i], &out);
    });
    if (i != 1) {
      wait_for([&] { return test_server().server().statements_in_flight() == (i == 0 ? 1 : 2); });
    }
  }
  // Three more queue together: one with a short deadline.
  grpc::ClientContext short_lived, patient[2];
  short_lived.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  grpc::Status short_status, patient_status[2];
  Hero short_out, patient_out[2];
  threads.emplace_back([&] { short_status = call(&short_lived, &short_out); });
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] { patient_status[i] = call(&patient[i], &patient_out[i]); });
  }
  wait_for([&] { return test_server().server().waiting_calls() == 3; });
  EXPECT_EQ(test_server().server().waiting_calls(), 3);
  // The holders leave; the three are read together, waiting for the lock.
  for (grpc::ClientContext& holder : holders) holder.TryCancel();
  wait_for([&] { return test_server().server().waiting_calls() == 0; });
  threads[3].join();
  EXPECT_CODE(short_status, DEADLINE_EXCEEDED);
  EXPECT_EQ(LockWaiters(lock), 1);  // the shared statement still waits
  lock.abort();
  for (std::thread& thread : threads) {
    if (thread.joinable()) thread.join();
  }
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(patient_status[i].ok()) << patient_status[i].error_message();
    EXPECT_EQ(patient_out[i].name(), "Deadpond");
  }
}

TEST(HeroServiceDownTest, AnUnreachableDatabaseIsUnavailable) {
  TestServer server("postgresql://postgres@127.0.0.1:1/none");
  HeroesClient client(server.NewChannel());
  Hero hero;
  hero.set_name("Deadpond");
  hero.set_secret_name("Dive Wilson");
  Hero out;
  grpc::Status status = client.CreateHero(hero, &out);
  EXPECT_CODE(status, UNAVAILABLE);
  EXPECT_NE(status.error_message().find("database"), std::string::npos);
  EXPECT_CODE(client.GetHero(1, View::BASIC, &out), UNAVAILABLE);
  heroes::v1::ListHeroesResponse list;
  EXPECT_CODE(client.ListHeroes({}, &list), UNAVAILABLE);
  // Validation still comes first.
  EXPECT_CODE(client.GetHero(0, View::BASIC, &out), INVALID_ARGUMENT);
}

}  // namespace
}  // namespace protomodel::testing

namespace protomodel::testing {
namespace {

using heroes::v1::CreateHeroRequest;
using heroes::v1::Hero;

class RequestIdTest : public ServiceTest {
 protected:
  grpc::Status Create(const std::string& request_id, const std::string& name, Hero* out) {
    CreateHeroRequest request;
    request.mutable_hero()->set_name(name);
    request.mutable_hero()->set_secret_name("s");
    request.set_request_id(request_id);
    return client_.heroes().CreateHero(Context().get(), request, out);
  }
  int Heroes() { return database().Exec("SELECT count(*) FROM hero")[0][0].as<int>(); }

  HeroesClient client_{channel()};
};

constexpr char kRequestId[] = "6f1c2f0e-3b7a-4c1e-9a53-2f0d1c9e8b7a";

TEST_F(RequestIdTest, ARetryReturnsTheFirstHeroAndCreatesNothing) {
  Hero first, retry;
  ASSERT_TRUE(Create(kRequestId, "Deadpond", &first).ok());
  ASSERT_TRUE(Create(kRequestId, "Deadpond", &retry).ok());
  EXPECT_EQ(retry.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(Heroes(), 1);
  // The same id in upper case is the same request.
  std::string upper = kRequestId;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  ASSERT_TRUE(Create(upper, "Deadpond", &retry).ok());
  EXPECT_EQ(retry.id(), first.id());
  EXPECT_EQ(Heroes(), 1);
}

TEST_F(RequestIdTest, DifferentRequestIdsCreateDifferentHeroes) {
  Hero a, b, c;
  ASSERT_TRUE(Create("00000000-0000-4000-8000-000000000001", "A", &a).ok());
  ASSERT_TRUE(Create("00000000-0000-4000-8000-000000000002", "A", &b).ok());
  ASSERT_TRUE(Create("", "A", &c).ok());
  EXPECT_NE(a.id(), b.id());
  EXPECT_EQ(Heroes(), 3);
}

TEST_F(RequestIdTest, ConcurrentRetriesCreateOneHero) {
  constexpr int kCallers = 8;
  std::vector<Hero> results(kCallers);
  std::vector<grpc::Status> statuses(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      HeroesClient client(test_server().NewChannel());
      CreateHeroRequest request;
      request.mutable_hero()->set_name("Deadpond");
      request.mutable_hero()->set_secret_name("s");
      request.set_request_id(kRequestId);
      statuses[i] = client.heroes().CreateHero(Context().get(), request, &results[i]);
    });
  }
  for (auto& caller : callers) caller.join();
  for (int i = 0; i < kCallers; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    EXPECT_EQ(results[i].id(), results[0].id());
  }
  EXPECT_EQ(Heroes(), 1);
}

// The same batch sent by several callers at once (a client's retries while
// the first answer was lost): one set of heroes, the same to each.
TEST_F(RequestIdTest, ConcurrentRetriesOfABatchCreateOneSetOfHeroes) {
  constexpr int kCallers = 4;
  constexpr int kHeroes = 50;
  heroes::v1::BatchCreateHeroesRequest request;
  for (int i = 0; i < kHeroes; ++i) {
    CreateHeroRequest* entry = request.add_requests();
    entry->mutable_hero()->set_name(absl::StrCat("hero-", i));
    entry->mutable_hero()->set_secret_name("s");
    entry->set_request_id(absl::StrFormat("5b0c2a7e-1f3d-4e8a-9c6b-%012d", i));
  }
  std::vector<heroes::v1::BatchCreateHeroesResponse> results(kCallers);
  std::vector<grpc::Status> statuses(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      HeroesClient client(test_server().NewChannel());
      statuses[i] = client.heroes().BatchCreateHeroes(Context().get(), request, &results[i]);
    });
  }
  for (auto& caller : callers) caller.join();
  for (int i = 0; i < kCallers; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    ASSERT_EQ(results[i].heroes_size(), kHeroes);
    for (int h = 0; h < kHeroes; ++h) {
      EXPECT_EQ(results[i].heroes(h).id(), results[0].heroes(h).id());
      EXPECT_EQ(results[i].heroes(h).name(), absl::StrCat("hero-", h));
    }
  }
  EXPECT_EQ(Heroes(), kHeroes);
}

// Retries of one create that land in the same batch make one hero.
TEST_F(RequestIdTest, RetriesInOneBatchCreateOneHero) {
  constexpr int kCallers = 4;
  const auto [statuses, results] =
      CreateTogether(test_server().server(), database().url(), client_, kCallers,
                     [&](int, Hero* out) { return Create(kRequestId, "Deadpond", out); });
  for (int i = 0; i < kCallers; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    EXPECT_EQ(results[i].SerializeAsString(), results[0].SerializeAsString());
  }
  EXPECT_EQ(Heroes(), 1 + 3);
}

TEST_F(RequestIdTest, ARequestIdBelongsToOneKindOfResource) {
  Hero hero;
  ASSERT_TRUE(Create(kRequestId, "Deadpond", &hero).ok());
  heroes::v1::CreateTeamRequest request;
  request.mutable_team()->set_name("Preventers");
  request.set_request_id(kRequestId);
  heroes::v1::Team team;
  ASSERT_TRUE(client_.teams().CreateTeam(Context().get(), request, &team).ok());
  EXPECT_EQ(team.name(), "Preventers");
}

TEST_F(RequestIdTest, AFailedCreateRecordsNoRequestId) {
  heroes::v1::CreateHeroRequest request;
  request.mutable_hero()->set_name("Deadpond");
  request.mutable_hero()->set_secret_name("Dive Wilson");
  request.mutable_hero()->set_team_id(424242);
  request.set_request_id(kRequestId);
  Hero hero;
  EXPECT_CODE(client_.heroes().CreateHero(Context().get(), request, &hero), FAILED_PRECONDITION);
  request.mutable_hero()->clear_team_id();
  const grpc::Status status = client_.heroes().CreateHero(Context().get(), request, &hero);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(hero.has_team_id());
  EXPECT_EQ(Heroes(), 1);
}

TEST_F(RequestIdTest, IsForgottenAfterItsRetention) {
  Hero first, later;
  ASSERT_TRUE(Create(kRequestId, "Deadpond", &first).ok());
  database().Exec(
      "UPDATE protomodel_request_ids SET created_at = now() - interval '2 hours'");
  pqxx::connection conn(database().url());
  EXPECT_EQ(*db::DeleteExpiredRequestIds(conn, absl::Hours(3)), 0);
  EXPECT_EQ(*db::DeleteExpiredRequestIds(conn, absl::Hours(1)), 1);
  ASSERT_TRUE(Create(kRequestId, "Deadpond", &later).ok());
  EXPECT_NE(later.id(), first.id());
}

TEST_F(HeroServiceTest, BatchGetInTheFullViewBringsEachHerosTeamAndEachTeamsHeroes) {
  const heroes::v1::Team preventers = client_.NewTeam("Preventers");
  const heroes::v1::Team z_force = client_.NewTeam("Z-Force");
  const Hero a = client_.NewHero("Deadpond", "Dive Wilson", std::nullopt, preventers.id());
  const Hero b = client_.NewHero("Rusty-Man", "Tommy Sharp", 48, z_force.id());
  const Hero c = client_.NewHero("Spider-Boy", "Pedro Parqueador", std::nullopt, preventers.id());
  const Hero alone = client_.NewHero("Tarantula", "Natalia Roman-on");

  heroes::v1::BatchGetHeroesRequest request;
  for (const Hero* hero : {&b, &alone, &a}) request.add_ids(hero->id());
  request.set_view(heroes::v1::FULL);
  heroes::v1::BatchGetHeroesResponse response;
  ASSERT_CODE(client_.heroes().BatchGetHeroes(Context().get(), request, &response), OK);
  ASSERT_EQ(response.heroes_size(), 3);
  EXPECT_EQ(response.heroes(0).team().name(), "Z-Force");
  EXPECT_FALSE(response.heroes(1).has_team());
  EXPECT_EQ(response.heroes(2).team().name(), "Preventers");

  heroes::v1::BatchGetTeamsRequest teams;
  teams.add_ids(preventers.id());
  teams.add_ids(z_force.id());
  teams.add_ids(preventers.id());
  teams.set_view(heroes::v1::FULL);
  heroes::v1::BatchGetTeamsResponse got;
  ASSERT_CODE(client_.teams().BatchGetTeams(Context().get(), teams, &got), OK);
  ASSERT_EQ(got.teams_size(), 3);
  for (const int i : {0, 2}) {
    ASSERT_EQ(got.teams(i).heroes_size(), 2);
    EXPECT_EQ(got.teams(i).heroes(0).id(), a.id());
    EXPECT_EQ(got.teams(i).heroes(1).id(), c.id());
  }
  ASSERT_EQ(got.teams(1).heroes_size(), 1);
  EXPECT_EQ(got.teams(1).heroes(0).name(), "Rusty-Man");
}

TEST_F(HeroServiceTest, ABatchCreateNamingAMissingTeamNamesTheEntryAndWritesNothing) {
  const heroes::v1::Team team = client_.NewTeam("Preventers");
  heroes::v1::BatchCreateHeroesRequest request;
  for (int i = 0; i < 5; ++i) {
    Hero* hero = request.add_requests()->mutable_hero();
    hero->set_name(absl::StrCat("hero-", i));
    hero->set_secret_name("s");
    hero->set_team_id(i == 3 ? team.id() + 100 : team.id());
  }
  heroes::v1::BatchCreateHeroesResponse response;
  const grpc::Status status = client_.heroes().BatchCreateHeroes(Context().get(), request, &response);
  EXPECT_CODE(status, FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(),
            absl::StrCat("requests[3].hero.team_id: team ", team.id() + 100, " does not exist"));
  EXPECT_EQ(database().Exec("SELECT count(*) FROM hero")[0][0].as<int>(), 0);
}

}  // namespace
}  // namespace protomodel::testing
