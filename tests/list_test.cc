// List (ListHeroes): page sizes, filters, order_by, page tokens and
// read masks, as docs/API.md states them.
#include <set>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "harness/heroes_client.h"
#include "harness/test_server.h"

namespace protomodel::testing {
namespace {

using heroes::v1::Hero;
using heroes::v1::ListHeroesRequest;
using heroes::v1::ListHeroesResponse;

class ListTest : public ServiceTest {
 protected:
  // Heroes with names n1..nN and no age, inserted directly.
  void InsertMany(int n, const std::string& name_prefix = "n") {
    database().Exec(absl::StrCat("INSERT INTO hero (name, secret_name) SELECT '",
                                 name_prefix, "' || i, 's' FROM generate_series(1, ", n,
                                 ") AS i"));
  }

  // Every page of a query, concatenated: names in order.
  std::vector<std::string> All(ListHeroesRequest request) {
    std::vector<std::string> names;
    for (int pages = 0; pages < 10000; ++pages) {
      ListHeroesResponse response;
      grpc::Status status = client_.ListHeroes(request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      for (const Hero& hero : response.heroes()) names.push_back(hero.name());
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    return names;
  }

  std::vector<std::string> Filter(const std::string& filter,
                                  const std::string& order_by = "") {
    ListHeroesRequest request;
    request.set_filter(filter);
    request.set_order_by(order_by);
    return All(request);
  }

  grpc::Status ListStatus(const std::string& filter, const std::string& order_by = "") {
    ListHeroesRequest request;
    request.set_filter(filter);
    request.set_order_by(order_by);
    ListHeroesResponse response;
    return client_.ListHeroes(request, &response);
  }

  // The SQLModel tutorial's heroes.
  void Tutorial() {
    auto preventers = client_.NewTeam("Preventers");
    auto z_force = client_.NewTeam("Z-Force");
    client_.NewHero("Deadpond", "Dive Wilson", std::nullopt, z_force.id());
    client_.NewHero("Spider-Boy", "Pedro Parqueador", std::nullopt);
    client_.NewHero("Rusty-Man", "Tommy Sharp", 48, preventers.id());
    client_.NewHero("Tarantula", "Natalia Roman-on", 32);
    client_.NewHero("Black Lion", "Trevor Challa", 35);
    client_.NewHero("Dr. Weird", "Steve Weird", 36);
    client_.NewHero("Captain North America", "Esteban Rogelios", 93, preventers.id());
    preventers_ = preventers.id();
  }

  HeroesClient client_{channel()};
  int64_t preventers_ = 0;
};

using Names = std::vector<std::string>;

TEST_F(ListTest, DefaultPageSizeIsFifty) {
  InsertMany(60);
  ListHeroesResponse response;
  ASSERT_TRUE(client_.ListHeroes({}, &response).ok());
  EXPECT_EQ(response.heroes_size(), 50);
  EXPECT_FALSE(response.next_page_token().empty());
}

TEST_F(ListTest, PageSizeAboveAThousandIsAThousand) {
  InsertMany(1005);
  ListHeroesRequest request;
  request.set_page_size(5000);
  ListHeroesResponse response;
  ASSERT_TRUE(client_.ListHeroes(request, &response).ok());
  EXPECT_EQ(response.heroes_size(), 1000);
}

TEST_F(ListTest, NegativePageSizeIsInvalid) {
  ListHeroesRequest request;
  request.set_page_size(-1);
  ListHeroesResponse response;
  grpc::Status status = client_.ListHeroes(request, &response);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "page_size: must not be negative, not -1");
}

TEST_F(ListTest, LastPageHasNoToken) {
  InsertMany(3);
  ListHeroesRequest request;
  request.set_page_size(3);
  ListHeroesResponse response;
  ASSERT_TRUE(client_.ListHeroes(request, &response).ok());
  EXPECT_EQ(response.heroes_size(), 3);
  EXPECT_TRUE(response.next_page_token().empty());
}

TEST_F(ListTest, EmptyTableGivesAnEmptyPage) {
  ListHeroesResponse response;
  ASSERT_TRUE(client_.ListHeroes({}, &response).ok());
  EXPECT_EQ(response.heroes_size(), 0);
  EXPECT_TRUE(response.next_page_token().empty());
}

TEST_F(ListTest, PagesReturnEveryRowOnceInIdOrder) {
  InsertMany(257);
  ListHeroesRequest request;
  request.set_page_size(10);
  Names names = All(request);
  ASSERT_EQ(names.size(), 257u);
  for (int i = 0; i < 257; ++i) EXPECT_EQ(names[i], absl::StrCat("n", i + 1));
}

TEST_F(ListTest, RowsInsertedBetweenPagesAreNeitherLostNorRepeated) {
  InsertMany(100, "m");
  ListHeroesRequest request;
  request.set_page_size(7);
  request.set_order_by("name desc");
  std::multiset<std::string> seen;
  int inserted = 0;
  for (int pages = 0; pages < 100; ++pages) {
    ListHeroesResponse response;
    ASSERT_TRUE(client_.ListHeroes(request, &response).ok());
    for (const Hero& hero : response.heroes()) seen.insert(hero.name());
    // One row sorting before everything returned so far, one after.
    client_.NewHero(absl::StrCat("z", inserted), "s");
    client_.NewHero(absl::StrCat("a", inserted), "s");
    ++inserted;
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  for (int i = 1; i <= 100; ++i) {
    EXPECT_EQ(seen.count(absl::StrCat("m", i)), 1u) << i;
  }
  for (const std::string& name : seen) EXPECT_EQ(seen.count(name), 1u) << name;
  for (int i = 0; i < inserted; ++i) {
    EXPECT_EQ(seen.count(absl::StrCat("z", i)), 0u) << "sorts before the cursor";
  }
}

TEST_F(ListTest, ComparisonOperators) {
  Tutorial();
  EXPECT_EQ(Filter("age = 48"), Names({"Rusty-Man"}));
  EXPECT_EQ(Filter("age < 35"), Names({"Tarantula"}));
  EXPECT_EQ(Filter("age <= 35"), Names({"Tarantula", "Black Lion"}));
  EXPECT_EQ(Filter("age > 48"), Names({"Captain North America"}));
  EXPECT_EQ(Filter("age >= 48"), Names({"Rusty-Man", "Captain North America"}));
  EXPECT_EQ(Filter(R"(name = "Deadpond")"), Names({"Deadpond"}));
  EXPECT_EQ(Filter(R"(secret_name > "T")"), Names({"Rusty-Man", "Black Lion"}));
}

TEST_F(ListTest, UnsetValuesFollowTwoValuedLogic) {
  Tutorial();
  // != and NOT match heroes without an age; < <= > >= never do.
  EXPECT_EQ(Filter("age != 48"), Names({"Deadpond", "Spider-Boy", "Tarantula", "Black Lion",
                                        "Dr. Weird", "Captain North America"}));
  EXPECT_EQ(Filter("NOT age >= 35"), Names({"Deadpond", "Spider-Boy", "Tarantula"}));
  EXPECT_EQ(Filter("age < 1000").size(), 5u);
  EXPECT_EQ(Filter("age = null"), Names({"Deadpond", "Spider-Boy"}));
  EXPECT_EQ(Filter("age != null").size(), 5u);
  EXPECT_EQ(Filter("team_id = null").size(), 4u);
}

TEST_F(ListTest, AndOrNotAndParentheses) {
  Tutorial();
  EXPECT_EQ(Filter("age > 30 AND age < 36"), Names({"Tarantula", "Black Lion"}));
  EXPECT_EQ(Filter("age = 32 OR age = 93"), Names({"Tarantula", "Captain North America"}));
  EXPECT_EQ(Filter(absl::StrCat("team_id = ", preventers_, " AND NOT age = 48")),
            Names({"Captain North America"}));
  // AIP-160: OR binds tighter than AND.
  EXPECT_EQ(Filter(absl::StrCat("team_id = ", preventers_, " AND age = 48 OR age = 32")),
            Names({"Rusty-Man"}));
  EXPECT_EQ(Filter(absl::StrCat("(team_id = ", preventers_, " AND age = 48) OR age = 32")),
            Names({"Rusty-Man", "Tarantula"}));
  EXPECT_EQ(Filter("NOT (age = 48 OR age = null)").size(), 4u);
}

TEST_F(ListTest, PrefixMatch) {
  Tutorial();
  client_.NewHero("Dr*Who", "x");
  client_.NewHero("100%_real", "x");
  client_.NewHero("100 real", "x");
  EXPECT_EQ(Filter(R"(name = "D*")"), Names({"Deadpond", "Dr. Weird", "Dr*Who"}));
  EXPECT_EQ(Filter(R"(name = "Dr\**")"), Names({"Dr*Who"}));
  EXPECT_EQ(Filter(R"(name = "Dr\*Who")"), Names({"Dr*Who"}));
  EXPECT_EQ(Filter(R"(name = "100%*")"), Names({"100%_real"}));
  EXPECT_EQ(Filter(R"(name = "100_*")"), Names({}));
  EXPECT_EQ(Filter(R"(name != "D*" AND name != "1*")").size(), 5u);
}

TEST_F(ListTest, FilterErrorsAreInvalidArgumentNamingTheProblem) {
  Tutorial();
  struct Case {
    std::string filter;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"power = 3", "filter: unknown field 'power' (Hero has no such field)"},
           {R"(age = "old")", "filter: field 'age' is an integer: the value does not match"},
           {"age = 3 name = \"x\"",
            "filter: expected AND or OR between two restrictions, or the end at offset 8"},
           {R"(age = "3*")",
            "filter: field 'age' is not a string: a prefix match ('*') is not allowed"},
           {"team = 3", "filter: field 'team' is a relationship and cannot be filtered"},
           {"id = 0", "filter: field 'id': ids are integers > 0, not 0"},
           {"(age = 3", "filter: unbalanced '(' at offset 0"},
       }) {
    grpc::Status status = ListStatus(c.filter);
    EXPECT_CODE(status, INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(), c.message) << c.filter;
  }
}

TEST_F(ListTest, OrderByWithTiesBrokenById) {
  client_.NewHero("b", "2", 10);
  client_.NewHero("a", "1", 10);
  client_.NewHero("c", "3", 5);
  client_.NewHero("a", "4", 20);
  ListHeroesRequest request;
  request.set_order_by("name");
  ListHeroesResponse response;
  ASSERT_TRUE(client_.ListHeroes(request, &response).ok());
  Names secrets;
  for (const Hero& hero : response.heroes()) secrets.push_back(hero.secret_name());
  EXPECT_EQ(secrets, Names({"1", "4", "2", "3"}));
  request.set_order_by("age desc, name desc");
  ASSERT_TRUE(client_.ListHeroes(request, &response).ok());
  secrets.clear();
  for (const Hero& hero : response.heroes()) secrets.push_back(hero.secret_name());
  EXPECT_EQ(secrets, Names({"4", "2", "1", "3"}));
}

TEST_F(ListTest, UnsetValuesSortLastAscendingAndFirstDescending) {
  Tutorial();
  EXPECT_EQ(Filter("", "age"), Names({"Tarantula", "Black Lion", "Dr. Weird", "Rusty-Man",
                                      "Captain North America", "Deadpond", "Spider-Boy"}));
  EXPECT_EQ(Filter("", "age desc"),
            Names({"Deadpond", "Spider-Boy", "Captain North America", "Rusty-Man",
                   "Dr. Weird", "Black Lion", "Tarantula"}));
}

TEST_F(ListTest, PagesAcrossUnsetValuesLoseNothing) {
  database().Exec(
      "INSERT INTO hero (name, secret_name, age) SELECT 'h' || i, 's', "
      "CASE WHEN i % 3 = 0 THEN NULL ELSE i % 7 END FROM generate_series(1, 80) AS i");
  for (const std::string order : {"age", "age desc", "age, name desc", "age desc, name"}) {
    ListHeroesRequest request;
    request.set_order_by(order);
    request.set_page_size(0);
    const Names whole = All(request);
    request.set_page_size(3);
    const Names paged = All(request);
    EXPECT_EQ(paged, whole) << order;
    EXPECT_EQ(std::set<std::string>(paged.begin(), paged.end()).size(), 80u) << order;
  }
}

TEST_F(ListTest, TextSortsByCodePoint) {
  for (const char* name : {"b", "a", "B", "_", "Ä", "A"}) client_.NewHero(name, "s");
  EXPECT_EQ(Filter("", "name"), Names({"A", "B", "_", "a", "b", "Ä"}));
}

TEST_F(ListTest, OrderByErrorsAreInvalidArgument) {
  grpc::Status status = ListStatus("", "power");
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "order_by: unknown field 'power'");
  EXPECT_CODE(ListStatus("", "name up"), INVALID_ARGUMENT);
  EXPECT_CODE(ListStatus("", "team"), INVALID_ARGUMENT);
}

TEST_F(ListTest, ATokenOnlyWorksWithItsOwnFilterAndOrder) {
  InsertMany(10);
  ListHeroesRequest request;
  request.set_page_size(2);
  request.set_filter("id > 1");
  ListHeroesResponse response;
  ASSERT_TRUE(client_.ListHeroes(request, &response).ok());
  ASSERT_FALSE(response.next_page_token().empty());
  request.set_page_token(response.next_page_token());
  ASSERT_TRUE(client_.ListHeroes(request, &response).ok());

  ListHeroesRequest other = request;
  other.set_filter("id > 2");
  grpc::Status status = client_.ListHeroes(other, &response);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "page_token: issued for a different filter or order_by");
  other = request;
  other.set_order_by("name");
  EXPECT_CODE(client_.ListHeroes(other, &response), INVALID_ARGUMENT);
}

