// The schema from the protos (create_all), the drift check against the live
// catalog, and generated migrations.
#include "db/changes.h"
#include "db/schema/ddl.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <pqxx/connection>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "db/schema/migrations.h"
#include "harness/test_server.h"
#include "proto/testing/v1/widget.pb.h"
#include "server/transport/server.h"

namespace protomodel::db {
namespace {

using protomodel::testing::TestDatabase;

std::unique_ptr<Schema> Protos() { return *server::ResourceSchema(); }

std::unique_ptr<Schema> Widgets(bool v2) {
  return *Schema::Build({::testing::v1::Owner::descriptor(),
                         v2 ? ::testing::v1::WidgetV2::descriptor()
                            : ::testing::v1::Widget::descriptor()});
}

std::vector<std::string> Drift(const TestDatabase& db, const Schema& schema) {
  pqxx::connection conn(db.url());
  auto actual = ReadCatalog(conn);
  EXPECT_TRUE(actual.ok()) << actual.status();
  std::vector<std::string> lines;
  for (const Difference& d : Compare(ExpectedSchema(schema), *actual)) lines.push_back(d.what);
  return lines;
}

void Migrate(const TestDatabase& db) {
  pqxx::connection conn(db.url());
  ASSERT_TRUE(ApplyBothTracks(conn, EmbeddedMigrations(), &*Protos()).ok());
}

TEST(DdlTest, TheMigrationsMatchTheProtos) {
  TestDatabase db;
  Migrate(db);
  EXPECT_EQ(Drift(db, *Protos()), std::vector<std::string>{});
}

TEST(DdlTest, CreateAllBuildsTheSameCatalogAsTheMigrations) {
  TestDatabase migrated, created;
  Migrate(migrated);
  created.Exec(CreateAllSql(ExpectedSchema(*Protos())));
  EXPECT_EQ(Drift(created, *Protos()), std::vector<std::string>{});
  pqxx::connection a(migrated.url()), b(created.url());
  auto from_migrations = ReadCatalog(a);
  auto from_protos = ReadCatalog(b);
  ASSERT_TRUE(from_migrations.ok() && from_protos.ok());
  std::vector<std::string> lines;
  for (const auto& d : Compare(*from_migrations, *from_protos)) lines.push_back(d.what);
  for (const auto& d : Compare(*from_protos, *from_migrations)) lines.push_back(d.what);
  EXPECT_EQ(lines, std::vector<std::string>{});
}

TEST(DdlTest, OrdersTablesSoReferencesComeFirst) {
  SchemaDef def = ExpectedSchema(*Protos());
  std::vector<std::string> names;
  for (const TableDef& t : def.tables) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"team", "hero", "user", "class", "conversation"}));
}

TEST(DdlTest, MapsEveryFieldTypeToItsColumnType) {
  SchemaDef def = ExpectedSchema(*Widgets(false));
  const TableDef& widget = def.tables.back();
  std::vector<std::string> columns;
  for (const ColumnDef& c : widget.columns) {
    columns.push_back(absl::StrCat(c.name, " ", c.type, c.collation.empty() ? "" : " C",
                                   c.not_null ? " not null" : "",
                                   c.default_expr.empty() ? "" : " = " + c.default_expr));
  }
  EXPECT_EQ(columns, (std::vector<std::string>{
                         "id uuid not null = gen_random_uuid()",
                         "owner_id uuid not null",
                         "enabled boolean not null",
                         "weight double precision not null",
                         "blob bytea not null",
                         "created_at timestamp with time zone not null = now()",
                         "due_at timestamp with time zone",
                         "etag text C not null = (gen_random_uuid())::text",
                         "code text C not null",
                     }));
}

TEST(DdlTest, ReportsEachKindOfDriftByName) {
  TestDatabase db;
  Migrate(db);
  db.Exec(R"sql(
    DROP INDEX hero_age_idx;
    ALTER TABLE hero ALTER COLUMN secret_name DROP NOT NULL;
    ALTER TABLE conversation DROP CONSTRAINT conversation_owner_id_fkey;
    ALTER TABLE class DROP CONSTRAINT class_owner_id_fkey,
      ADD CONSTRAINT class_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES "user" (id)
      ON DELETE CASCADE;
  )sql");
  const std::string report = absl::StrJoin(Drift(db, *Protos()), "\n");
  EXPECT_TRUE(absl::StrContains(report, "index \"hero_age_idx\" on \"hero\" (age) is missing"))
      << report;
  EXPECT_TRUE(absl::StrContains(
      report, "column \"hero\".\"secret_name\" is nullable in the database, NOT NULL in the protos"))
      << report;
  EXPECT_TRUE(absl::StrContains(report, "foreign key \"conversation_owner_id_fkey\" (owner_id) "
                                        "-> user ON DELETE RESTRICT on \"conversation\" is missing"))
      << report;
  EXPECT_TRUE(absl::StrContains(report, "foreign key \"class_owner_id_fkey\" (owner_id) -> user "
                                        "ON DELETE CASCADE on \"class\" differs from the protos"))
      << report;
  EXPECT_EQ(Drift(db, *Protos()).size(), 4u) << report;
}

