// The filter language of docs/API.md: parsing and compiling to SQL.
#include "db/sql/filter.h"

#include <string>

#include <gtest/gtest.h>

#include "db/schema/schema.h"
#include "heroes/v1/heroes.pb.h"

namespace protomodel::db {
namespace {

class FilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto schema = Schema::Build({heroes::v1::Team::descriptor(),
                                 heroes::v1::Hero::descriptor()});
    ASSERT_TRUE(schema.ok()) << schema.status();
    schema_ = *std::move(schema);
    hero_ = schema_->Find(heroes::v1::Hero::descriptor());
  }

  // The SQL for `filter` over `hero`, or the error message.
  std::string Sql(const std::string& filter, Params* params = nullptr) {
    Params local;
    auto node = ParseFilter(filter);
    if (!node.ok()) return std::string(node.status().message());
    auto sql = CompileFilter(*node, *hero_, params ? params : &local);
    if (!sql.ok()) return std::string(sql.status().message());
    return *sql;
  }

  absl::StatusCode Code(const std::string& filter) {
    auto node = ParseFilter(filter);
    if (!node.ok()) return node.status().code();
    Params params;
    return CompileFilter(*node, *hero_, &params).status().code();
  }

  std::unique_ptr<Schema> schema_;
  const TableSchema* hero_ = nullptr;
};

TEST_F(FilterTest, ComparesRequiredColumnsPlainly) {
  EXPECT_EQ(Sql(R"(name = "Deadpond")"), "\"name\" = $1");
  EXPECT_EQ(Sql(R"(name != "x")"), "\"name\" <> $1");
  EXPECT_EQ(Sql("id >= 3"), "\"id\" >= $1");
}

TEST_F(FilterTest, OptionalColumnsUseTwoValuedLogic) {
  EXPECT_EQ(Sql("age < 30"), "(\"age\" IS NOT NULL AND \"age\" < $1)");
  EXPECT_EQ(Sql("age != 30"), "\"age\" IS DISTINCT FROM $1");
  EXPECT_EQ(Sql("age = null"), "\"age\" IS NULL");
  EXPECT_EQ(Sql("team_id != null"), "\"team_id\" IS NOT NULL");
}

TEST_F(FilterTest, NotBindsTightestThenOrThenAnd) {
  EXPECT_EQ(Sql("age = 1 AND id = 2 OR id = 3"),
            "((\"age\" IS NOT NULL AND \"age\" = $1) AND (\"id\" = $2 OR \"id\" = $3))");
  EXPECT_EQ(Sql("NOT id = 1 OR id = 2"), "((NOT \"id\" = $1) OR \"id\" = $2)");
  EXPECT_EQ(Sql("(id = 1 AND id = 2) OR id = 3"),
            "((\"id\" = $1 AND \"id\" = $2) OR \"id\" = $3)");
}

