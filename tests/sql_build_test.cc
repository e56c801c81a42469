// The SQL of Table's writes and the binding of values (db/sql_build.h), and
// the other places values become parameters; the cases here are the bugs the
// fuzz targets (tests/fuzz) found.
#include "db/sql/sql_build.h"

#include <cstdint>
#include <utility>

#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "db/errors.h"
#include "db/sql/filter.h"
#include "db/sql/order_by.h"
#include "db/schema/schema.h"
#include "db/sql/values.h"
#include "heroes/v1/heroes.pb.h"
#include "proto/testing/v1/widget.pb.h"

namespace protomodel::db {
namespace {

class SqlBuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto schema = Schema::Build({heroes::v1::Team::descriptor(), heroes::v1::Hero::descriptor(),
                                 ::testing::v1::Owner::descriptor(),
                                 ::testing::v1::Widget::descriptor()});
    ASSERT_TRUE(schema.ok()) << schema.status();
    schema_ = *std::move(schema);
    hero_ = schema_->Find(heroes::v1::Hero::descriptor());
    widget_ = schema_->Find(::testing::v1::Widget::descriptor());
  }

  std::vector<std::string> Strings(Params params) {
    return std::move(params).Release().strings;
  }

  std::unique_ptr<Schema> schema_;
  const TableSchema* hero_ = nullptr;
  const TableSchema* widget_ = nullptr;
};

TEST_F(SqlBuildTest, InsertBindsEveryWritableColumnInOrder) {
  EXPECT_EQ(InsertSql(*hero_),
            "INSERT INTO \"hero\" (\"name\", \"secret_name\", \"age\", \"team_id\") "
            "VALUES ($1, $2, $3, $4) RETURNING \"id\", \"name\", \"secret_name\", \"age\", "
            "\"team_id\"");
  heroes::v1::Hero hero;
  hero.set_name("Deadpond");
  hero.set_secret_name("x'); DROP TABLE hero; --");
  Params params;
  ASSERT_TRUE(BindWritable(*hero_, hero, &params).ok());
  pqxx::internal::params raw = std::move(params).Release();
  EXPECT_EQ(raw.strings, (std::vector<std::string>{"Deadpond", "x'); DROP TABLE hero; --"}));
  EXPECT_EQ(raw.nonnulls, (std::vector<int>{1, 1, 0, 0}));
}

TEST_F(SqlBuildTest, AnIdempotentInsertRecordsItsRequestIdInTheSameStatement) {
  EXPECT_EQ(InsertRecordingSql(*hero_),
            "WITH \"created\" AS (INSERT INTO \"hero\" (\"name\", \"secret_name\", \"age\", "
            "\"team_id\") VALUES ($1, $2, $3, $4) RETURNING *), \"recorded\" AS (INSERT INTO "
            "\"protomodel_request_ids\" (\"request_id\", \"table_name\", \"resource_key\") "
            "SELECT $5::uuid, $6::text, \"created\".\"id\"::text FROM \"created\") SELECT "
            "\"created\".\"id\", \"created\".\"name\", \"created\".\"secret_name\", "
            "\"created\".\"age\", \"created\".\"team_id\" FROM \"created\"");
}

TEST_F(SqlBuildTest, ABatchOfPointReadsTakesItsKeysAsOneArray) {
  EXPECT_EQ(GetManySql(*hero_),
            "SELECT \"id\", \"name\", \"secret_name\", \"age\", \"team_id\" FROM "
            "\"hero\" WHERE \"id\" = ANY($1::bigint[])");
}

// Every element quoted, so text that array syntax gives a meaning to stays
// one element with its exact value.
TEST_F(SqlBuildTest, ArrayLiteralsQuoteEveryElement) {
  EXPECT_EQ(ArrayLiteral({}), "{}");
  EXPECT_EQ(ArrayLiteral({"7", "12"}), R"({"7","12"})");
  EXPECT_EQ(ArrayLiteral({"a,b", "{c}", "NULL", ""}), R"({"a,b","{c}","NULL",""})");
  EXPECT_EQ(ArrayLiteral({R"(say "hi")", R"(back\slash)"}),
            R"({"say \"hi\"","back\\slash"})");
}

// Update statements are prepared per connection under their name: the same
// columns in another mask order must not reuse a text whose placeholders
// stand for other columns (found by fuzz_mapper).
TEST_F(SqlBuildTest, UpdateNameDeterminesItsText) {
  heroes::v1::Hero hero;
  hero.set_name("Deadpond");
  hero.set_secret_name("Dive Wilson");
  const Column* name = hero_->FindColumn("name");
  const Column* secret = hero_->FindColumn("secret_name");
  Params a, b;
  auto forward = UpdateStatement(*hero_, "7", hero, {name, secret}, std::nullopt, &a);
  auto backward = UpdateStatement(*hero_, "7", hero, {secret, name}, std::nullopt, &b);
  ASSERT_TRUE(forward.ok() && backward.ok());
  EXPECT_EQ(forward->name, "hero.update.6");
  EXPECT_EQ(backward->name, forward->name);
  EXPECT_EQ(backward->sql, forward->sql);
  EXPECT_EQ(forward->sql,
            "UPDATE \"hero\" SET \"name\" = $2, \"secret_name\" = $3 WHERE \"id\" = $1 "
            "RETURNING \"id\", \"name\", \"secret_name\", \"age\", \"team_id\"");
  EXPECT_EQ(Strings(std::move(b)), (std::vector<std::string>{"7", "Deadpond", "Dive Wilson"}));
}

