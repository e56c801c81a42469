#ifndef PROTOMODEL_DB_SCHEMA_MIGRATIONS_H_
#define PROTOMODEL_DB_SCHEMA_MIGRATIONS_H_

#include <string>
#include <vector>

#include <pqxx/connection>

#include "absl/status/statusor.h"

namespace protomodel::db {

// One file of db/migrations/, `NNNN_name.sql`.
struct MigrationFile {
  std::string name;  // "0001_heroes"
  std::string sql;
};

// The files of db/migrations/, compiled into the binary, in name order.
const std::vector<MigrationFile>& EmbeddedMigrations();

// Applies every migration in `migrations` that `schema_migrations` does not
// record yet, in order, each in its own transaction that also records it.
// Each transaction first takes a transaction-scoped advisory lock, so several
// servers starting at once apply each migration exactly once (and the lock
// works through PgBouncer in transaction mode). Returns the names applied.
absl::StatusOr<std::vector<std::string>> ApplyMigrations(
    pqxx::connection& conn, const std::vector<MigrationFile>& migrations);

// The version of the newest applied migration (0 when none).
absl::StatusOr<int> SchemaVersion(pqxx::connection& conn);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_SCHEMA_MIGRATIONS_H_
