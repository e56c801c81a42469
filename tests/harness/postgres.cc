#include "harness/postgres.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>

#include <pqxx/connection>
#include <pqxx/nontransaction>

#include "absl/strings/str_cat.h"

namespace protomodel::testing {

CommandResult RunProcess(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen(absl::StrCat(command, " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string RunCommand(const std::string& command) {
  CommandResult result = RunProcess(command);
  if (result.exit != 0) {
    std::cerr << "command failed (" << result.exit << "): " << command << "\n"
              << result.output;
    std::abort();
  }
  std::string& output = result.output;
  while (!output.empty() && output.back() == '\n') output.pop_back();
  return output;
}

std::string PgScript() { return absl::StrCat(PROTOMODEL_SOURCE_DIR, "/scripts/pg.sh"); }

std::string PgBouncerScript() {
  return absl::StrCat(PROTOMODEL_SOURCE_DIR, "/scripts/pgbouncer.sh");
}

std::string AdminUrl() {
  for (const char* env : {"PROTOMODEL_TEST_DATABASE_URL", "DATABASE_URL"}) {
    if (const char* url = std::getenv(env); url != nullptr && *url != '\0') {
      return url;
    }
  }
  static const std::string url = RunCommand(
      absl::StrCat(PgScript(), " start ", PROTOMODEL_TEST_PG_DIR, " auto --fast"));
  return url;
}

std::string WithDatabase(const std::string& url, const std::string& name) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return absl::StrCat(url, " dbname=", name);
  const size_t query = url.find('?', scheme);
  const std::string base = url.substr(0, query);
  const std::string rest = query == std::string::npos ? "" : url.substr(query);
  const size_t slash = base.find('/', scheme + 3);
  return absl::StrCat(slash == std::string::npos ? base : base.substr(0, slash), "/",
                      name, rest);
}

bool PgBouncerPass() {
  const char* dir = std::getenv("PROTOMODEL_TEST_PGBOUNCER_DIR");
  return dir != nullptr && *dir != '\0';
}

std::string ThroughPgBouncer(const std::string& url) {
  if (!PgBouncerPass()) return url;
  static const std::string bouncer =
      RunCommand(absl::StrCat(PgBouncerScript(), " url ",
                              std::getenv("PROTOMODEL_TEST_PGBOUNCER_DIR")));
  const std::string admin = AdminUrl();
  const std::string cluster = admin.substr(0, admin.rfind('/') + 1);
  if (url.rfind(cluster, 0) != 0) return url;  // another server: leave it
  std::string name = url.substr(cluster.size());
  name = name.substr(0, name.find('?'));
  return WithDatabase(bouncer, name);
}

TestDatabase::TestDatabase() {
  static std::atomic<int> counter{0};
  std::random_device random;
  name_ = absl::StrCat("pmtest_", getpid(), "_", counter++, "_", random() % 100000);
  url_ = WithDatabase(AdminUrl(), name_);
  pqxx::connection admin(AdminUrl());
  pqxx::nontransaction tx(admin);
  tx.exec(absl::StrCat("CREATE DATABASE \"", name_, "\""));
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection admin(AdminUrl());
    pqxx::nontransaction tx(admin);
    tx.exec(absl::StrCat("DROP DATABASE IF EXISTS \"", name_, "\" WITH (FORCE)"));
  } catch (const std::exception& e) {
    std::cerr << "could not drop test database " << name_ << ": " << e.what() << "\n";
  }
}

pqxx::result TestDatabase::Exec(const std::string& sql) const {
  pqxx::connection conn(url_);
  pqxx::nontransaction tx(conn);
  return tx.exec(sql);
}

}  // namespace protomodel::testing