TEST_F(FilterTest, ValuesAreParametersNeverSql) {
  Params params;
  EXPECT_EQ(Sql(R"(name = "x'; DROP TABLE hero; --")", &params), "\"name\" = $1");
  EXPECT_EQ(params.size(), 1);
  EXPECT_EQ(Sql(R"(name = "\"quoted\" \\ back")"), "\"name\" = $1");
}

TEST_F(FilterTest, TrailingStarIsAPrefixMatch) {
  Params params;
  EXPECT_EQ(Sql(R"(name = "Dead*")", &params), "\"name\" LIKE $1");
  auto raw = std::move(params).Release();
  EXPECT_EQ(raw.strings[0], "Dead%");
  EXPECT_EQ(Sql(R"(name != "Dead*")"), "NOT \"name\" LIKE $1");
}

TEST_F(FilterTest, PercentUnderscoreAndEscapedStarMatchThemselves) {
  Params params;
  EXPECT_EQ(Sql(R"(name = "50%_a\**")", &params), "\"name\" LIKE $1");
  EXPECT_EQ(std::move(params).Release().strings[0], "50\\%\\_a*%");
  Params exact;
  EXPECT_EQ(Sql(R"(name = "a\*")", &exact), "\"name\" = $1");
  EXPECT_EQ(std::move(exact).Release().strings[0], "a*");
  Params middle;
  EXPECT_EQ(Sql(R"(name = "a*b")", &middle), "\"name\" = $1");
  EXPECT_EQ(std::move(middle).Release().strings[0], "a*b");
}

TEST_F(FilterTest, RejectsPrefixOnNonStringField) {
  EXPECT_EQ(Sql(R"(age = "3*")"),
            "filter: field 'age' is not a string: a prefix match ('*') is not allowed");
}

TEST_F(FilterTest, RejectsUnknownAndUnfilterableFields) {
  EXPECT_EQ(Sql("power = 3"), "filter: unknown field 'power' (Hero has no such field)");
  EXPECT_EQ(Code(R"(team = "x")"), absl::StatusCode::kInvalidArgument);
}

TEST_F(FilterTest, RejectsTypeMismatches) {
  EXPECT_EQ(Code(R"(age = "thirty")"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code("name = 3"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code("age = 99999999999"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code("age = true"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code("age = 1.5"), absl::StatusCode::kInvalidArgument);
}

TEST_F(FilterTest, RejectsNonPositiveIds) {
  EXPECT_EQ(Sql("id = 0"), "filter: field 'id': ids are integers > 0, not 0");
  EXPECT_EQ(Code("team_id = -4"), absl::StatusCode::kInvalidArgument);
}

TEST_F(FilterTest, NullOnlyWithEqualityOnOptionalFields) {
  EXPECT_EQ(Sql("name = null"),
            "filter: field 'name' has no presence (not optional, not a message), so it is "
            "never null");
  EXPECT_EQ(Sql("age < null"), "filter: field 'age' compares with null only by = or !=");
}

TEST_F(FilterTest, RejectsTwoRestrictionsWithoutOperator) {
  EXPECT_EQ(Sql("id = 1 id = 2"),
            "filter: expected AND or OR between two restrictions, or the end at offset 7");
  EXPECT_EQ(Code("(id = 1) (id = 2)"), absl::StatusCode::kInvalidArgument);
}

TEST_F(FilterTest, ReportsSyntaxErrorsWithOffsets) {
  EXPECT_EQ(Sql("(id = 1"), "filter: unbalanced '(' at offset 0");
  EXPECT_EQ(Sql("id = 1)"), "filter: unbalanced ')' at offset 6");
  EXPECT_EQ(Sql(R"(name = "abc)"), "filter: unterminated string at offset 7");
  EXPECT_EQ(Sql("id = "), "filter: expected a value: a quoted string, a number, true, false, "
                          "null or an enum value's name at offset 5");
  EXPECT_EQ(Sql("name = FANTASY"), "filter: field 'name' is a string: the value does not match");
  EXPECT_EQ(Sql("id 3"), "filter: expected an operator after 'id' at offset 3");
  EXPECT_EQ(Sql("id = 1 AND"), "filter: expected a restriction, found the end at offset 10");
  EXPECT_EQ(Sql("id ! 1"), "filter: '!' must be '!=' at offset 3");
  EXPECT_EQ(Sql("id = 1 ; x"), "filter: unexpected character ';' at offset 7");
  EXPECT_EQ(Sql(R"(name = "\q")"), "filter: unknown escape '\\q' at offset 8");
}

TEST_F(FilterTest, RejectsDeepNestingWithoutCrashing) {
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += "(";
  deep += "id = 1";
  for (int i = 0; i < 10000; ++i) deep += ")";
  EXPECT_EQ(Code(deep), absl::StatusCode::kInvalidArgument);
  std::string nots;
  for (int i = 0; i < 10000; ++i) nots += "NOT ";
  EXPECT_EQ(Code(nots + "id = 1"), absl::StatusCode::kInvalidArgument);
  std::string opens(5000, '(');
  EXPECT_EQ(Code(opens), absl::StatusCode::kInvalidArgument);
}

TEST_F(FilterTest, AcceptsNestingUpToTheLimit) {
  std::string nested;
  for (int i = 0; i < kMaxFilterDepth - 1; ++i) nested += "(";
  nested += "id = 1";
  for (int i = 0; i < kMaxFilterDepth - 1; ++i) nested += ")";
  EXPECT_EQ(Sql(nested), "\"id\" = $1");
}

TEST_F(FilterTest, RejectsHugeFilters) {
  const std::string huge = "name = \"" + std::string(1 << 20, 'a') + "\"";
  EXPECT_EQ(Sql(huge), "filter: longer than the limit of 8192 bytes");
}

TEST_F(FilterTest, RejectsNulCharacters) {
  EXPECT_EQ(Code(std::string("name = \"a\0b\"", 12)), absl::StatusCode::kInvalidArgument);
}

TEST_F(FilterTest, SurvivesHostileBytes) {
  const std::string inputs[] = {
      "", ")", "(", "\"", "\\", "AND", "OR", "NOT", "= =", "id = 1 OR", "NOT NOT",
      std::string("\0\xff\xfe", 3), "id = \"\\", "id=1AND id=2", "id==1",
      "id = 1 AND (id = 2 OR (id = 3 AND NOT))", "-", "--1", "id = 1e999",
      "name = \"*\"", "id <= >= 3"};
  for (const std::string& input : inputs) {
    auto node = ParseFilter(input);
    if (!node.ok()) {
      EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument) << input;
      continue;
    }
    Params params;
    auto sql = CompileFilter(*node, *hero_, &params);
    EXPECT_TRUE(sql.ok() || sql.status().code() == absl::StatusCode::kInvalidArgument)
        << input;
  }
}

TEST_F(FilterTest, EmptyFilterIsAnError) {
  EXPECT_EQ(Sql(""), "filter: expected a restriction, found the end at offset 0");
}

}  // namespace
}  // namespace protomodel::db
