#include "protomodel/client/heroes.h"

namespace protomodel::client {

HeroesClient::HeroesClient(std::shared_ptr<grpc::ChannelInterface> channel, CallOptions options)
    : options_(options),
      hero_stub_(heroes::v1::HeroService::NewStub(channel)),
      team_stub_(heroes::v1::TeamService::NewStub(channel)) {}

absl::StatusOr<heroes::v1::Hero> HeroesClient::CreateHero(const heroes::v1::Hero& hero) {
  heroes::v1::CreateHeroRequest request;
  *request.mutable_hero() = hero;
  request.set_request_id(NewRequestId());
  return internal::Unary(*hero_stub_, &heroes::v1::HeroService::Stub::CreateHero, request, options_);
}

absl::StatusOr<heroes::v1::Hero> HeroesClient::GetHero(int64_t id, heroes::v1::View view) {
  heroes::v1::GetHeroRequest request;
  request.set_id(id);
  request.set_view(view);
  return internal::Unary(*hero_stub_, &heroes::v1::HeroService::Stub::GetHero, request, options_);
}

absl::StatusOr<heroes::v1::ListHeroesResponse> HeroesClient::ListHeroes(
    const heroes::v1::ListHeroesRequest& request) {
  return internal::Unary(*hero_stub_, &heroes::v1::HeroService::Stub::ListHeroes, request, options_);
}

absl::StatusOr<heroes::v1::Hero> HeroesClient::UpdateHero(const heroes::v1::Hero& hero,
                                         const std::vector<std::string>& update_mask) {
  heroes::v1::UpdateHeroRequest request;
  *request.mutable_hero() = hero;
  for (const std::string& path : update_mask) request.mutable_update_mask()->add_paths(path);
  return internal::Unary(*hero_stub_, &heroes::v1::HeroService::Stub::UpdateHero, request, options_);
}

absl::Status HeroesClient::DeleteHero(int64_t id) {
  heroes::v1::DeleteHeroRequest request;
  request.set_id(id);
  return internal::Unary(*hero_stub_, &heroes::v1::HeroService::Stub::DeleteHero, request, options_).status();
}

absl::StatusOr<heroes::v1::Team> HeroesClient::CreateTeam(const heroes::v1::Team& team) {
  heroes::v1::CreateTeamRequest request;
  *request.mutable_team() = team;
  request.set_request_id(NewRequestId());
  return internal::Unary(*team_stub_, &heroes::v1::TeamService::Stub::CreateTeam, request, options_);
}

absl::StatusOr<heroes::v1::Team> HeroesClient::GetTeam(int64_t id, heroes::v1::View view) {
  heroes::v1::GetTeamRequest request;
  request.set_id(id);
  request.set_view(view);
  return internal::Unary(*team_stub_, &heroes::v1::TeamService::Stub::GetTeam, request, options_);
}

absl::StatusOr<heroes::v1::ListTeamsResponse> HeroesClient::ListTeams(
    const heroes::v1::ListTeamsRequest& request) {
  return internal::Unary(*team_stub_, &heroes::v1::TeamService::Stub::ListTeams, request, options_);
}

absl::StatusOr<heroes::v1::Team> HeroesClient::UpdateTeam(const heroes::v1::Team& team,
                                         const std::vector<std::string>& update_mask) {
  heroes::v1::UpdateTeamRequest request;
  *request.mutable_team() = team;
  for (const std::string& path : update_mask) request.mutable_update_mask()->add_paths(path);
  return internal::Unary(*team_stub_, &heroes::v1::TeamService::Stub::UpdateTeam, request, options_);
}

absl::Status HeroesClient::DeleteTeam(int64_t id) {
  heroes::v1::DeleteTeamRequest request;
  request.set_id(id);
  return internal::Unary(*team_stub_, &heroes::v1::TeamService::Stub::DeleteTeam, request, options_).status();
}

}  // namespace protomodel::client
