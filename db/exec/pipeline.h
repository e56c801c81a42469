#ifndef PROTOMODEL_DB_EXEC_PIPELINE_H_
#define PROTOMODEL_DB_EXEC_PIPELINE_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "db/exec/pool.h"
#include "db/exec/sql_status.h"
#include "db/sql/params.h"

struct pg_result;

namespace protomodel::db {

// One field of a result row: its value and whether it is NULL. In a
// binary result (Statement::binary_results) a bytea's value is its raw
// bytes; every other column of such a statement is selected as text.
struct Cell {
  const char* data;
  size_t size;
  bool null;
  bool binary = false;
};

// The rows one statement returned, as libpq holds them (no copy).
class Result {
 public:
  Result() = default;
  explicit Result(pg_result* result);
  Result(Result&&) noexcept = default;
  Result& operator=(Result&&) noexcept = default;

  size_t size() const;
  bool empty() const { return size() == 0; }
  size_t columns() const;
  // Rows a write touched (INSERT, UPDATE, DELETE).
  size_t affected() const;
  Cell cell(size_t row, size_t column) const;

 private:
  struct Clear {
    void operator()(pg_result* result) const;
  };
  std::unique_ptr<pg_result, Clear> result_;
};

// One row of a Result: what ReadRow reads.
struct ResultRow {
  const Result* result;
  size_t row;
  Cell operator[](size_t column) const { return result->cell(row, column); }
};

// What a statement is for, to the pipeline: the operation's name for the
// metrics, whether it writes (a connection lost under a write leaves its
// outcome unknown) and the words error messages start with ("reading hero").
struct Purpose {
  const char* op = "other";
  StatementKind kind = StatementKind::kRead;
  std::string what;
};

struct PipelineOptions {
  // A libpq connection string or URI.
  std::string url;
  // Connections, each carrying many statements in flight.
  int connections = 2;
  // Statements sent and not yet answered, at most; past it Run answers
  // RESOURCE_EXHAUSTED at once.
  int max_in_flight = 1024;
  // false runs every statement unnamed (PgBouncer in transaction mode).
  bool prepared_statements = true;
  int connect_timeout_seconds = 5;
  int max_statement_seconds = 0;
  absl::Duration max_reconnect_backoff = absl::Seconds(1);
  // Called as each statement is answered, with its operation and how long
  // it took from sending to its answer. Empty: nothing.
  std::function<void(absl::string_view op, absl::Duration took)> observe;
};

// The way calls reach the database: a few connections in libpq's pipeline
// mode, each with a thread of its own that polls its socket. Run sends a
// statement at once from the caller's thread, without waiting, and its
// answer comes back on the connection's thread, which finishes the call;
// so one connection carries many statements in flight, and no thread hands
// a call to another on the way in. Each statement runs in its own implicit
// transaction (a Sync follows it), so one statement's failure touches no
// other.
//
// A statement still running when its caller's deadline passes or its
// caller cancels is answered then (DEADLINE_EXCEEDED, CANCELLED), and the
// database is asked to cancel it, so that the statements behind it on its
// connection go on; one caught by that request by mistake (it had just
// started) is sent again. Connections open in the background and reopen
// after a failure with backoff; while none is open Run answers UNAVAILABLE
// with the reason.
class Pipeline {
 public:
  explicit Pipeline(PipelineOptions options);
  // Answers what is still in flight (UNAVAILABLE), then closes.
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Runs on a connection's thread, or on the caller's when Run answers at
  // once; must not block.
  using Done = absl::AnyInvocable<void(absl::StatusOr<Result> result) &&>;

  // Sends `statement` with `params` and arranges for `done` to get its rows
  // or the error, as StatusFromSql maps it for `purpose`. Named statements
  // are prepared once per connection, in the same round trip as their first
  // use.
  void Run(const Statement& statement, Params params, CallLimit limit, Purpose purpose,
           Done done);

  // Run, waiting for the answer: for work already off gRPC's threads.
  absl::StatusOr<Result> RunAndWait(const Statement& statement, Params params,
                                    const CallLimit& limit, Purpose purpose);

  // Statements sent and not yet answered.
  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  // Connections open now.
  int open_connections() const;
  const PipelineOptions& options() const { return options_; }

 private:
  class Link;
  const PipelineOptions options_;
  std::atomic<int> in_flight_{0};
  std::atomic<unsigned> next_{0};
  std::vector<std::unique_ptr<Link>> links_;
};

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_EXEC_PIPELINE_H_
