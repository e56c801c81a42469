#include "harness/grimoire_client.h"

#include <gtest/gtest.h>

namespace protomodel::testing {

using namespace grimoire::v1;  // NOLINT: test helpers over one package

User GrimoireClient::NewUser(const std::string& email, const std::string& name) {
  CreateUserRequest request;
  request.mutable_user()->set_email(email);
  request.mutable_user()->set_display_name(name);
  User out;
  grpc::Status status = users->CreateUser(Context().get(), request, &out);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return out;
}

Class GrimoireClient::NewClass(const std::string& owner_id, const std::string& name,
                               const std::string& invite_code) {
  CreateClassRequest request;
  request.mutable_class_()->set_owner_id(owner_id);
  request.mutable_class_()->set_name(name);
  request.mutable_class_()->set_invite_code(invite_code);
  Class out;
  grpc::Status status = classes->CreateClass(Context().get(), request, &out);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return out;
}

Conversation GrimoireClient::NewConversation(const std::string& class_id,
                                             const std::string& owner_id,
                                             const std::string& crdt_state,
                                             const std::string& raw_text) {
  CreateConversationRequest request;
  request.mutable_conversation()->set_class_id(class_id);
  request.mutable_conversation()->set_owner_id(owner_id);
  request.mutable_conversation()->set_crdt_state(crdt_state);
  request.mutable_conversation()->set_raw_text(raw_text);
  Conversation out;
  grpc::Status status = conversations->CreateConversation(Context().get(), request, &out);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return out;
}

grpc::Status GrimoireClient::DeleteUser(const std::string& id) {
  DeleteUserRequest request;
  request.set_id(id);
  google::protobuf::Empty out;
  return users->DeleteUser(Context().get(), request, &out);
}

grpc::Status GrimoireClient::DeleteClass(const std::string& id) {
  DeleteClassRequest request;
  request.set_id(id);
  google::protobuf::Empty out;
  return classes->DeleteClass(Context().get(), request, &out);
}

grpc::Status GrimoireClient::DeleteConversation(const std::string& id,
                                                const std::string& etag) {
  DeleteConversationRequest request;
  request.set_id(id);
  request.set_etag(etag);
  google::protobuf::Empty out;
  return conversations->DeleteConversation(Context().get(), request, &out);
}

grpc::Status GrimoireClient::GetConversation(const std::string& id, Conversation* out) {
  GetConversationRequest request;
  request.set_id(id);
  return conversations->GetConversation(Context().get(), request, out);
}

grpc::Status GrimoireClient::UpdateConversation(const Conversation& conversation,
                                                const std::vector<std::string>& mask,
                                                Conversation* out) {
  UpdateConversationRequest request;
  *request.mutable_conversation() = conversation;
  for (const auto& path : mask) request.mutable_update_mask()->add_paths(path);
  return conversations->UpdateConversation(Context().get(), request, out);
}

}  // namespace protomodel::testing
