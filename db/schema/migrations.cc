#include "db/schema/migrations.h"

#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "db/exec/sql_status.h"

namespace protomodel::db {
namespace {

// pg_advisory_xact_lock key: "protomod" in ASCII.
constexpr char kLockSql[] = "SELECT pg_advisory_xact_lock(8030873813924032356)";

constexpr char kCreateTableSql[] = R"sql(
CREATE TABLE IF NOT EXISTS "schema_migrations" (
  "version" integer PRIMARY KEY,
  "name" text NOT NULL,
  "applied_at" timestamptz NOT NULL DEFAULT now()
))sql";

constexpr char kAppliedSql[] =
    R"sql(SELECT 1 FROM "schema_migrations" WHERE "version" = $1)sql";

constexpr char kRecordSql[] =
    R"sql(INSERT INTO "schema_migrations" ("version", "name") VALUES ($1, $2))sql";

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

absl::StatusOr<std::vector<std::string>> ApplyMigrations(
    pqxx::connection& conn, const std::vector<MigrationFile>& migrations) {
  std::vector<std::string> applied;
  for (const MigrationFile& file : migrations) {
    absl::StatusOr<int> version = VersionOf(file);
    if (!version.ok()) return version.status();
    try {
      pqxx::work tx(conn);
      tx.exec(kLockSql);
      tx.exec(kCreateTableSql);
      if (!tx.exec_params(kAppliedSql, *version).empty()) continue;
      tx.exec(file.sql);
      tx.exec_params(kRecordSql, *version, file.name);
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