TEST(DdlTest, ADiffForAnAddedFieldAppliesAndLeavesNoDrift) {
  TestDatabase db;
  db.Exec(CreateAllSql(ExpectedSchema(*Widgets(false))));
  pqxx::connection conn(db.url());
  auto actual = ReadCatalog(conn);
  ASSERT_TRUE(actual.ok());
  const auto differences = Compare(ExpectedSchema(*Widgets(true)), *actual);
  const std::string sql = MigrationSql(differences);
  EXPECT_TRUE(absl::StrContains(sql, "ALTER TABLE \"widget\" ADD COLUMN \"note\" text COLLATE "
                                     "\"C\";"))
      << sql;
  EXPECT_TRUE(absl::StrContains(sql, "CREATE INDEX \"widget_note_idx\" ON \"widget\" (\"note\");"))
      << sql;
  EXPECT_FALSE(absl::StrContains(sql, "DECIDE")) << sql;
  db.Exec(sql);
  EXPECT_EQ(Drift(db, *Widgets(true)), std::vector<std::string>{});
}

TEST(DdlTest, ADestructiveChangeIsWrittenCommentedOut) {
  TestDatabase db;
  db.Exec(CreateAllSql(ExpectedSchema(*Widgets(true))));
  pqxx::connection conn(db.url());
  auto actual = ReadCatalog(conn);
  ASSERT_TRUE(actual.ok());
  const std::string sql = MigrationSql(Compare(ExpectedSchema(*Widgets(false)), *actual));
  EXPECT_TRUE(absl::StrContains(sql, "-- column \"widget\".\"note\" is not in the protos\n"
                                     "-- DECIDE: "))
      << sql;
  EXPECT_TRUE(absl::StrContains(sql, "\n-- ALTER TABLE \"widget\" DROP COLUMN \"note\";")) << sql;
  db.Exec(sql);  // only comments and the index drop suggestion: nothing runs
  EXPECT_EQ(Drift(db, *Widgets(false)).size(), 2u);
}

TEST(DdlTest, NotNullOnExistingRowsIsLeftToAPerson) {
  TestDatabase db;
  db.Exec(CreateAllSql(ExpectedSchema(*Widgets(false))));
  db.Exec("ALTER TABLE widget ALTER COLUMN code DROP NOT NULL");
  pqxx::connection conn(db.url());
  const std::string sql = MigrationSql(Compare(ExpectedSchema(*Widgets(false)), *ReadCatalog(conn)));
  EXPECT_TRUE(absl::StrContains(sql, "-- ALTER TABLE \"widget\" ALTER COLUMN \"code\" SET NOT NULL;"))
      << sql;
}

TEST(DdlTest, StrictSchemaCheckKeepsReadinessNotServing) {
  TestDatabase db;
  Migrate(db);
  db.Exec("DROP INDEX hero_age_idx");
  protomodel::testing::TestServer strict(db.url(), [](server::ServerOptions& options) {
    options.schema_check = "strict";
  });
  auto channel = strict.NewChannel();
  EXPECT_FALSE(strict.WaitReady(absl::Seconds(2)));
  EXPECT_EQ(protomodel::testing::HealthStatus(channel, ""), "NOT_SERVING");
  EXPECT_EQ(protomodel::testing::HealthStatus(channel, "liveness"), "SERVING");
  protomodel::testing::TestServer warn(db.url());
  EXPECT_TRUE(warn.WaitReady());
}

int RunServerBinary(const std::string& args, std::string* output) {
  protomodel::testing::CommandResult result =
      protomodel::testing::RunProcess(absl::StrCat(PROTOMODEL_SERVER_BINARY, " ", args));
  *output += result.output;
  return result.exit;
}

TEST(SchemaCommandTest, CheckExitsNonZeroOnDrift) {
  TestDatabase db;
  Migrate(db);
  std::string out;
  EXPECT_EQ(RunServerBinary("schema check --database_url '" + db.url() + "'", &out), 0) << out;
  db.Exec("DROP INDEX hero_name_idx");
  out.clear();
  EXPECT_EQ(RunServerBinary("schema check --database_url '" + db.url() + "'", &out), 1);
  EXPECT_EQ(out, "index \"hero_name_idx\" on \"hero\" (name) is missing\n");
}

