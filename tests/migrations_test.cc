// Migrations: in order, once each, even with several servers starting at once.
#include "db/schema/migrations.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/connection>

#include "harness/postgres.h"

namespace protomodel::db {
namespace {

using protomodel::testing::TestDatabase;

TEST(MigrationsTest, EmbedsTheFilesInOrder) {
  const auto& migrations = EmbeddedMigrations();
  ASSERT_FALSE(migrations.empty());
  EXPECT_EQ(migrations[0].name, "0001_heroes");
  for (size_t i = 1; i < migrations.size(); ++i) {
    EXPECT_LT(migrations[i - 1].name, migrations[i].name);
  }
}

TEST(MigrationsTest, AppliesEachMigrationOnce) {
  TestDatabase db;
  pqxx::connection conn(db.url());
  auto first = ApplyMigrations(conn, EmbeddedMigrations());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->size(), EmbeddedMigrations().size());
  auto second = ApplyMigrations(conn, EmbeddedMigrations());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->empty());
  EXPECT_EQ(db.Exec("SELECT count(*) FROM schema_migrations")[0][0].as<size_t>(),
            EmbeddedMigrations().size());
  EXPECT_EQ(*SchemaVersion(conn), static_cast<int>(EmbeddedMigrations().size()));
}

TEST(MigrationsTest, ConcurrentServersApplyEachMigrationExactlyOnce) {
  TestDatabase db;
  const std::vector<MigrationFile> migrations = {
      {"0001_a", "CREATE TABLE a (x int); SELECT pg_sleep(0.2);"},
      {"0002_b", "CREATE TABLE b (x int); INSERT INTO a VALUES (1);"},
  };
  constexpr int kServers = 4;
  std::vector<absl::StatusOr<std::vector<std::string>>> results(
      kServers, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kServers; ++i) {
    threads.emplace_back([&, i] {
      pqxx::connection conn(db.url());
      results[i] = ApplyMigrations(conn, migrations);
    });
  }
  for (auto& t : threads) t.join();
  size_t applied = 0;
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    applied += result->size();
  }
  EXPECT_EQ(applied, migrations.size());
  EXPECT_EQ(db.Exec("SELECT count(*) FROM a")[0][0].as<int>(), 1);
  EXPECT_EQ(db.Exec("SELECT count(*) FROM schema_migrations")[0][0].as<int>(), 2);
}

TEST(MigrationsTest, AFailingMigrationLeavesNothingBehind) {
  TestDatabase db;
  pqxx::connection conn(db.url());
  const std::vector<MigrationFile> migrations = {
      {"0001_ok", "CREATE TABLE ok (x int);"},
      {"0002_broken", "CREATE TABLE half (x int); SELEKT 1;"},
  };
  auto result = ApplyMigrations(conn, migrations);
  EXPECT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("0002_broken"), absl::string_view::npos);
  EXPECT_EQ(db.Exec("SELECT to_regclass('half') IS NULL")[0][0].as<bool>(), true);
  EXPECT_EQ(db.Exec("SELECT count(*) FROM schema_migrations")[0][0].as<int>(), 1);
  EXPECT_EQ(*SchemaVersion(conn), 1);
}

// The server's own tables come on a track of their own, applied first and
// recorded apart, whatever the user's migrations hold.
TEST(MigrationsTest, TheServersTrackComesFirstAndApart) {
  TestDatabase db;
  pqxx::connection conn(db.url());
  auto applied = ApplyBothTracks(conn, {{"0001_notes", "CREATE TABLE note (x int);"}});
  ASSERT_TRUE(applied.ok()) << applied.status();
  ASSERT_EQ(applied->size(), ServerMigrations().size() + 1);
  EXPECT_EQ(applied->front(), "server/0001_request_ids");
  EXPECT_EQ(applied->back(), "0001_notes");
  EXPECT_EQ(db.Exec("SELECT to_regclass('protomodel_request_ids') IS NOT NULL")[0][0].as<bool>(),
            true);
  EXPECT_EQ(db.Exec("SELECT count(*) FROM protomodel_server_migrations")[0][0].as<size_t>(),
            ServerMigrations().size());
  EXPECT_EQ(db.Exec("SELECT name FROM schema_migrations")[0][0].as<std::string>(), "0001_notes");
  EXPECT_TRUE(ApplyBothTracks(conn, {{"0001_notes", "CREATE TABLE note (x int);"}})->empty());
}

// A database made when the request-id table was the built-in track's 0003
// takes the server's track without a clash.
TEST(MigrationsTest, ADatabaseFromBeforeTheServersTrackTakesIt) {
  TestDatabase db;
  pqxx::connection conn(db.url());
  ASSERT_TRUE(ApplyMigrations(conn, {{"0003_request_ids",
                                      "CREATE TABLE protomodel_request_ids (request_id uuid, "
                                      "table_name text, resource_key text, created_at "
                                      "timestamptz NOT NULL DEFAULT now(), PRIMARY KEY "
                                      "(request_id, table_name));"}})
                  .ok());
  auto applied = ApplyBothTracks(conn, EmbeddedMigrations());
  ASSERT_TRUE(applied.ok()) << applied.status();
}

TEST(MigrationsTest, ReadsADirectoryInNameOrder) {
  const std::string dir = ::testing::TempDir() + "/migrations-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/0002_b.sql") << "CREATE TABLE b (x int);";
  std::ofstream(dir + "/0001_a.sql") << "CREATE TABLE a (x int);";
  std::ofstream(dir + "/README.md") << "not a migration";
  auto files = ReadMigrationsDir(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].name, "0001_a");
  EXPECT_EQ((*files)[1].sql, "CREATE TABLE b (x int);");
  std::ofstream(dir + "/notes.sql") << "SELECT 1;";
  EXPECT_NE(ReadMigrationsDir(dir).status().message().find(dir), absl::string_view::npos);
  EXPECT_FALSE(ReadMigrationsDir(dir + "/nope").ok());
  std::filesystem::remove_all(dir);
}

TEST(MigrationsTest, RejectsBadFileNames) {
  TestDatabase db;
  pqxx::connection conn(db.url());
  auto result = ApplyMigrations(conn, {{"heroes", "SELECT 1"}});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace protomodel::db
