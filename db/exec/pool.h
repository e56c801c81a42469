#ifndef PROTOMODEL_DB_EXEC_POOL_H_
#define PROTOMODEL_DB_EXEC_POOL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/connection>
#include <pqxx/result>
#include <pqxx/transaction_base>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "db/sql/params.h"

namespace protomodel::db {

// One SQL statement. Statements with a name are prepared once per connection
// (on first use); unnamed ones run as a single parameterised round trip.
// With binary_results its rows come in binary format: its bytea columns as
// raw bytes, so its other columns must be selected as text (sql_build's
// SelectList does).
struct Statement {
  std::string name;
  std::string sql;
  bool binary_results = false;
};

// A database connection that remembers which statements it has prepared.
class Connection {
 public:
  Connection(std::unique_ptr<pqxx::connection> conn, bool prepare);

  pqxx::connection& raw() { return *conn_; }

  // Runs `statement` with `params` inside `tx` (a transaction on raw()).
  // Throws what libpqxx throws; callers convert with StatusFromException.
  pqxx::result Exec(pqxx::transaction_base& tx, const Statement& statement,
                    Params params);

 private:
  std::unique_ptr<pqxx::connection> conn_;
  bool prepare_;
  absl::flat_hash_set<std::string> prepared_;
};

// How long one call may hold the database, and whether its caller has gone.
// Converts from a bare deadline for callers that cannot be cancelled.
struct CallLimit {
  CallLimit(absl::Time deadline_in)  // NOLINT: implicit by design
      : deadline(deadline_in) {}
  CallLimit(absl::Time deadline_in, std::function<bool()> cancelled_in)
      : deadline(deadline_in), cancelled(std::move(cancelled_in)) {}

  absl::Time deadline;
  // True once the caller cancelled; polled (every kCancelPoll) while the call
  // waits for or holds a connection. Empty: never cancelled.
  std::function<bool()> cancelled;
};

struct PoolOptions {
  // A libpq connection string or URI.
  std::string url;
  // Connections open at once, at most.
  int size = 8;
  // Calls waiting for a connection, at most; past it Acquire fails at once.
  int max_waiting = 1024;
  // Named statements are prepared per connection; false runs every statement
  // unnamed (for PgBouncer in transaction pooling mode).
  bool prepared_statements = true;
  // Seconds libpq may take to connect.
  int connect_timeout_seconds = 5;
  // Per-connection `statement_timeout`, set once at connect (no round trip
  // per call); 0 leaves the server's setting.
  int max_statement_seconds = 0;
  // After a failed connect, the next attempt waits 50 ms, doubling up to
  // this; calls in between fail at once with UNAVAILABLE.
  absl::Duration max_reconnect_backoff = absl::Seconds(1);
  // Called as each lease ends with its operation's name and how long the
  // connection was held (the metrics' database time). Empty: nothing.
  std::function<void(absl::string_view op, absl::Duration held)> observe;
};

struct PoolStats {
  int in_use = 0;
  int idle = 0;
  int waiting = 0;
};

// A bounded pool of connections shared by all handlers. Connections open
// lazily; a connection found broken is dropped and replaced on demand, so
// the pool recovers by itself after the database restarts.
class Pool {
 public:
  explicit Pool(PoolOptions options);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // How often the canceller asks whether callers of running statements have
  // cancelled.
  static constexpr absl::Duration kCancelPoll = absl::Milliseconds(50);

  // A connection on loan until the call's deadline: if the deadline passes or
  // the caller cancels while the lease is held, the running statement's
  // cancel request is sent (PostgreSQL then answers 57014) and the connection
  // is dropped rather than reused, so a late cancel cannot hit the next call.
  // Returns to the pool when destroyed, or is dropped when no longer open.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection* operator->() { return conn_.get(); }
    Connection& operator*() { return *conn_; }

   private:
    friend class Pool;
    Lease(Pool* pool, std::unique_ptr<Connection> conn, const CallLimit& limit,
          const char* op);
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
    uint64_t alarm_ = 0;
    const char* op_;
    absl::Time acquired_;
  };

  // A connection, waiting for one no later than the limit's deadline. Idle
  // connections the server has closed (restart, failover, termination) are
  // noticed without a round trip and replaced.
  // UNAVAILABLE: the database cannot be reached (or was not, moments ago:
  // reconnects back off). DEADLINE_EXCEEDED: none came free in time.
  // CANCELLED: the caller left while waiting. RESOURCE_EXHAUSTED: too many
  // calls are waiting already.
  // `op` (a literal: "insert", "get", ...) names the operation to `observe`.
  absl::StatusOr<Lease> Acquire(const CallLimit& limit, const char* op = "other");

  PoolStats Stats() const;
  const PoolOptions& options() const { return options_; }

 private:
  struct Alarm {
    absl::Time deadline;
    Connection* conn;
    std::function<bool()> cancelled;
    bool fired = false;
  };

  void Release(std::unique_ptr<Connection> conn, bool discard);
  bool CanTake() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t Arm(Connection* conn, const CallLimit& limit);
  // An idle connection whose server side is still there, or nullptr.
  std::unique_ptr<Connection> TakeIdle() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::unique_ptr<Connection>> Open();
  // Removes the alarm; true when it fired (the connection must be dropped).
  bool Disarm(uint64_t id);
  void CancelLoop();

  const PoolOptions options_;
  const std::string conninfo_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  // Reconnect backoff: consecutive failed connects, the time before which no
  // new attempt is made, and why the last one failed.
  int connect_failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status last_connect_error_ ABSL_GUARDED_BY(mu_);

  // Deadlines of the leases out, watched by one thread.
  absl::Mutex alarm_mu_;
  std::map<uint64_t, Alarm> alarms_ ABSL_GUARDED_BY(alarm_mu_);
  uint64_t next_alarm_ ABSL_GUARDED_BY(alarm_mu_) = 1;
  uint64_t alarm_version_ ABSL_GUARDED_BY(alarm_mu_) = 0;
  // The deadline the canceller sleeps until: only an earlier one wakes it.
  absl::Time next_wakeup_ ABSL_GUARDED_BY(alarm_mu_) = absl::InfiniteFuture();
  bool stopping_ ABSL_GUARDED_BY(alarm_mu_) = false;
  std::thread canceller_;
};

// `url` with connect_timeout added when it has none, and with
// statement_timeout as a startup option when `max_statement_seconds` > 0.
std::string ConnectionString(const std::string& url, int connect_timeout_seconds,
                             int max_statement_seconds = 0);

// `url` with any password replaced by "***", for logs.
std::string RedactUrl(const std::string& url);
// `text` with every occurrence of `url`'s password replaced by "***": for
// messages from libpq, which quotes the parts of a URL it cannot parse.
std::string WithoutPassword(const std::string& url, std::string text);

// Opens one connection outside any pool (migrations, health checks).
absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect(
    const std::string& url, int connect_timeout_seconds);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_EXEC_POOL_H_