// A field renamed under the same number is a column rename: the column's
// comment records the number, so nothing is dropped and nothing added.
TEST(SchemaCommandTest, DiffRenamesAColumnWhoseFieldWasRenamed) {
  TestDatabase db;
  Migrate(db);
  // As if the protos had called field 2 of Hero `alias` before `name`.
  db.Exec("ALTER TABLE hero RENAME COLUMN name TO alias");
  std::string out;
  EXPECT_EQ(RunServerBinary("schema diff --database_url '" + db.url() + "'", &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "ALTER TABLE \"hero\" RENAME COLUMN \"alias\" TO \"name\";"))
      << out;
  EXPECT_FALSE(absl::StrContains(out, "DROP COLUMN")) << out;
  EXPECT_FALSE(absl::StrContains(out, "ADD COLUMN")) << out;
  // Applied, the database matches the protos again (the index and its
  // name follow the column).
  db.Exec("ALTER TABLE hero RENAME COLUMN alias TO name");
  EXPECT_EQ(Drift(db, *Protos()), std::vector<std::string>{});
}

TEST(DdlTest, ColumnsRecordTheirFieldNumbers) {
  TestDatabase db;
  Migrate(db);
  EXPECT_EQ(db.Exec("SELECT col_description('hero'::regclass, 3)")[0][0].as<std::string>(),
            "protomodel field 3");
}

// The server's own tables come from its migration track: the check says
// when one of its migrations is not applied.
TEST(SchemaCommandTest, CheckCoversTheServersOwnTables) {
  TestDatabase db;
  Migrate(db);
  db.Exec("DELETE FROM protomodel_server_migrations");
  std::string out;
  EXPECT_EQ(RunServerBinary("schema check --database_url '" + db.url() + "'", &out), 1);
  EXPECT_EQ(out,
            "the server's own tables: migration 0001_request_ids is not applied "
            "(protomodel-server migrate applies it)\n"
            "the server's own tables: migration 0002_changes is not applied "
            "(protomodel-server migrate applies it)\n"
            "the server's own tables: migration 0003_document_updates is not applied "
            "(protomodel-server migrate applies it)\n");
}

// The watches' triggers are the server's too: a table without them (or
// with an old version of them) is reported, and `migrate` remakes them.
TEST(SchemaCommandTest, CheckCoversTheWatchesTriggers) {
  TestDatabase db;
  Migrate(db);
  db.Exec("DROP TRIGGER protomodel_watch_update ON hero");
  std::string out;
  EXPECT_EQ(RunServerBinary("schema check --database_url '" + db.url() + "'", &out), 1);
  EXPECT_EQ(out,
            "table \"hero\": the watches' triggers are missing or out of date "
            "(protomodel-server migrate makes them)\n");
  out.clear();
  EXPECT_EQ(RunServerBinary("migrate --database_url '" + db.url() + "'", &out), 0) << out;
  out.clear();
  EXPECT_EQ(RunServerBinary("schema check --database_url '" + db.url() + "'", &out), 0) << out;
}

TEST(SchemaCommandTest, SqlPrintsCreateAll) {
  std::string out;
  EXPECT_EQ(RunServerBinary("schema sql", &out), 0);
  const std::unique_ptr<Schema> protos = Protos();
  std::string want = CreateAllSql(ExpectedSchema(*protos));
  for (const auto& table : protos->tables()) absl::StrAppend(&want, "\n", WatchTriggerSql(*table));
  EXPECT_EQ(out, want);
  // Applied to an empty database, it makes one the check finds complete.
  TestDatabase db;
  db.Exec(out);
  out.clear();
  EXPECT_EQ(RunServerBinary("schema check --database_url '" + db.url() + "'", &out), 0) << out;
  EXPECT_EQ(out, "");
}

TEST(SchemaCommandTest, NewWritesTheNextMigration) {
  TestDatabase db;
  Migrate(db);
  db.Exec("DROP INDEX hero_name_idx");
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / absl::StrCat("migrations-", getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "0001_heroes.sql") << "-- first\n";
  std::ofstream(dir / "0007_later.sql") << "-- later\n";
  std::string out;
  EXPECT_EQ(RunServerBinary(absl::StrCat("schema new hero_index --migrations_dir ", dir.string(),
                             " --database_url '", db.url(), "'"),
                &out),
            0)
      << out;
  const std::filesystem::path written = dir / "0008_hero_index.sql";
  ASSERT_TRUE(std::filesystem::exists(written)) << out;
  std::ifstream in(written);
  const std::string sql((std::istreambuf_iterator<char>(in)), {});
  EXPECT_TRUE(absl::StrContains(sql, "CREATE INDEX \"hero_name_idx\" ON \"hero\" (\"name\");"));
  db.Exec(sql);
  EXPECT_EQ(Drift(db, *Protos()), std::vector<std::string>{});
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace protomodel::db
