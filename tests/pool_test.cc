// The connection pool against a real PostgreSQL.
#include "db/exec/pool.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/nontransaction>

#include "absl/time/clock.h"
#include "db/exec/sql_status.h"
#include "db/sql/values.h"
#include "harness/postgres.h"

namespace protomodel::db {
namespace {

using protomodel::testing::TestDatabase;

class PoolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { database_ = new TestDatabase(); }
  static void TearDownTestSuite() { delete database_; }

  PoolOptions Options(int size) {
    PoolOptions options;
    options.url = database_->url();
    options.size = size;
    return options;
  }
  static absl::Time Soon() { return absl::Now() + absl::Seconds(5); }

  static TestDatabase* database_;
};
TestDatabase* PoolTest::database_ = nullptr;

std::string QueryOne(Connection& conn, const Statement& statement, Params params) {
  pqxx::nontransaction tx(conn.raw());
  return conn.Exec(tx, statement, std::move(params))[0][0].c_str();
}

TEST_F(PoolTest, RunsNamedAndUnnamedStatements) {
  Pool pool(Options(2));
  auto lease = pool.Acquire(Soon());
  ASSERT_TRUE(lease.ok()) << lease.status();
  const Statement named{"add", "SELECT $1::int + 1"};
  for (int i = 0; i < 3; ++i) {
    Params params;
    params.AddText(std::to_string(i));
    EXPECT_EQ(QueryOne(**lease, named, std::move(params)), std::to_string(i + 1));
  }
  Params params;
  params.AddNull();
  EXPECT_EQ(QueryOne(**lease, Statement{"", "SELECT coalesce($1::text, 'null')"},
                     std::move(params)),
            "null");
}

TEST_F(PoolTest, SendsBytesAsBinaryAndReadsThemBackExactly) {
  Pool pool(Options(1));
  auto lease = pool.Acquire(Soon());
  ASSERT_TRUE(lease.ok());
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  bytes += std::string(3, '\0');
  Params params;
  params.AddBinary(bytes);
  pqxx::nontransaction tx((*lease)->raw());
  pqxx::result r = (*lease)->Exec(
      tx, Statement{"", "SELECT $1::bytea, octet_length($1::bytea)"}, std::move(params));
  EXPECT_EQ(r[0][1].as<int>(), 259);
  std::string decoded;
  ASSERT_TRUE(DecodeByteaHex(r[0][0].c_str(), &decoded));
  EXPECT_EQ(decoded, bytes);
}

TEST_F(PoolTest, WaitsNoLongerThanTheDeadline) {
  Pool pool(Options(1));
  auto held = pool.Acquire(Soon());
  ASSERT_TRUE(held.ok());
  const absl::Time start = absl::Now();
  auto second = pool.Acquire(absl::Now() + absl::Milliseconds(200));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
}

TEST_F(PoolTest, HandsAReleasedConnectionToAWaiter) {
  Pool pool(Options(1));
  auto held = std::make_optional(*pool.Acquire(Soon()));
  std::thread release([&] {
    absl::SleepFor(absl::Milliseconds(100));
    held.reset();
  });
  auto next = pool.Acquire(Soon());
  release.join();
  EXPECT_TRUE(next.ok()) << next.status();
}

TEST_F(PoolTest, FailsAtOnceWhenTheWaitQueueIsFull) {
  PoolOptions options = Options(1);
  options.max_waiting = 1;
  Pool pool(options);
  auto held = pool.Acquire(Soon());
  ASSERT_TRUE(held.ok());
  std::thread waiter([&] { (void)pool.Acquire(absl::Now() + absl::Seconds(1)); });
  while (pool.Stats().waiting == 0) absl::SleepFor(absl::Milliseconds(5));
  auto refused = pool.Acquire(Soon());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("overloaded"), absl::string_view::npos);
  waiter.join();
}

TEST_F(PoolTest, CountsConnectionsInUse) {
  Pool pool(Options(3));
  {
    auto a = pool.Acquire(Soon());
    auto b = pool.Acquire(Soon());
    EXPECT_EQ(pool.Stats().in_use, 2);
  }
  EXPECT_EQ(pool.Stats().in_use, 0);
  EXPECT_EQ(pool.Stats().idle, 2);
}

