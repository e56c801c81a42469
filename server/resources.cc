#include "server/resources.h"

#include "server/heroes_service.h"

namespace protomodel::server {

std::vector<Resource> Resources() {
  return {
      {heroes::v1::Team::descriptor(), heroes::v1::TeamService::service_full_name(),
       [](const Crud& crud) { return std::make_unique<TeamService>(crud); },
       {}},
      {heroes::v1::Hero::descriptor(), heroes::v1::HeroService::service_full_name(),
       [](const Crud& crud) { return std::make_unique<HeroService>(crud); },
       {}},
  };
}

}  // namespace protomodel::server
