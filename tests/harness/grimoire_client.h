#ifndef PROTOMODEL_TESTS_HARNESS_GRIMOIRE_CLIENT_H_
#define PROTOMODEL_TESTS_HARNESS_GRIMOIRE_CLIENT_H_

#include <memory>
#include <string>

#include <grpcpp/channel.h>

#include "grimoire/v1/grimoire.grpc.pb.h"
#include "harness/heroes_client.h"

namespace protomodel::testing {

// Stubs for the grimoire.v1 services, and helpers that create rows and fail
// the test when that fails.
class GrimoireClient {
 public:
  explicit GrimoireClient(const std::shared_ptr<grpc::Channel>& channel)
      : users(grimoire::v1::UserService::NewStub(channel)),
        classes(grimoire::v1::ClassService::NewStub(channel)),
        conversations(grimoire::v1::ConversationService::NewStub(channel)) {}

  grimoire::v1::User NewUser(const std::string& email, const std::string& name = "Ada");
  grimoire::v1::Class NewClass(const std::string& owner_id, const std::string& name = "CS 101",
                               const std::string& invite_code = "");
  grimoire::v1::Conversation NewConversation(const std::string& class_id,
                                             const std::string& owner_id,
                                             const std::string& crdt_state = "",
                                             const std::string& raw_text = "");

  grpc::Status DeleteUser(const std::string& id);
  grpc::Status DeleteClass(const std::string& id);
  grpc::Status DeleteConversation(const std::string& id, const std::string& etag = "");
  grpc::Status GetConversation(const std::string& id, grimoire::v1::Conversation* out);
  grpc::Status UpdateConversation(const grimoire::v1::Conversation& conversation,
                                  const std::vector<std::string>& mask,
                                  grimoire::v1::Conversation* out);

  std::unique_ptr<grimoire::v1::UserService::Stub> users;
  std::unique_ptr<grimoire::v1::ClassService::Stub> classes;
  std::unique_ptr<grimoire::v1::ConversationService::Stub> conversations;
};

}  // namespace protomodel::testing

#endif  // PROTOMODEL_TESTS_HARNESS_GRIMOIRE_CLIENT_H_