TEST_F(PoolTest, ReportsAnUnreachableDatabaseAsUnavailable) {
  PoolOptions options;
  options.url = "postgresql://postgres@127.0.0.1:1/postgres";
  Pool pool(options);
  auto lease = pool.Acquire(Soon());
  EXPECT_EQ(lease.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(pool.Stats().in_use, 0);
}

TEST_F(PoolTest, NeverHandsOutAConnectionTheServerClosedWhileIdle) {
  Pool pool(Options(1));
  int pid = 0;
  {
    auto lease = pool.Acquire(Soon());
    ASSERT_TRUE(lease.ok());
    pqxx::nontransaction tx((*lease)->raw());
    pid = tx.exec("SELECT pg_backend_pid()")[0][0].as<int>();
  }
  const std::string gone = std::to_string(pid);
  database_->Exec("SELECT pg_terminate_backend(" + gone + ")");
  while (database_->Exec("SELECT count(*) FROM pg_stat_activity WHERE pid = " + gone)[0][0]
             .as<int>() != 0) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  auto fresh = pool.Acquire(Soon());
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  pqxx::nontransaction tx((*fresh)->raw());
  EXPECT_NE(tx.exec("SELECT pg_backend_pid()")[0][0].as<int>(), pid);
  EXPECT_EQ(pool.Stats().in_use, 1);
}

TEST_F(PoolTest, BacksOffReconnectingToAnUnreachableDatabaseUpToTheCap) {
  PoolOptions options;
  options.url = "postgresql://postgres@127.0.0.1:1/postgres";
  options.max_reconnect_backoff = absl::Milliseconds(300);
  Pool pool(options);
  auto first = pool.Acquire(Soon());
  EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable);
  // Within the backoff, calls fail at once without trying again, saying so.
  auto second = pool.Acquire(Soon());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("retrying within"), absl::string_view::npos)
      << second.status();
  // However many attempts failed, the next comes within the cap.
  for (int i = 0; i < 8; ++i) {
    absl::SleepFor(absl::Milliseconds(310));
    auto attempt = pool.Acquire(Soon());
    EXPECT_EQ(attempt.status().message().find("retrying within"), absl::string_view::npos)
        << "attempt " << i << ": " << attempt.status();
  }
  EXPECT_EQ(pool.Stats().in_use, 0);
}

TEST_F(PoolTest, ACallerCancellingCancelsItsStatement) {
  Pool pool(Options(1));
  std::atomic<bool> cancelled{false};
  const CallLimit limit(absl::Now() + absl::Seconds(30), [&] { return cancelled.load(); });
  std::thread caller_leaves([&] {
    absl::SleepFor(absl::Milliseconds(200));
    cancelled = true;
  });
  const absl::Time start = absl::Now();
  std::string state;
  {
    auto lease = pool.Acquire(limit);
    ASSERT_TRUE(lease.ok());
    try {
      pqxx::nontransaction tx((*lease)->raw());
      tx.exec("SELECT pg_sleep(10)");
    } catch (const std::exception& e) {
      state = SqlState(e);
    }
  }
  caller_leaves.join();
  EXPECT_EQ(state, "57014");
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_EQ(pool.Stats().in_use, 0);
}

TEST_F(PoolTest, ACallerCancellingWhileWaitingStopsWaiting) {
  Pool pool(Options(1));
  auto held = pool.Acquire(Soon());
  ASSERT_TRUE(held.ok());
  std::atomic<bool> cancelled{false};
  std::thread caller_leaves([&] {
    absl::SleepFor(absl::Milliseconds(100));
    cancelled = true;
  });
  const absl::Time start = absl::Now();
  auto waiter = pool.Acquire(
      CallLimit(absl::Now() + absl::Seconds(30), [&] { return cancelled.load(); }));
  caller_leaves.join();
  EXPECT_EQ(waiter.status().code(), absl::StatusCode::kCancelled) << waiter.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(pool.Stats().waiting, 0);
}