TEST_F(ListTest, TamperedTokensAreInvalid) {
  InsertMany(10);
  ListHeroesRequest request;
  request.set_page_size(2);
  ListHeroesResponse response;
  ASSERT_TRUE(client_.ListHeroes(request, &response).ok());
  std::string token = response.next_page_token();
  for (size_t i = 0; i < token.size(); i += 3) {
    std::string altered = token;
    altered[i] = altered[i] == 'A' ? 'B' : 'A';
    request.set_page_token(altered);
    EXPECT_CODE(client_.ListHeroes(request, &response), INVALID_ARGUMENT);
  }
  request.set_page_token("garbage!");
  grpc::Status status = client_.ListHeroes(request, &response);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("page_token"), std::string::npos);
}

TEST_F(ListTest, TokensSurviveAServerRestart) {
  InsertMany(10);
  ListHeroesRequest request;
  request.set_page_size(4);
  ListHeroesResponse response;
  ASSERT_TRUE(client_.ListHeroes(request, &response).ok());
  TestServer other(database().url(), [](server::ServerOptions& options) {
    options.migrate = !CreateAllSchema();
  });
  ASSERT_TRUE(other.WaitReady());
  HeroesClient other_client(other.NewChannel());
  request.set_page_token(response.next_page_token());
  ASSERT_TRUE(other_client.ListHeroes(request, &response).ok());
  EXPECT_EQ(response.heroes(0).name(), "n5");
}

