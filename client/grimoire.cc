#include "protomodel/client/grimoire.h"

namespace protomodel::client {

GrimoireClient::GrimoireClient(std::shared_ptr<grpc::ChannelInterface> channel, CallOptions options)
    : options_(options),
      user_stub_(grimoire::v1::UserService::NewStub(channel)),
      class_stub_(grimoire::v1::ClassService::NewStub(channel)),
      conversation_stub_(grimoire::v1::ConversationService::NewStub(channel)) {}

absl::StatusOr<grimoire::v1::User> GrimoireClient::CreateUser(const grimoire::v1::User& user) {
  grimoire::v1::CreateUserRequest request;
  *request.mutable_user() = user;
  request.set_request_id(NewRequestId());
  return internal::Unary(*user_stub_, &grimoire::v1::UserService::Stub::CreateUser, request, options_);
}

absl::StatusOr<grimoire::v1::User> GrimoireClient::GetUser(const std::string& id) {
  grimoire::v1::GetUserRequest request;
  request.set_id(id);
  return internal::Unary(*user_stub_, &grimoire::v1::UserService::Stub::GetUser, request, options_);
}

absl::StatusOr<grimoire::v1::ListUsersResponse> GrimoireClient::ListUsers(
    const grimoire::v1::ListUsersRequest& request) {
  return internal::Unary(*user_stub_, &grimoire::v1::UserService::Stub::ListUsers, request, options_);
}

absl::StatusOr<grimoire::v1::User> GrimoireClient::UpdateUser(const grimoire::v1::User& user,
                                         const std::vector<std::string>& update_mask) {
  grimoire::v1::UpdateUserRequest request;
  *request.mutable_user() = user;
  for (const std::string& path : update_mask) request.mutable_update_mask()->add_paths(path);
  return internal::Unary(*user_stub_, &grimoire::v1::UserService::Stub::UpdateUser, request, options_);
}

absl::Status GrimoireClient::DeleteUser(const std::string& id) {
  grimoire::v1::DeleteUserRequest request;
  request.set_id(id);
  return internal::Unary(*user_stub_, &grimoire::v1::UserService::Stub::DeleteUser, request, options_).status();
}

absl::StatusOr<grimoire::v1::Class> GrimoireClient::CreateClass(const grimoire::v1::Class& class_) {
  grimoire::v1::CreateClassRequest request;
  *request.mutable_class_() = class_;
  request.set_request_id(NewRequestId());
  return internal::Unary(*class_stub_, &grimoire::v1::ClassService::Stub::CreateClass, request, options_);
}

absl::StatusOr<grimoire::v1::Class> GrimoireClient::GetClass(const std::string& id) {
  grimoire::v1::GetClassRequest request;
  request.set_id(id);
  return internal::Unary(*class_stub_, &grimoire::v1::ClassService::Stub::GetClass, request, options_);
}

absl::StatusOr<grimoire::v1::ListClassesResponse> GrimoireClient::ListClasses(
    const grimoire::v1::ListClassesRequest& request) {
  return internal::Unary(*class_stub_, &grimoire::v1::ClassService::Stub::ListClasses, request, options_);
}

absl::StatusOr<grimoire::v1::Class> GrimoireClient::UpdateClass(const grimoire::v1::Class& class_,
                                         const std::vector<std::string>& update_mask) {
  grimoire::v1::UpdateClassRequest request;
  *request.mutable_class_() = class_;
  for (const std::string& path : update_mask) request.mutable_update_mask()->add_paths(path);
  return internal::Unary(*class_stub_, &grimoire::v1::ClassService::Stub::UpdateClass, request, options_);
}

absl::Status GrimoireClient::DeleteClass(const std::string& id) {
  grimoire::v1::DeleteClassRequest request;
  request.set_id(id);
  return internal::Unary(*class_stub_, &grimoire::v1::ClassService::Stub::DeleteClass, request, options_).status();
}

absl::StatusOr<grimoire::v1::Conversation> GrimoireClient::CreateConversation(const grimoire::v1::Conversation& conversation) {
  grimoire::v1::CreateConversationRequest request;
  *request.mutable_conversation() = conversation;
  request.set_request_id(NewRequestId());
  return internal::Unary(*conversation_stub_, &grimoire::v1::ConversationService::Stub::CreateConversation, request, options_);
}

absl::StatusOr<grimoire::v1::Conversation> GrimoireClient::GetConversation(const std::string& id) {
  grimoire::v1::GetConversationRequest request;
  request.set_id(id);
  return internal::Unary(*conversation_stub_, &grimoire::v1::ConversationService::Stub::GetConversation, request, options_);
}

absl::StatusOr<grimoire::v1::ListConversationsResponse> GrimoireClient::ListConversations(
    const grimoire::v1::ListConversationsRequest& request) {
  return internal::Unary(*conversation_stub_, &grimoire::v1::ConversationService::Stub::ListConversations, request, options_);
}

absl::StatusOr<grimoire::v1::Conversation> GrimoireClient::UpdateConversation(const grimoire::v1::Conversation& conversation,
                                         const std::vector<std::string>& update_mask) {
  grimoire::v1::UpdateConversationRequest request;
  *request.mutable_conversation() = conversation;
  for (const std::string& path : update_mask) request.mutable_update_mask()->add_paths(path);
  return internal::Unary(*conversation_stub_, &grimoire::v1::ConversationService::Stub::UpdateConversation, request, options_);
}

absl::Status GrimoireClient::DeleteConversation(const std::string& id, const std::string& etag) {
  grimoire::v1::DeleteConversationRequest request;
  request.set_id(id);
  request.set_etag(etag);
  return internal::Unary(*conversation_stub_, &grimoire::v1::ConversationService::Stub::DeleteConversation, request, options_).status();
}

}  // namespace protomodel::client