TEST_F(PoolTest, AStatementRunningPastTheDeadlineIsCancelled) {
  Pool pool(Options(1));
  const absl::Time start = absl::Now();
  std::string state;
  {
    auto lease = pool.Acquire(absl::Now() + absl::Milliseconds(200));
    ASSERT_TRUE(lease.ok());
    try {
      pqxx::nontransaction tx((*lease)->raw());
      tx.exec("SELECT pg_sleep(10)");
    } catch (const std::exception& e) {
      state = SqlState(e);
    }
  }
  EXPECT_EQ(state, "57014");  // query_canceled
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  // The cancelled connection is dropped, not reused.
  EXPECT_EQ(pool.Stats().in_use, 0);
  EXPECT_EQ(pool.Stats().idle, 0);
  auto next = pool.Acquire(Soon());
  ASSERT_TRUE(next.ok());
  pqxx::nontransaction tx((*next)->raw());
  EXPECT_EQ(tx.exec("SELECT 1")[0][0].as<int>(), 1);
}

TEST_F(PoolTest, SetsTheStatementTimeoutAtConnect) {
  PoolOptions options = Options(1);
  options.max_statement_seconds = 7;
  Pool pool(options);
  auto lease = pool.Acquire(Soon());
  ASSERT_TRUE(lease.ok()) << lease.status();
  pqxx::nontransaction tx((*lease)->raw());
  EXPECT_EQ(tx.exec("SHOW statement_timeout")[0][0].as<std::string>(), "7s");
}

TEST(ConnectionStringTest, AddsAConnectTimeout) {
  EXPECT_EQ(ConnectionString("postgresql://u@h/db", 5),
            "postgresql://u@h/db?connect_timeout=5");
  EXPECT_EQ(ConnectionString("postgresql://u@h/db?sslmode=disable", 5),
            "postgresql://u@h/db?sslmode=disable&connect_timeout=5");
  EXPECT_EQ(ConnectionString("host=h dbname=d", 3), "host=h dbname=d connect_timeout=3");
  EXPECT_EQ(ConnectionString("host=h connect_timeout=9", 3), "host=h connect_timeout=9");
  EXPECT_EQ(ConnectionString("postgresql://u@h/db", 5, 2),
            "postgresql://u@h/db?connect_timeout=5&options=-c%20statement_timeout%3D2000");
  EXPECT_EQ(ConnectionString("host=h", 5, 2),
            "host=h connect_timeout=5 options='-c statement_timeout=2000'");
}

TEST(ConnectionStringTest, RedactsPasswords) {
  EXPECT_EQ(RedactUrl("postgresql://app:s3cret@db:5432/x"), "postgresql://app:***@db:5432/x");
  EXPECT_EQ(RedactUrl("host=db password=s3cret user=app"), "host=db password=*** user=app");
  EXPECT_EQ(RedactUrl("postgresql://app@db/x"), "postgresql://app@db/x");
  EXPECT_EQ(WithoutPassword("postgresql://app:s3%zz@db/x", "invalid token: \"s3%zz\""),
            "invalid token: \"***\"");
  EXPECT_EQ(WithoutPassword("host=db password=s3cret", "s3cret, s3cret"), "***, ***");
  EXPECT_EQ(WithoutPassword("postgresql://app@db/x", "no password"), "no password");
  // The password, not the key that ends in password=.
  EXPECT_EQ(RedactUrl("host=db sslpassword=k3y password=s3cret"),
            "host=db sslpassword=k3y password=***");
  EXPECT_EQ(RedactUrl("postgresql://db/x?sslpassword=k3y&password=s3cret"),
            "postgresql://db/x?sslpassword=k3y&password=***");
}

TEST(ConnectTest, ErrorsNeverQuoteThePassword) {
  // libpq quotes the URL token it cannot parse: here the password.
  for (const std::string url : {"postgresql://app:s3cr%zzet@127.0.0.1:1/x",
                                "postgresql://127.0.0.1:1/x?password=s3cr%zzet"}) {
    absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = Connect(url, 1);
    ASSERT_FALSE(conn.ok()) << url;
    EXPECT_EQ(conn.status().message().find("s3cr"), absl::string_view::npos)
        << conn.status();
  }
}

}  // namespace
}  // namespace protomodel::db
