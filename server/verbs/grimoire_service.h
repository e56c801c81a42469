#ifndef PROTOMODEL_SERVER_VERBS_GRIMOIRE_SERVICE_H_
#define PROTOMODEL_SERVER_VERBS_GRIMOIRE_SERVICE_H_

#include "grimoire/v1/grimoire.grpc.pb.h"
#include "server/verbs/crud.h"

namespace protomodel::server {

// grimoire.v1.UserService: the generic methods over the `user` table.
class UserService final : public grimoire::v1::UserService::CallbackService {
 public:
  explicit UserService(const Crud& crud) : crud_(crud) {}

  grpc::ServerUnaryReactor* CreateUser(grpc::CallbackServerContext* c,
                                      const grimoire::v1::CreateUserRequest* r,
                                      grimoire::v1::User* out) override {
    return crud_.Create(c, *r, out);
  }
  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* c,
                                   const grimoire::v1::GetUserRequest* r,
                                   grimoire::v1::User* out) override {
    return crud_.Get(c, *r, out);
  }
  grpc::ServerUnaryReactor* ListUsers(grpc::CallbackServerContext* c,
                                     const grimoire::v1::ListUsersRequest* r,
                                     grimoire::v1::ListUsersResponse* out) override {
    return crud_.List(c, *r, out);
  }
  grpc::ServerUnaryReactor* UpdateUser(grpc::CallbackServerContext* c,
                                      const grimoire::v1::UpdateUserRequest* r,
                                      grimoire::v1::User* out) override {
    return crud_.Update(c, *r, out);
  }
  grpc::ServerUnaryReactor* DeleteUser(grpc::CallbackServerContext* c,
                                      const grimoire::v1::DeleteUserRequest* r,
                                      google::protobuf::Empty* out) override {
    return crud_.Delete(c, *r, out);
  }

 private:
  const Crud& crud_;
};

// grimoire.v1.ClassService: the generic methods over the `class` table.
class ClassService final : public grimoire::v1::ClassService::CallbackService {
 public:
  explicit ClassService(const Crud& crud) : crud_(crud) {}

  grpc::ServerUnaryReactor* CreateClass(grpc::CallbackServerContext* c,
                                      const grimoire::v1::CreateClassRequest* r,
                                      grimoire::v1::Class* out) override {
    return crud_.Create(c, *r, out);
  }
  grpc::ServerUnaryReactor* GetClass(grpc::CallbackServerContext* c,
                                   const grimoire::v1::GetClassRequest* r,
                                   grimoire::v1::Class* out) override {
    return crud_.Get(c, *r, out);
  }
  grpc::ServerUnaryReactor* ListClasses(grpc::CallbackServerContext* c,
                                     const grimoire::v1::ListClassesRequest* r,
                                     grimoire::v1::ListClassesResponse* out) override {
    return crud_.List(c, *r, out);
  }
  grpc::ServerUnaryReactor* UpdateClass(grpc::CallbackServerContext* c,
                                      const grimoire::v1::UpdateClassRequest* r,
                                      grimoire::v1::Class* out) override {
    return crud_.Update(c, *r, out);
  }
  grpc::ServerUnaryReactor* DeleteClass(grpc::CallbackServerContext* c,
                                      const grimoire::v1::DeleteClassRequest* r,
                                      google::protobuf::Empty* out) override {
    return crud_.Delete(c, *r, out);
  }

 private:
  const Crud& crud_;
};

// grimoire.v1.ConversationService: the generic methods over the `conversation` table.
class ConversationService final : public grimoire::v1::ConversationService::CallbackService {
 public:
  explicit ConversationService(const Crud& crud) : crud_(crud) {}

  grpc::ServerUnaryReactor* CreateConversation(grpc::CallbackServerContext* c,
                                      const grimoire::v1::CreateConversationRequest* r,
                                      grimoire::v1::Conversation* out) override {
    return crud_.Create(c, *r, out);
  }
  grpc::ServerUnaryReactor* GetConversation(grpc::CallbackServerContext* c,
                                   const grimoire::v1::GetConversationRequest* r,
                                   grimoire::v1::Conversation* out) override {
    return crud_.Get(c, *r, out);
  }
  grpc::ServerUnaryReactor* ListConversations(grpc::CallbackServerContext* c,
                                     const grimoire::v1::ListConversationsRequest* r,
                                     grimoire::v1::ListConversationsResponse* out) override {
    return crud_.List(c, *r, out);
  }
  grpc::ServerUnaryReactor* UpdateConversation(grpc::CallbackServerContext* c,
                                      const grimoire::v1::UpdateConversationRequest* r,
                                      grimoire::v1::Conversation* out) override {
    return crud_.Update(c, *r, out);
  }
  grpc::ServerUnaryReactor* DeleteConversation(grpc::CallbackServerContext* c,
                                      const grimoire::v1::DeleteConversationRequest* r,
                                      google::protobuf::Empty* out) override {
    return crud_.Delete(c, *r, out);
  }

 private:
  const Crud& crud_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_GRIMOIRE_SERVICE_H_