TEST_F(ListTest, ReadMaskLimitsTheFieldsReturned) {
  Tutorial();
  ListHeroesRequest request;
  request.mutable_read_mask()->add_paths("name");
  request.set_order_by("age desc");
  ListHeroesResponse response;
  ASSERT_TRUE(client_.ListHeroes(request, &response).ok());
  ASSERT_EQ(response.heroes_size(), 7);
  for (const Hero& hero : response.heroes()) {
    EXPECT_GT(hero.id(), 0);
    EXPECT_FALSE(hero.name().empty());
    EXPECT_TRUE(hero.secret_name().empty());
    EXPECT_FALSE(hero.has_age());
    EXPECT_FALSE(hero.has_team_id());
  }
  request.set_page_size(2);
  Names paged = All(request);
  EXPECT_EQ(paged.size(), 7u);
}

TEST_F(ListTest, ReadMaskRejectsUnknownFields) {
  ListHeroesRequest request;
  request.mutable_read_mask()->add_paths("power");
  ListHeroesResponse response;
  grpc::Status status = client_.ListHeroes(request, &response);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "read_mask: unknown field 'power' (hero has no such field)");
}

TEST_F(ListTest, AResponseStaysUnderSixteenMebibytes) {
  // 900 heroes of 20 KB each: 18 MB in all.
  database().Exec(
      "INSERT INTO hero (name, secret_name) SELECT 'h' || i, repeat('x', 20000) "
      "FROM generate_series(1, 900) AS i");
  ListHeroesRequest request;
  request.set_page_size(1000);
  ListHeroesResponse response;
  ASSERT_TRUE(client_.ListHeroes(request, &response).ok());
  EXPECT_LT(response.ByteSizeLong(), 16u * 1024 * 1024);
  EXPECT_GT(response.heroes_size(), 700);
  EXPECT_LT(response.heroes_size(), 900);
  ASSERT_FALSE(response.next_page_token().empty());
  const int first = response.heroes_size();
  request.set_page_token(response.next_page_token());
  ASSERT_TRUE(client_.ListHeroes(request, &response).ok());
  EXPECT_EQ(first + response.heroes_size(), 900);
  EXPECT_TRUE(response.next_page_token().empty());
}

