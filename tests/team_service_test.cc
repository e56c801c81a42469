// heroes.v1.TeamService over a real server and database.
#include <gtest/gtest.h>

#include "harness/heroes_client.h"
#include "harness/test_server.h"

namespace protomodel::testing {
namespace {

using heroes::v1::Team;
using heroes::v1::View;

class TeamServiceTest : public ServiceTest {
 protected:
  grpc::Status Get(int64_t id, View view, Team* out) {
    heroes::v1::GetTeamRequest request;
    request.set_id(id);
    request.set_view(view);
    return client_.teams().GetTeam(Context().get(), request, out);
  }
  grpc::Status Delete(int64_t id) {
    heroes::v1::DeleteTeamRequest request;
    request.set_id(id);
    google::protobuf::Empty out;
    return client_.teams().DeleteTeam(Context().get(), request, &out);
  }
  grpc::Status Update(const Team& team, const std::vector<std::string>& mask, Team* out) {
    heroes::v1::UpdateTeamRequest request;
    *request.mutable_team() = team;
    for (const auto& path : mask) request.mutable_update_mask()->add_paths(path);
    return client_.teams().UpdateTeam(Context().get(), request, out);
  }

  HeroesClient client_{channel()};
};

TEST_F(TeamServiceTest, CreateAndGet) {
  Team team = client_.NewTeam("Preventers");
  EXPECT_GT(team.id(), 0);
  Team got;
  ASSERT_TRUE(Get(team.id(), View::BASIC, &got).ok());
  EXPECT_EQ(got.name(), "Preventers");
  EXPECT_EQ(got.heroes_size(), 0);
}

TEST_F(TeamServiceTest, CreateRequiresAName) {
  heroes::v1::CreateTeamRequest request;
  Team out;
  grpc::Status status = client_.teams().CreateTeam(Context().get(), request, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "team.name is required");
}

TEST_F(TeamServiceTest, CreateIgnoresHeroesInTheBody) {
  heroes::v1::CreateTeamRequest request;
  request.mutable_team()->set_name("Z-Force");
  request.mutable_team()->add_heroes()->set_name("ignored");
  Team out;
  ASSERT_TRUE(client_.teams().CreateTeam(Context().get(), request, &out).ok());
  EXPECT_EQ(out.heroes_size(), 0);
  EXPECT_EQ(database().Exec("SELECT count(*) FROM hero")[0][0].as<int>(), 0);
}

TEST_F(TeamServiceTest, FullViewEmbedsTheTeamsHeroesById) {
  Team team = client_.NewTeam("Preventers");
  Team other = client_.NewTeam("Z-Force");
  auto a = client_.NewHero("Rusty-Man", "Tommy Sharp", 48, team.id());
  client_.NewHero("Deadpond", "Dive Wilson", std::nullopt, other.id());
  auto c = client_.NewHero("Spider-Boy", "Pedro Parqueador", 16, team.id());
  Team full;
  ASSERT_TRUE(Get(team.id(), View::FULL, &full).ok());
  EXPECT_EQ(full.name(), "Preventers");
  ASSERT_EQ(full.heroes_size(), 2);
  EXPECT_EQ(full.heroes(0).id(), a.id());
  EXPECT_EQ(full.heroes(0).secret_name(), "Tommy Sharp");
  EXPECT_EQ(full.heroes(1).id(), c.id());
  EXPECT_FALSE(full.heroes(1).has_team());
  Team basic;
  ASSERT_TRUE(Get(team.id(), View::BASIC, &basic).ok());
  EXPECT_EQ(basic.heroes_size(), 0);
}

TEST_F(TeamServiceTest, FullViewOfAnEmptyTeamHasNoHeroes) {
  Team team = client_.NewTeam("Lonely");
  Team full;
  ASSERT_TRUE(Get(team.id(), View::FULL, &full).ok());
  EXPECT_EQ(full.name(), "Lonely");
  EXPECT_EQ(full.heroes_size(), 0);
}

TEST_F(TeamServiceTest, FullViewEmbedsAtMostAThousandHeroes) {
  Team team = client_.NewTeam("Legion");
  database().Exec("INSERT INTO hero (name, secret_name, team_id) SELECT 'h' || i, 's', " +
                  std::to_string(team.id()) + " FROM generate_series(1, 1005) AS i");
  Team full;
  ASSERT_TRUE(Get(team.id(), View::FULL, &full).ok());
  ASSERT_EQ(full.heroes_size(), 1000);
  for (int i = 1; i < full.heroes_size(); ++i) {
    EXPECT_LT(full.heroes(i - 1).id(), full.heroes(i).id());
  }
  EXPECT_EQ(full.heroes(0).name(), "h1");
  EXPECT_EQ(full.heroes(999).name(), "h1000");
}

TEST_F(TeamServiceTest, GetOfAMissingTeamIsNotFound) {
  Team out;
  grpc::Status status = Get(99, View::FULL, &out);
  EXPECT_CODE(status, NOT_FOUND);
  EXPECT_EQ(status.error_message(), "team 99 not found");
}

TEST_F(TeamServiceTest, DeletingATeamKeepsItsHeroes) {
  Team team = client_.NewTeam("Preventers");
  auto hero = client_.NewHero("Rusty-Man", "Tommy Sharp", 48, team.id());
  ASSERT_TRUE(Delete(team.id()).ok());
  heroes::v1::Hero got;
  ASSERT_TRUE(client_.GetHero(hero.id(), View::FULL, &got).ok());
  EXPECT_EQ(got.name(), "Rusty-Man");
  EXPECT_FALSE(got.has_team_id());
  EXPECT_FALSE(got.has_team());
  Team gone;
  EXPECT_CODE(Get(team.id(), View::BASIC, &gone), NOT_FOUND);
  EXPECT_CODE(Delete(team.id()), NOT_FOUND);
}

TEST_F(TeamServiceTest, UpdateRenamesTheTeam) {
  Team team = client_.NewTeam("Preventers");
  Team change;
  change.set_id(team.id());
  change.set_name("Avengers");
  Team out;
  ASSERT_TRUE(Update(change, {"name"}, &out).ok());
  EXPECT_EQ(out.name(), "Avengers");
}

TEST_F(TeamServiceTest, UpdateRefusesOutputOnlyHeroes) {
  Team team = client_.NewTeam("Preventers");
  Team change;
  change.set_id(team.id());
  Team out;
  grpc::Status status = Update(change, {"heroes"}, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "update_mask: field 'heroes' is output only");
}

TEST_F(TeamServiceTest, ListTeamsPagesAndFilters) {
  for (const char* name : {"Alpha", "Beta", "Gamma", "Alpine"}) client_.NewTeam(name);
  heroes::v1::ListTeamsRequest request;
  request.set_filter(R"(name = "Alp*")");
  request.set_page_size(1);
  std::vector<std::string> names;
  do {
    heroes::v1::ListTeamsResponse response;
    ASSERT_TRUE(client_.teams().ListTeams(Context().get(), request, &response).ok());
    for (const auto& team : response.teams()) names.push_back(team.name());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  EXPECT_EQ(names, (std::vector<std::string>{"Alpha", "Alpine"}));
}

}  // namespace
}  // namespace protomodel::testing
