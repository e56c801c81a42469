#ifndef PROTOMODEL_CLIENT_HEROES_H_
#define PROTOMODEL_CLIENT_HEROES_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>

#include "absl/status/statusor.h"
#include "heroes/v1/heroes.grpc.pb.h"
#include "protomodel/client/call.h"

namespace protomodel::client {

// Typed calls to heroes.v1 (HeroService, TeamService).
// Every call has the deadline of `options`; Create fills a fresh request_id,
// so the channel's automatic retries (see ChannelOptions) never create twice.
class HeroesClient {
 public:
  explicit HeroesClient(std::shared_ptr<grpc::ChannelInterface> channel, CallOptions options = {});

  absl::StatusOr<heroes::v1::Hero> CreateHero(const heroes::v1::Hero& hero);
  absl::StatusOr<heroes::v1::Hero> GetHero(int64_t id, heroes::v1::View view = heroes::v1::BASIC);
  absl::StatusOr<heroes::v1::ListHeroesResponse> ListHeroes(const heroes::v1::ListHeroesRequest& request);
  // Writes the fields in `update_mask`; empty means every field set in `hero`.
  absl::StatusOr<heroes::v1::Hero> UpdateHero(const heroes::v1::Hero& hero,
                                  const std::vector<std::string>& update_mask = {});
  absl::Status DeleteHero(int64_t id);

  absl::StatusOr<heroes::v1::Team> CreateTeam(const heroes::v1::Team& team);
  absl::StatusOr<heroes::v1::Team> GetTeam(int64_t id, heroes::v1::View view = heroes::v1::BASIC);
  absl::StatusOr<heroes::v1::ListTeamsResponse> ListTeams(const heroes::v1::ListTeamsRequest& request);
  // Writes the fields in `update_mask`; empty means every field set in `team`.
  absl::StatusOr<heroes::v1::Team> UpdateTeam(const heroes::v1::Team& team,
                                  const std::vector<std::string>& update_mask = {});
  absl::Status DeleteTeam(int64_t id);

 private:
  CallOptions options_;
  std::unique_ptr<heroes::v1::HeroService::Stub> hero_stub_;
  std::unique_ptr<heroes::v1::TeamService::Stub> team_stub_;
};

}  // namespace protomodel::client

#endif  // PROTOMODEL_CLIENT_HEROES_H_