// Every documented input limit, through the service: one past it is
// INVALID_ARGUMENT naming the limit, exactly at it is accepted.
TEST_F(ListTest, EveryInputLimitIsInvalidArgumentNamingIt) {
  auto message = [&](const ListHeroesRequest& request) {
    ListHeroesResponse response;
    grpc::Status status = client_.ListHeroes(request, &response);
    EXPECT_CODE(status, INVALID_ARGUMENT);
    return status.error_message();
  };
  auto accepted = [&](const ListHeroesRequest& request) {
    ListHeroesResponse response;
    return client_.ListHeroes(request, &response).ok();
  };
  ListHeroesRequest request;

  // Filter length: 8192 bytes.
  std::string filter = "name = \"";
  filter += std::string(8192 - filter.size() - 1, 'x') + "\"";
  ASSERT_EQ(filter.size(), 8192u);
  request.set_filter(filter);
  EXPECT_TRUE(accepted(request));
  request.set_filter(filter + " ");
  EXPECT_NE(message(request).find("limit of 8192 bytes"), std::string::npos);

  // Nesting: 32 levels.
  std::string nested = "id = 1";
  for (int i = 0; i < 31; ++i) nested = "(" + nested + ")";
  request.set_filter(nested);
  EXPECT_TRUE(accepted(request));
  request.set_filter("(" + nested + ")");
  EXPECT_NE(message(request).find("32"), std::string::npos);
  request.clear_filter();

  // order_by: 8 keys.
  request.set_order_by("name, secret_name, age, team_id, id");
  EXPECT_TRUE(accepted(request));
  request.set_order_by("name, name, name, name, name, name, name, name, name");
  EXPECT_NE(message(request).find("limit of 8 keys"), std::string::npos);
  request.clear_order_by();

  // Page tokens: 65536 bytes.
  request.set_page_token(std::string(65537, 'A'));
  EXPECT_NE(message(request).find("65536"), std::string::npos);
  request.clear_page_token();

  // read_mask: 64 paths.
  for (int i = 0; i < 64; ++i) request.mutable_read_mask()->add_paths("name");
  EXPECT_TRUE(accepted(request));
  request.mutable_read_mask()->add_paths("name");
  EXPECT_NE(message(request).find("limit of 64 paths"), std::string::npos);
  request.clear_read_mask();

  // page_size: negative is refused, above 1000 is 1000 (see above).
  request.set_page_size(-1);
  EXPECT_NE(message(request).find("page_size"), std::string::npos);
}

// A page may end on a long text value: its token carries it and is accepted.
TEST_F(ListTest, PagesEndingOnLongTextValuesContinue) {
  for (char c : {'a', 'b', 'c'}) {
    client_.NewHero(std::string(20000, c), "s");
  }
  ListHeroesRequest request;
  request.set_order_by("name");
  request.set_page_size(1);
  const std::vector<std::string> names = All(request);
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(names[2], std::string(20000, 'c'));
}

}  // namespace
}  // namespace protomodel::testing
