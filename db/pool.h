#ifndef PROTOMODEL_DB_POOL_H_
#define PROTOMODEL_DB_POOL_H_

#include <memory>
#include <string>
#include <vector>

#include <pqxx/connection>
#include <pqxx/result>
#include <pqxx/transaction_base>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "db/params.h"

namespace protomodel::db {

// One SQL statement. Statements with a name are prepared once per connection
// (on first use); unnamed ones run as a single parameterised round trip.
struct Statement {
  std::string name;
  std::string sql;
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
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A connection on loan; returns to the pool when destroyed, or is dropped
  // when it is no longer open.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection* operator->() { return conn_.get(); }
    Connection& operator*() { return *conn_; }

   private:
    friend class Pool;
    Lease(Pool* pool, std::unique_ptr<Connection> conn);
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  // A connection, waiting for one no later than `deadline`.
  // UNAVAILABLE: the database cannot be reached. DEADLINE_EXCEEDED: none came
  // free in time. RESOURCE_EXHAUSTED: too many calls are waiting already.
  absl::StatusOr<Lease> Acquire(absl::Time deadline);

  PoolStats Stats() const;
  const PoolOptions& options() const { return options_; }

 private:
  void Release(std::unique_ptr<Connection> conn);
  bool CanTake() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const PoolOptions options_;
  const std::string conninfo_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

// `url` with connect_timeout added when it has none.
std::string ConnectionString(const std::string& url, int connect_timeout_seconds);

// `url` with any password replaced by "***", for logs.
std::string RedactUrl(const std::string& url);

// Opens one connection outside any pool (migrations, health checks).
absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect(
    const std::string& url, int connect_timeout_seconds);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_POOL_H_
