#ifndef PROTOMODEL_SERVER_VERBS_HEROES_SERVICE_H_
#define PROTOMODEL_SERVER_VERBS_HEROES_SERVICE_H_

#include "heroes/v1/heroes.grpc.pb.h"
#include "server/verbs/crud.h"

namespace protomodel::server {

// heroes.v1.HeroService: the generic methods over the `hero` table.
class HeroService final : public heroes::v1::HeroService::CallbackService {
 public:
  explicit HeroService(const Crud& crud) : crud_(crud) {}

  grpc::ServerUnaryReactor* CreateHero(grpc::CallbackServerContext* c,
                                      const heroes::v1::CreateHeroRequest* r,
                                      heroes::v1::Hero* out) override {
    return crud_.Create(c, *r, out);
  }
  grpc::ServerUnaryReactor* GetHero(grpc::CallbackServerContext* c,
                                   const heroes::v1::GetHeroRequest* r,
                                   heroes::v1::Hero* out) override {
    return crud_.Get(c, *r, out);
  }
  grpc::ServerUnaryReactor* ListHeroes(grpc::CallbackServerContext* c,
                                     const heroes::v1::ListHeroesRequest* r,
                                     heroes::v1::ListHeroesResponse* out) override {
    return crud_.List(c, *r, out);
  }
  grpc::ServerUnaryReactor* UpdateHero(grpc::CallbackServerContext* c,
                                      const heroes::v1::UpdateHeroRequest* r,
                                      heroes::v1::Hero* out) override {
    return crud_.Update(c, *r, out);
  }
  grpc::ServerUnaryReactor* DeleteHero(grpc::CallbackServerContext* c,
                                      const heroes::v1::DeleteHeroRequest* r,
                                      google::protobuf::Empty* out) override {
    return crud_.Delete(c, *r, out);
  }

 private:
  const Crud& crud_;
};

// heroes.v1.TeamService: the generic methods over the `team` table.
class TeamService final : public heroes::v1::TeamService::CallbackService {
 public:
  explicit TeamService(const Crud& crud) : crud_(crud) {}

  grpc::ServerUnaryReactor* CreateTeam(grpc::CallbackServerContext* c,
                                      const heroes::v1::CreateTeamRequest* r,
                                      heroes::v1::Team* out) override {
    return crud_.Create(c, *r, out);
  }
  grpc::ServerUnaryReactor* GetTeam(grpc::CallbackServerContext* c,
                                   const heroes::v1::GetTeamRequest* r,
                                   heroes::v1::Team* out) override {
    return crud_.Get(c, *r, out);
  }
  grpc::ServerUnaryReactor* ListTeams(grpc::CallbackServerContext* c,
                                     const heroes::v1::ListTeamsRequest* r,
                                     heroes::v1::ListTeamsResponse* out) override {
    return crud_.List(c, *r, out);
  }
  grpc::ServerUnaryReactor* UpdateTeam(grpc::CallbackServerContext* c,
                                      const heroes::v1::UpdateTeamRequest* r,
                                      heroes::v1::Team* out) override {
    return crud_.Update(c, *r, out);
  }
  grpc::ServerUnaryReactor* DeleteTeam(grpc::CallbackServerContext* c,
                                      const heroes::v1::DeleteTeamRequest* r,
                                      google::protobuf::Empty* out) override {
    return crud_.Delete(c, *r, out);
  }

 private:
  const Crud& crud_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_HEROES_SERVICE_H_
