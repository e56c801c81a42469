#include "db/schema/migrations.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "db/changes.h"
#include "db/exec/sql_status.h"

namespace protomodel::db {
namespace {

// pg_advisory_xact_lock key: "protomod" in ASCII.
constexpr char kLockSql[] = "SELECT pg_advisory_xact_lock(8030873813924032356)";

// The statements of one track's table.
struct TrackSql {
  std::string create;
  std::string applied;
  std::string record;
};

TrackSql SqlOf(MigrationTrack track) {
  const std::string table = track == MigrationTrack::kUser ? "\"schema_migrations\""
                                                           : "\"protomodel_server_migrations\"";
  return {absl::StrCat("CREATE TABLE IF NOT EXISTS ", table,
                       " (\"version\" integer PRIMARY KEY, \"name\" text NOT NULL, "
                       "\"applied_at\" timestamptz NOT NULL DEFAULT now())"),
          absl::StrCat("SELECT 1 FROM ", table, " WHERE \"version\" = $1"),
          absl::StrCat("INSERT INTO ", table, " (\"version\", \"name\") VALUES ($1, $2)")};
}

// Whether `sql` holds a statement, not only comments and blanks.
bool HasStatement(absl::string_view sql) {
  for (absl::string_view line : absl::StrSplit(sql, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty() && !absl::StartsWith(line, "--")) return true;
  }
  return false;
}

constexpr char kVersionSql[] = R"sql(
SELECT coalesce(max("version"), 0) FROM "schema_migrations")sql";

constexpr char kTableExistsSql[] =
    "SELECT to_regclass('\"schema_migrations\"') IS NOT NULL";

absl::StatusOr<int> VersionOf(const MigrationFile& file) {
  int version = 0;
  const size_t underscore = file.name.find('_');
  if (underscore == std::string::npos ||
      !absl::SimpleAtoi(file.name.substr(0, underscore), &version) ||
      version <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "migration ", file.name, ": name must be NNNN_description.sql"));
  }
  return version;
}

}  // namespace

absl::StatusOr<std::vector<MigrationFile>> ReadMigrationsDir(const std::string& dir) {
  std::vector<MigrationFile> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".sql") continue;
    MigrationFile file{entry.path().stem().string(), ""};
    if (absl::Status s = VersionOf(file).status(); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--migrations_dir ", dir, ": ", s.message()));
    }
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream sql;
    sql << in.rdbuf();
    if (!in) {
      return absl::InvalidArgumentError(
          absl::StrCat("--migrations_dir ", dir, ": ", name, " cannot be read"));
    }
    file.sql = sql.str();
    files.push_back(std::move(file));
  }
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat("--migrations_dir ", dir, ": ", error.message()));
  }
  std::sort(files.begin(), files.end(),
            [](const MigrationFile& a, const MigrationFile& b) { return a.name < b.name; });
  return files;
}

absl::StatusOr<std::vector<std::string>> ApplyBothTracks(
    pqxx::connection& conn, const std::vector<MigrationFile>& user, const Schema* schema) {
  absl::StatusOr<std::vector<std::string>> server =
      ApplyMigrations(conn, ServerMigrations(), MigrationTrack::kServer);
  if (!server.ok()) return server.status();
  absl::StatusOr<std::vector<std::string>> users = ApplyMigrations(conn, user);
  if (!users.ok()) return users.status();
  std::vector<std::string> applied;
  for (const std::string& name : *server) applied.push_back(absl::StrCat("server/", name));
  applied.insert(applied.end(), users->begin(), users->end());
  if (schema != nullptr) {
    absl::StatusOr<std::vector<std::string>> triggers = InstallWatchTriggers(conn, *schema);
    if (!triggers.ok()) return triggers.status();
    for (const std::string& table : *triggers) {
      applied.push_back(absl::StrCat("server/watch triggers on ", table));
    }
  }
  return applied;
}

absl::StatusOr<std::vector<std::string>> ApplyMigrations(
    pqxx::connection& conn, const std::vector<MigrationFile>& migrations,
    MigrationTrack track) {
  const TrackSql sql = SqlOf(track);
  std::vector<std::string> applied;
  for (const MigrationFile& file : migrations) {
    absl::StatusOr<int> version = VersionOf(file);
    if (!version.ok()) return version.status();
    try {
      pqxx::work tx(conn);
      tx.exec(kLockSql);
      tx.exec(sql.create);
      if (!tx.exec_params(sql.applied, *version).empty()) continue;
      if (HasStatement(file.sql)) tx.exec(file.sql);
      tx.exec_params(sql.record, *version, file.name);
      tx.commit();
      applied.push_back(file.name);
    } catch (const std::exception& e) {
      absl::Status status = StatusFromException(
          e, StatementKind::kTransaction, absl::StrCat("migration ", file.name));
      if (status.code() == absl::StatusCode::kInternal) {
        return absl::FailedPreconditionError(status.message());
      }
      return status;
    }
  }
  return applied;
}

std::string RecordServerMigrationsSql() {
  const TrackSql sql = SqlOf(MigrationTrack::kServer);
  std::vector<std::string> rows;
  for (const MigrationFile& file : ServerMigrations()) {
    absl::StatusOr<int> version = VersionOf(file);
    if (version.ok()) rows.push_back(absl::StrCat("(", *version, ", '", file.name, "')"));
  }
  return absl::StrCat(sql.create, ";\nINSERT INTO \"protomodel_server_migrations\" (\"version\", "
                      "\"name\") VALUES ", absl::StrJoin(rows, ", "),
                      " ON CONFLICT DO NOTHING;\n");
}

absl::StatusOr<std::vector<std::string>> PendingServerMigrations(pqxx::connection& conn) {
  std::vector<std::string> pending;
  try {
    pqxx::nontransaction tx(conn);
    const bool recorded =
        tx.exec1("SELECT to_regclass('\"protomodel_server_migrations\"') IS NOT NULL")[0]
            .as<bool>();
    for (const MigrationFile& file : ServerMigrations()) {
      absl::StatusOr<int> version = VersionOf(file);
      if (!version.ok()) return version.status();
      if (recorded && !tx.exec_params(SqlOf(MigrationTrack::kServer).applied, *version).empty()) {
        continue;
      }
      pending.push_back(file.name);
    }
  } catch (const std::exception& e) {
    return StatusFromException(e, StatementKind::kRead, "the server's migrations");
  }
  return pending;
}

absl::StatusOr<int> SchemaVersion(pqxx::connection& conn) {
  try {
    pqxx::nontransaction tx(conn);
    if (!tx.exec1(kTableExistsSql)[0].as<bool>()) return 0;
    return tx.exec1(kVersionSql)[0].as<int>();
  } catch (const std::exception& e) {
    return StatusFromException(e, StatementKind::kRead, "schema version");
  }
}

}  // namespace protomodel::db
