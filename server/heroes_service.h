#ifndef PROTOMODEL_SERVER_HEROES_SERVICE_H_
#define PROTOMODEL_SERVER_HEROES_SERVICE_H_

#include "heroes/v1/heroes.grpc.pb.h"
#include "server/crud.h"

namespace protomodel::server {

// heroes.v1.HeroService: the generic methods over the `hero` table.
class HeroService final : public heroes::v1::HeroService::Service {
 public:
  explicit HeroService(const Crud& crud) : crud_(crud) {}

  grpc::Status CreateHero(grpc::ServerContext* c, const heroes::v1::CreateHeroRequest* r,
                          heroes::v1::Hero* out) override {
    return crud_.Create(c, *r, out);
  }
  grpc::Status GetHero(grpc::ServerContext* c, const heroes::v1::GetHeroRequest* r,
                       heroes::v1::Hero* out) override {
    return crud_.Get(c, *r, out);
  }
  grpc::Status ListHeroes(grpc::ServerContext* c, const heroes::v1::ListHeroesRequest* r,
                          heroes::v1::ListHeroesResponse* out) override {
    return crud_.List(c, *r, out);
  }
  grpc::Status UpdateHero(grpc::ServerContext* c, const heroes::v1::UpdateHeroRequest* r,
                          heroes::v1::Hero* out) override {
    return crud_.Update(c, *r, out);
  }
  grpc::Status DeleteHero(grpc::ServerContext* c, const heroes::v1::DeleteHeroRequest* r,
                          google::protobuf::Empty* out) override {
    return crud_.Delete(c, *r, out);
  }

 private:
  const Crud& crud_;
};

// heroes.v1.TeamService: the generic methods over the `team` table.
class TeamService final : public heroes::v1::TeamService::Service {
 public:
  explicit TeamService(const Crud& crud) : crud_(crud) {}

  grpc::Status CreateTeam(grpc::ServerContext* c, const heroes::v1::CreateTeamRequest* r,
                          heroes::v1::Team* out) override {
    return crud_.Create(c, *r, out);
  }
  grpc::Status GetTeam(grpc::ServerContext* c, const heroes::v1::GetTeamRequest* r,
                       heroes::v1::Team* out) override {
    return crud_.Get(c, *r, out);
  }
  grpc::Status ListTeams(grpc::ServerContext* c, const heroes::v1::ListTeamsRequest* r,
                         heroes::v1::ListTeamsResponse* out) override {
    return crud_.List(c, *r, out);
  }
  grpc::Status UpdateTeam(grpc::ServerContext* c, const heroes::v1::UpdateTeamRequest* r,
                          heroes::v1::Team* out) override {
    return crud_.Update(c, *r, out);
  }
  grpc::Status DeleteTeam(grpc::ServerContext* c, const heroes::v1::DeleteTeamRequest* r,
                          google::protobuf::Empty* out) override {
    return crud_.Delete(c, *r, out);
  }

 private:
  const Crud& crud_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_HEROES_SERVICE_H_
