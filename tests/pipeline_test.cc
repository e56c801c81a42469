// The pipeline the calls' statements go through (db/exec/pipeline.h),
// against a real PostgreSQL.
#include "db/exec/pipeline.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "harness/postgres.h"

namespace protomodel::db {
namespace {

using protomodel::testing::TestDatabase;

class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { database_ = new TestDatabase(); }
  static void TearDownTestSuite() { delete database_; }

  static PipelineOptions Options(int connections) {
    PipelineOptions options;
    options.url = database_->url();
    options.connections = connections;
    return options;
  }
  static absl::Time Soon() { return absl::Now() + absl::Seconds(10); }
  static Params Text(const std::string& value) {
    Params params;
    params.AddText(value);
    return params;
  }
  static std::string First(const absl::StatusOr<Result>& result) {
    if (!result.ok() || result->empty()) return "";
    const Cell cell = result->cell(0, 0);
    return std::string(cell.data, cell.size);
  }

  static TestDatabase* database_;
};
TestDatabase* PipelineTest::database_ = nullptr;

const Statement kAddOne{"add_one", "SELECT $1::int + 1"};

TEST_F(PipelineTest, CarriesManyStatementsInFlightFromManyThreads) {
  Pipeline pipeline(Options(2));
  constexpr int kThreads = 4;
  constexpr int kEach = 200;
  absl::Mutex mu;
  int answered = 0;
  int wrong = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const int n = t * kEach + i;
        const bool named = i % 2 == 0;
        pipeline.Run(named ? kAddOne : Statement{"", kAddOne.sql}, Text(absl::StrCat(n)), Soon(),
                     {"test", StatementKind::kRead, "adding"},
                     [&, n](absl::StatusOr<Result> result) {
                       absl::MutexLock lock(&mu);
                       ++answered;
                       if (First(result) != absl::StrCat(n + 1)) ++wrong;
                     });
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  absl::MutexLock lock(&mu);
  ASSERT_TRUE(mu.AwaitWithTimeout(
      absl::Condition(+[](int* n) { return *n == kThreads * kEach; }, &answered),
      absl::Seconds(20)));
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(pipeline.in_flight(), 0);
}

TEST_F(PipelineTest, OneStatementsErrorTouchesNoOther) {
  Pipeline pipeline(Options(1));
  const Statement divide{"divide", "SELECT 10 / $1::int"};
  std::vector<absl::StatusOr<Result>> results(3);
  absl::Notification last;
  for (int i = 0; i < 3; ++i) {
    pipeline.Run(divide, Text(i == 1 ? "0" : "5"), Soon(),
                 {"test", StatementKind::kRead, "dividing"},
                 [&, i](absl::StatusOr<Result> result) {
                   results[static_cast<size_t>(i)] = std::move(result);
                   if (i == 2) last.Notify();
                 });
  }
  ASSERT_TRUE(last.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(First(results[0]), "2");
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kInvalidArgument)
      << results[1].status();
  EXPECT_NE(results[1].status().message().find("dividing"), std::string::npos);
  EXPECT_EQ(First(results[2]), "2");
}

TEST_F(PipelineTest, AStatementThatCannotBePreparedFailsAloneAndIsPreparedAgainLater) {
  Pipeline pipeline(Options(1));
  database_->Exec("DROP TABLE IF EXISTS later");
  const Statement reads_later{"reads_later", "SELECT count(*) FROM later"};
  absl::StatusOr<Result> missing =
      pipeline.RunAndWait(reads_later, Params(), Soon(), {"test", StatementKind::kRead, "x"});
  EXPECT_FALSE(missing.ok());
  EXPECT_EQ(First(pipeline.RunAndWait(kAddOne, Text("1"), Soon(),
                                      {"test", StatementKind::kRead, "x"})),
            "2");
  database_->Exec("CREATE TABLE later (id int)");
  EXPECT_EQ(First(pipeline.RunAndWait(reads_later, Params(), Soon(),
                                      {"test", StatementKind::kRead, "x"})),
            "0");
}

TEST_F(PipelineTest, ASlowReadPastItsDeadlineIsAnsweredThenCancelledAndTheRestGoOn) {
  Pipeline pipeline(Options(1));
  absl::Notification slow_answered;
  absl::Status slow_status;
  const absl::Time start = absl::Now();
  pipeline.Run(Statement{"", "SELECT pg_sleep(30)"}, Params(),
               absl::Now() + absl::Milliseconds(300), {"test", StatementKind::kRead, "sleeping"},
               [&](absl::StatusOr<Result> result) {
                 slow_status = result.status();
                 slow_answered.Notify();
               });
  // Behind it on the one connection.
  absl::StatusOr<Result> quick = pipeline.RunAndWait(kAddOne, Text("41"), Soon(),
                                                     {"test", StatementKind::kRead, "adding"});
  ASSERT_TRUE(slow_answered.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(slow_status.code(), absl::StatusCode::kDeadlineExceeded) << slow_status;
  EXPECT_EQ(First(quick), "42") << quick.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST_F(PipelineTest, AWritePastItsDeadlineIsAnsweredWithWhatTheDatabaseDid) {
  Pipeline pipeline(Options(1));
  database_->Exec("CREATE TABLE IF NOT EXISTS slow_writes (id int)");
  absl::StatusOr<Result> result = pipeline.RunAndWait(
      Statement{"", "INSERT INTO slow_writes SELECT 1 FROM pg_sleep(30)"}, Params(),
      absl::Now() + absl::Milliseconds(300), {"test", StatementKind::kWrite, "writing"});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded) << result.status();
  EXPECT_EQ(database_->Exec("SELECT count(*) FROM slow_writes")[0][0].as<int>(), 0);
}

TEST_F(PipelineTest, ACallerThatLeavesIsAnsweredCancelled) {
  Pipeline pipeline(Options(1));
  std::atomic<bool> left{false};
  absl::Notification answered;
  absl::Status status;
  pipeline.Run(Statement{"", "SELECT pg_sleep(30)"}, Params(),
               CallLimit(Soon(), [&] { return left.load(); }),
               {"test", StatementKind::kRead, "sleeping"}, [&](absl::StatusOr<Result> result) {
                 status = result.status();
                 answered.Notify();
               });
  absl::SleepFor(absl::Milliseconds(100));
  left = true;
  ASSERT_TRUE(answered.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  // The connection is free again once the database has cancelled it.
  EXPECT_EQ(First(pipeline.RunAndWait(kAddOne, Text("1"), Soon(),
                                      {"test", StatementKind::kRead, "adding"})),
            "2");
}

TEST_F(PipelineTest, AnUnreachableDatabaseIsUnavailableWithTheReason) {
  PipelineOptions options;
  options.url = "postgresql://nobody@127.0.0.1:1/none";
  options.connections = 1;
  Pipeline pipeline(options);
  absl::StatusOr<Result> result = pipeline.RunAndWait(kAddOne, Text("1"), Soon(),
                                                      {"test", StatementKind::kRead, "adding"});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  EXPECT_NE(result.status().message().find("adding"), std::string::npos);
}

TEST_F(PipelineTest, ReconnectsAfterTheServerEndsItsConnection) {
  Pipeline pipeline(Options(1));
  const Statement pid{"pid", "SELECT pg_backend_pid()::text"};
  const std::string first =
      First(pipeline.RunAndWait(pid, Params(), Soon(), {"test", StatementKind::kRead, "pid"}));
  ASSERT_FALSE(first.empty());
  database_->Exec(absl::StrCat("SELECT pg_terminate_backend(", first, ")"));
  std::string second;
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (absl::Now() < until) {
    absl::StatusOr<Result> result =
        pipeline.RunAndWait(pid, Params(), Soon(), {"test", StatementKind::kRead, "pid"});
    if (result.ok()) {
      second = First(result);
      break;
    }
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_FALSE(second.empty());
  EXPECT_NE(second, first);
}

TEST_F(PipelineTest, ReportsTheRowsAWriteTouched) {
  Pipeline pipeline(Options(1));
  database_->Exec("CREATE TABLE IF NOT EXISTS touched (id int); TRUNCATE touched");
  database_->Exec("INSERT INTO touched SELECT generate_series(1, 7)");
  absl::StatusOr<Result> result =
      pipeline.RunAndWait(Statement{"", "DELETE FROM touched WHERE id > $1::int"}, Text("4"),
                          Soon(), {"test", StatementKind::kWrite, "deleting"});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->affected(), 3u);
}

// Past 4 MiB of parameters in flight on a connection, statements wait to
// be sent; one whose deadline passes meanwhile is answered then, unsent.
TEST_F(PipelineTest, AStatementHeldBackPastItsDeadlineIsAnsweredUnsent) {
  Pipeline pipeline(Options(1));
  const std::string large(5 << 20, 'x');
  Params params;
  params.AddBinaryView(large);
  absl::Notification large_done;
  absl::StatusOr<Result> large_result;
  pipeline.Run(Statement{"", "SELECT length($1::bytea) FROM pg_sleep(2)"}, std::move(params),
               Soon(), {"test", StatementKind::kRead, "measuring"},
               [&](absl::StatusOr<Result> result) {
                 large_result = std::move(result);
                 large_done.Notify();
               });
  const absl::Time start = absl::Now();
  absl::StatusOr<Result> held = pipeline.RunAndWait(
      kAddOne, Text("1"), absl::Now() + absl::Milliseconds(300),
      {"test", StatementKind::kWrite, "adding"});
  EXPECT_EQ(held.status().code(), absl::StatusCode::kDeadlineExceeded) << held.status();
  EXPECT_NE(held.status().message().find("before the query could be sent"), std::string::npos);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(1500));
  ASSERT_TRUE(large_done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(First(large_result), absl::StrCat(5 << 20)) << large_result.status();
}

TEST_F(PipelineTest, RefusesPastMaxInFlight) {
  PipelineOptions options = Options(1);
  options.max_in_flight = 1;
  Pipeline pipeline(options);
  absl::Notification first_done;
  pipeline.Run(Statement{"", "SELECT pg_sleep(0.3)"}, Params(), Soon(),
               {"test", StatementKind::kRead, "sleeping"},
               [&](absl::StatusOr<Result>) { first_done.Notify(); });
  absl::StatusOr<Result> refused = pipeline.RunAndWait(
      kAddOne, Text("1"), Soon(), {"test", StatementKind::kRead, "adding"});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  ASSERT_TRUE(first_done.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

}  // namespace
}  // namespace protomodel::db