TEST_F(SqlBuildTest, UpdateChecksTheEtag) {
  ::testing::v1::Widget widget;
  widget.set_code("c");
  Params params;
  auto update = UpdateStatement(*widget_, "k", widget, {widget_->FindColumn("code")},
                                std::string("v1"), &params);
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(update->name, "widget.update.100.if");
  EXPECT_NE(update->sql.find("\"etag\" = gen_random_uuid()::text WHERE \"id\" = $1 AND "
                             "\"etag\" = $3"),
            std::string::npos)
      << update->sql;
}

// libpq sends text parameters as C strings: an etag "<etag>\0junk" was
// checked as "<etag>" (found by fuzz_mapper).
TEST_F(SqlBuildTest, RefusesEtagsWithNul) {
  ::testing::v1::Widget widget;
  widget.set_code("c");
  Params params;
  auto update = UpdateStatement(*widget_, "k", widget, {widget_->FindColumn("code")},
                                std::string("v1\0junk", 7), &params);
  EXPECT_EQ(update.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(update.status().message(), "widget.etag: text must not contain NUL characters");
  EXPECT_EQ(ErrorField(update.status()), "widget.etag");
  EXPECT_TRUE(CheckEtag("v1", "etag").ok());
  EXPECT_EQ(ErrorField(CheckEtag(std::string("v\0", 2), "etag")), "etag");
}

// Out of google.protobuf.Timestamp's range the conversion to microseconds
// overflowed (found by fuzz_mapper).
TEST_F(SqlBuildTest, RefusesInvalidTimestamps) {
  const Column* due_at = widget_->FindColumn("due_at");
  for (auto [seconds, nanos] : {std::pair<int64_t, int32_t>{INT64_MAX, 0},
                                {-62135596801, 0}, {253402300800, 0}, {0, -1},
                                {0, 1000000000}}) {
    ::testing::v1::Widget widget;
    widget.mutable_due_at()->set_seconds(seconds);
    widget.mutable_due_at()->set_nanos(nanos);
    Params params;
    absl::Status s = BindColumn(widget, *due_at, &params);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << seconds << " " << nanos;
    EXPECT_EQ(s.message().rfind("widget.due_at: not a valid timestamp", 0), 0u) << s;
  }
  ::testing::v1::Widget widget;
  widget.mutable_due_at()->set_seconds(253402300799);
  widget.mutable_due_at()->set_nanos(999999999);
  Params params;
  ASSERT_TRUE(BindColumn(widget, *due_at, &params).ok());
  EXPECT_EQ(Strings(std::move(params)),
            std::vector<std::string>{"9999-12-31 23:59:59.999999+00"});
}

// absl::ParseTime alone took five-digit years, one-digit months, spaces and
// "infinite-future" (found by fuzz_filter).
TEST_F(SqlBuildTest, FilterTimestampsAreRfc3339) {
  for (const char* bad : {"20210-4-02T03:04:05Z", "2021-4-02T03:04:05Z", " 2021-04-02T03:04:05Z",
                          "2021-04-02T03:04:05Z ", "infinite-future", "2021-04-02T03:04:05.Z",
                          "2021-04-02T03:04:05", "0001-01-01T00:00:00+01:00"}) {
    EXPECT_FALSE(ParseRfc3339Micros(bad, "t").ok()) << bad;
  }
  EXPECT_EQ(*ParseRfc3339Micros("1970-01-01T00:00:01.5+00:00", "t"), 1500000);
  EXPECT_EQ(*ParseRfc3339Micros("1970-01-01t01:00:00+01:00", "t"), 0);
  EXPECT_TRUE(ParseRfc3339Micros("9999-12-31T23:59:59.999999999z", "t").ok());
}

// StrCat kept six significant digits (found by review; fuzz_filter checks it).
TEST_F(SqlBuildTest, FilterNumbersKeepEveryDigit) {
  auto node = ParseFilter("weight = 1.2345678");
  ASSERT_TRUE(node.ok());
  Params params;
  ASSERT_TRUE(CompileFilter(*node, *widget_, &params).ok());
  const std::vector<std::string> bound = Strings(std::move(params));
  ASSERT_EQ(bound.size(), 1u);
  double back = 0;
  ASSERT_TRUE(absl::SimpleAtod(bound[0], &back));
  EXPECT_EQ(back, 1.2345678);
}

// Page tokens hold no secret: a caller can write a float key that is not a
// number, which reached PostgreSQL (found by fuzz_page_token).
TEST_F(SqlBuildTest, PageTokenFloatKeysMustBeNumbers) {
  auto keys = ParseOrderBy("weight", *widget_);
  ASSERT_TRUE(keys.ok());
  google::protobuf::RepeatedPtrField<protomodel::v1::KeyValue> last;
  last.Add()->set_string_value("abc");
  last.Add()->set_string_value("3f2504e0-4f89-41d3-9a0c-0305e82c3301");
  Params params;
  EXPECT_EQ(KeysetSql(*keys, last, &params).status().code(),
            absl::StatusCode::kInvalidArgument);
  last.Mutable(0)->set_string_value("1.25");
  Params ok;
  EXPECT_TRUE(KeysetSql(*keys, last, &ok).ok());
}

}  // namespace
}  // namespace protomodel::db
