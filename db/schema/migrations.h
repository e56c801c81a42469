#ifndef PROTOMODEL_DB_SCHEMA_MIGRATIONS_H_
#define PROTOMODEL_DB_SCHEMA_MIGRATIONS_H_

#include <string>
#include <vector>

#include <pqxx/connection>

#include "absl/status/statusor.h"
#include "db/schema/schema.h"

namespace protomodel::db {

// One migration file, `NNNN_name.sql`.
struct MigrationFile {
  std::string name;  // "0001_books"
  std::string sql;
};

// Migrations come on two tracks, each recorded in a table of its own: the
// user's tables (the built-in resources' db/migrations, or the files of
// --migrations_dir), in `schema_migrations`; and the server's own tables
// (request ids, and what later verbs need), in
// `protomodel_server_migrations`, applied first, whatever the user's are.
enum class MigrationTrack { kUser, kServer };

// The files of db/migrations/ (the built-in resources' track), compiled
// into the binary, in name order.
const std::vector<MigrationFile>& EmbeddedMigrations();
// The files of db/server_migrations/ (the server's track), compiled in.
const std::vector<MigrationFile>& ServerMigrations();

// The `NNNN_name.sql` files of `dir`, in name order; other files are
// ignored. Errors name the directory or file.
absl::StatusOr<std::vector<MigrationFile>> ReadMigrationsDir(const std::string& dir);

// Applies every migration in `migrations` that the track's table does not
// record yet, in order, each in its own transaction that also records it.
// Each transaction first takes a transaction-scoped advisory lock, so several
// servers starting at once apply each migration exactly once (and the lock
// works through PgBouncer in transaction mode). Returns the names applied.
absl::StatusOr<std::vector<std::string>> ApplyMigrations(
    pqxx::connection& conn, const std::vector<MigrationFile>& migrations,
    MigrationTrack track = MigrationTrack::kUser);

// The server's track, then `user` on the user's, then (with `schema`) what
// the server needs on the tables `schema` describes (the watches'
// triggers): what `migrate` does.
absl::StatusOr<std::vector<std::string>> ApplyBothTracks(
    pqxx::connection& conn, const std::vector<MigrationFile>& user,
    const Schema* schema = nullptr);

// SQL that records every migration of the server's track as applied: the
// end of `schema sql`, whose text makes the server's tables as they do.
std::string RecordServerMigrationsSql();

// The server's track's migrations the database has not recorded yet, by
// name: what `schema check` reports of the server's own tables.
absl::StatusOr<std::vector<std::string>> PendingServerMigrations(pqxx::connection& conn);

// The version of the newest applied migration of the user's track (0 when
// none).
absl::StatusOr<int> SchemaVersion(pqxx::connection& conn);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_SCHEMA_MIGRATIONS_H_
