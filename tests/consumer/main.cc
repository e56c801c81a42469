// Creates a team and a hero through the installed protomodel client, reads
// the hero back with its team, and checks one error code.
#include <cstdlib>
#include <iostream>

#include "protomodel/client/channel.h"
#include "heroes/v1/heroes.pb.h"
#include "protomodel/client/resources.h"

int main() {
  const char* target = std::getenv("PROTOMODEL_TARGET");
  auto channel = protomodel::client::NewChannel(target != nullptr ? target : "localhost:50051");
  auto heroes = protomodel::client::Resources<heroes::v1::Hero>::For(channel);
  auto teams = protomodel::client::Resources<heroes::v1::Team>::For(channel);
  if (!heroes.ok() || !teams.ok()) {
    std::cerr << "Resources: " << heroes.status() << " " << teams.status() << "\n";
    return 1;
  }

  heroes::v1::Team team;
  team.set_name("Preventers");
  auto created_team = teams->Create(team);
  if (!created_team.ok()) {
    std::cerr << "CreateTeam: " << created_team.status() << "\n";
    return 1;
  }
  heroes::v1::Hero hero;
  hero.set_name("Rusty-Man");
  hero.set_secret_name("Tommy Sharp");
  hero.set_team_id(created_team->id());
  auto created = heroes->Create(hero);
  if (!created.ok()) {
    std::cerr << "CreateHero: " << created.status() << "\n";
    return 1;
  }
  auto full = heroes->Get(created->id(), "FULL");
  if (!full.ok() || full->team().name() != "Preventers") {
    std::cerr << "GetHero FULL: " << full.status() << "\n";
    return 1;
  }
  auto missing = heroes->Get(created->id() + 1000000);
  if (missing.status().code() != absl::StatusCode::kNotFound) {
    std::cerr << "GetHero of a missing hero: " << missing.status() << "\n";
    return 1;
  }
  std::cout << "consumer: hero " << created->id() << " is in team " << full->team().name()
            << "\n";
  return 0;
}
