#ifndef PROTOMODEL_TESTS_HARNESS_POSTGRES_H_
#define PROTOMODEL_TESTS_HARNESS_POSTGRES_H_

#include <memory>
#include <string>

#include <pqxx/result>

namespace protomodel::testing {

// The URL of a PostgreSQL server the tests may create databases on:
// PROTOMODEL_TEST_DATABASE_URL or DATABASE_URL when set, otherwise the
// throwaway cluster in the build tree (started on first use; CTest's
// `postgres` fixture starts it once for all suites).
std::string AdminUrl();

// `url` naming database `name` instead.
std::string WithDatabase(const std::string& url, const std::string& name);

// What a shell command printed (stdout and stderr) and its exit status.
struct CommandResult {
  int exit = -1;
  std::string output;
};

// Runs a shell command to completion, stderr folded into the output.
CommandResult RunProcess(const std::string& command);

// Runs a shell command and returns what it printed (trailing newline cut);
// aborts the test binary when it fails.
std::string RunCommand(const std::string& command);

// The path of scripts/pg.sh in the source tree.
std::string PgScript();
// scripts/pgbouncer.sh of the source tree.
std::string PgBouncerScript();

// When PROTOMODEL_TEST_PGBOUNCER_DIR names a running scripts/pgbouncer.sh
// folder (the PgBouncer pass), `url` on the test cluster rewritten to reach
// the same database through that PgBouncer; otherwise `url` unchanged.
std::string ThroughPgBouncer(const std::string& url);
bool PgBouncerPass();

// A fresh, empty database for one test suite, dropped when destroyed.
class TestDatabase {
 public:
  TestDatabase();
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }
  // Runs SQL on this database (test set-up and inspection).
  pqxx::result Exec(const std::string& sql) const;

 private:
  std::string name_;
  std::string url_;
};

}  // namespace protomodel::testing

#endif  // PROTOMODEL_TESTS_HARNESS_POSTGRES_H_
