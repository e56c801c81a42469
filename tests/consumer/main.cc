// Creates a team and a hero through the installed protomodel client, reads
// the hero back with its team, and checks one error code.
#include <cstdlib>
#include <iostream>

#include "protomodel/client/channel.h"
#include "protomodel/client/heroes.h"

int main() {
  const char* target = std::getenv("PROTOMODEL_TARGET");
  protomodel::client::HeroesClient heroes(
      protomodel::client::NewChannel(target != nullptr ? target : "localhost:50051"));

  heroes::v1::Team team;
  team.set_name("Preventers");
  auto created_team = heroes.CreateTeam(team);
  if (!created_team.ok()) {
    std::cerr << "CreateTeam: " << created_team.status() << "\n";
    return 1;
  }
  heroes::v1::Hero hero;
  hero.set_name("Rusty-Man");
  hero.set_secret_name("Tommy Sharp");
  hero.set_team_id(created_team->id());
  auto created = heroes.CreateHero(hero);
  if (!created.ok()) {
    std::cerr << "CreateHero: " << created.status() << "\n";
    return 1;
  }
  auto full = heroes.GetHero(created->id(), heroes::v1::FULL);
  if (!full.ok() || full->team().name() != "Preventers") {
    std::cerr << "GetHero FULL: " << full.status() << "\n";
    return 1;
  }
  auto missing = heroes.GetHero(created->id() + 1000000);
  if (missing.status().code() != absl::StatusCode::kNotFound) {
    std::cerr << "GetHero of a missing hero: " << missing.status() << "\n";
    return 1;
  }
  std::cout << "consumer: hero " << created->id() << " is in team " << full->team().name()
            << "\n";
  return 0;
}
