#include "harness/heroes_client.h"

#include <gtest/gtest.h>

namespace protomodel::testing {

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return context;
}

heroes::v1::Hero HeroesClient::NewHero(const std::string& name,
                                       const std::string& secret_name,
                                       std::optional<int> age,
                                       std::optional<int64_t> team_id) {
  heroes::v1::Hero hero;
  hero.set_name(name);
  hero.set_secret_name(secret_name);
  if (age) hero.set_age(*age);
  if (team_id) hero.set_team_id(*team_id);
  heroes::v1::Hero out;
  grpc::Status status = CreateHero(hero, &out);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return out;
}

heroes::v1::Team HeroesClient::NewTeam(const std::string& name) {
  heroes::v1::CreateTeamRequest request;
  request.mutable_team()->set_name(name);
  heroes::v1::Team out;
  grpc::Status status = teams_->CreateTeam(Context().get(), request, &out);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return out;
}

grpc::Status HeroesClient::CreateHero(const heroes::v1::Hero& hero, heroes::v1::Hero* out) {
  heroes::v1::CreateHeroRequest request;
  *request.mutable_hero() = hero;
  return heroes_->CreateHero(Context().get(), request, out);
}

grpc::Status HeroesClient::GetHero(int64_t id, heroes::v1::View view,
                                   heroes::v1::Hero* out) {
  heroes::v1::GetHeroRequest request;
  request.set_id(id);
  request.set_view(view);
  return heroes_->GetHero(Context().get(), request, out);
}

grpc::Status HeroesClient::ListHeroes(const heroes::v1::ListHeroesRequest& request,
                                      heroes::v1::ListHeroesResponse* out) {
  return heroes_->ListHeroes(Context().get(), request, out);
}

grpc::Status HeroesClient::UpdateHero(const heroes::v1::Hero& hero,
                                      const std::vector<std::string>& mask,
                                      heroes::v1::Hero* out) {
  heroes::v1::UpdateHeroRequest request;
  *request.mutable_hero() = hero;
  for (const std::string& path : mask) request.mutable_update_mask()->add_paths(path);
  return heroes_->UpdateHero(Context().get(), request, out);
}

grpc::Status HeroesClient::DeleteHero(int64_t id) {
  heroes::v1::DeleteHeroRequest request;
  request.set_id(id);
  google::protobuf::Empty out;
  return heroes_->DeleteHero(Context().get(), request, &out);
}

}  // namespace protomodel::testing
