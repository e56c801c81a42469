#ifndef PROTOMODEL_TESTS_HARNESS_HEROES_CLIENT_H_
#define PROTOMODEL_TESTS_HARNESS_HEROES_CLIENT_H_

#include <memory>
#include <optional>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "heroes/v1/heroes.grpc.pb.h"

namespace protomodel::testing {

// Typed calls to HeroService and TeamService for tests: each returns the
// gRPC status and fills the response.
class HeroesClient {
 public:
  explicit HeroesClient(const std::shared_ptr<grpc::Channel>& channel)
      : heroes_(heroes::v1::HeroService::NewStub(channel)),
        teams_(heroes::v1::TeamService::NewStub(channel)) {}

  heroes::v1::HeroService::Stub& heroes() { return *heroes_; }
  heroes::v1::TeamService::Stub& teams() { return *teams_; }

  // A hero as created, failing the test when creation fails.
  heroes::v1::Hero NewHero(const std::string& name, const std::string& secret_name,
                           std::optional<int> age = std::nullopt,
                           std::optional<int64_t> team_id = std::nullopt);
  heroes::v1::Team NewTeam(const std::string& name);

  grpc::Status CreateHero(const heroes::v1::Hero& hero, heroes::v1::Hero* out);
  grpc::Status GetHero(int64_t id, heroes::v1::View view, heroes::v1::Hero* out);
  grpc::Status ListHeroes(const heroes::v1::ListHeroesRequest& request,
                          heroes::v1::ListHeroesResponse* out);
  grpc::Status UpdateHero(const heroes::v1::Hero& hero,
                          const std::vector<std::string>& mask, heroes::v1::Hero* out);
  grpc::Status DeleteHero(int64_t id);

 private:
  std::unique_ptr<heroes::v1::HeroService::Stub> heroes_;
  std::unique_ptr<heroes::v1::TeamService::Stub> teams_;
};

// A context with a 30-second deadline.
std::unique_ptr<grpc::ClientContext> Context();

}  // namespace protomodel::testing

#endif  // PROTOMODEL_TESTS_HARNESS_HEROES_CLIENT_H_
