// order_by (AIP-132) and the keyset conditions page tokens turn into.
#include "db/sql/order_by.h"

#include <gtest/gtest.h>

#include "db/schema/schema.h"
#include "heroes/v1/heroes.pb.h"

namespace protomodel::db {
namespace {

class OrderByTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto schema = Schema::Build({heroes::v1::Team::descriptor(),
                                 heroes::v1::Hero::descriptor()});
    ASSERT_TRUE(schema.ok()) << schema.status();
    schema_ = *std::move(schema);
    hero_ = schema_->Find(heroes::v1::Hero::descriptor());
  }

  std::string Order(const std::string& order_by) {
    auto keys = ParseOrderBy(order_by, *hero_);
    if (!keys.ok()) return std::string(keys.status().message());
    return OrderBySql(*keys);
  }

  std::unique_ptr<Schema> schema_;
  const TableSchema* hero_ = nullptr;
};

TEST_F(OrderByTest, DefaultsToId) { EXPECT_EQ(Order(""), "\"id\""); }

TEST_F(OrderByTest, IdBreaksTiesLast) {
  EXPECT_EQ(Order("name"), "\"name\", \"id\"");
  EXPECT_EQ(Order("age desc, name asc"), "\"age\" DESC, \"name\", \"id\"");
  EXPECT_EQ(Order("  age   DESC ,name"), "\"age\" DESC, \"name\", \"id\"");
}

TEST_F(OrderByTest, KeepsAnExplicitIdDirection) {
  EXPECT_EQ(Order("id desc"), "\"id\" DESC");
  EXPECT_EQ(Order("id desc, name"), "\"id\" DESC");
}

TEST_F(OrderByTest, RejectsBadKeys) {
  EXPECT_EQ(Order("power"), "order_by: unknown field 'power'");
  EXPECT_EQ(Order("name sideways"), "order_by: 'sideways': direction must be asc or desc");
  EXPECT_EQ(Order("name,,age"), "order_by: empty key between commas");
  EXPECT_EQ(Order("name, name desc"), "order_by: field 'name' appears twice");
  EXPECT_EQ(Order("name asc desc"),
            "order_by: 'name asc desc': want 'field', 'field asc' or 'field desc'");
  EXPECT_EQ(Order("team"), "order_by: unknown field 'team'");
}

TEST_F(OrderByTest, LimitsTheNumberOfKeys) {
  EXPECT_EQ(Order("name, secret_name, age, team_id, name"),
            "order_by: field 'name' appears twice");
}

TEST_F(OrderByTest, KeysetOnNotNullKeysIsARowComparison) {
  auto keys = ParseOrderBy("name", *hero_);
  ASSERT_TRUE(keys.ok());
  google::protobuf::RepeatedPtrField<protomodel::v1::KeyValue> last;
  last.Add()->set_string_value("Rusty-Man");
  last.Add()->set_int_value(7);
  Params params;
  auto sql = KeysetSql(*keys, last, &params);
  ASSERT_TRUE(sql.ok()) << sql.status();
  EXPECT_EQ(*sql, "(\"name\", \"id\") > ($1, $2)");
}

TEST_F(OrderByTest, KeysetPlacesNullsLastAscendingAndFirstDescending) {
  google::protobuf::RepeatedPtrField<protomodel::v1::KeyValue> last;
  last.Add()->set_int_value(30);
  last.Add()->set_int_value(7);
  Params params;
  auto asc = KeysetSql(*ParseOrderBy("age", *hero_), last, &params);
  ASSERT_TRUE(asc.ok()) << asc.status();
  EXPECT_EQ(*asc,
            "(((\"age\" > $1 OR \"age\" IS NULL)) OR (\"age\" = $1 AND \"id\" > $2))");

  google::protobuf::RepeatedPtrField<protomodel::v1::KeyValue> null_last;
  null_last.Add()->set_null(true);
  null_last.Add()->set_int_value(7);
  Params p2;
  auto desc = KeysetSql(*ParseOrderBy("age desc", *hero_), null_last, &p2);
  ASSERT_TRUE(desc.ok()) << desc.status();
  EXPECT_EQ(*desc, "((\"age\" IS NOT NULL) OR (\"age\" IS NULL AND \"id\" > $1))");
}

TEST_F(OrderByTest, KeysetRejectsValuesThatDoNotFit) {
  auto keys = ParseOrderBy("name", *hero_);
  google::protobuf::RepeatedPtrField<protomodel::v1::KeyValue> wrong;
  wrong.Add()->set_int_value(1);
  wrong.Add()->set_int_value(7);
  Params params;
  EXPECT_EQ(KeysetSql(*keys, wrong, &params).status().code(),
            absl::StatusCode::kInvalidArgument);
  google::protobuf::RepeatedPtrField<protomodel::v1::KeyValue> short_token;
  short_token.Add()->set_int_value(7);
  EXPECT_EQ(KeysetSql(*keys, short_token, &params).status().code(),
            absl::StatusCode::kInvalidArgument);
  google::protobuf::RepeatedPtrField<protomodel::v1::KeyValue> null_name;
  null_name.Add()->set_null(true);
  null_name.Add()->set_int_value(7);
  EXPECT_EQ(KeysetSql(*keys, null_name, &params).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace protomodel::db
