#ifndef PROTOMODEL_CLIENT_GRIMOIRE_H_
#define PROTOMODEL_CLIENT_GRIMOIRE_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>

#include "absl/status/statusor.h"
#include "grimoire/v1/grimoire.grpc.pb.h"
#include "protomodel/client/call.h"

namespace protomodel::client {

// Typed calls to grimoire.v1 (UserService, ClassService, ConversationService).
// Every call has the deadline of `options`; Create fills a fresh request_id,
// so the channel's automatic retries (see ChannelOptions) never create twice.
class GrimoireClient {
 public:
  explicit GrimoireClient(std::shared_ptr<grpc::ChannelInterface> channel, CallOptions options = {});

  absl::StatusOr<grimoire::v1::User> CreateUser(const grimoire::v1::User& user);
  absl::StatusOr<grimoire::v1::User> GetUser(const std::string& id);
  absl::StatusOr<grimoire::v1::ListUsersResponse> ListUsers(const grimoire::v1::ListUsersRequest& request);
  // Writes the fields in `update_mask`; empty means every field set in `user`.
  absl::StatusOr<grimoire::v1::User> UpdateUser(const grimoire::v1::User& user,
                                  const std::vector<std::string>& update_mask = {});
  absl::Status DeleteUser(const std::string& id);

  absl::StatusOr<grimoire::v1::Class> CreateClass(const grimoire::v1::Class& class_);
  absl::StatusOr<grimoire::v1::Class> GetClass(const std::string& id);
  absl::StatusOr<grimoire::v1::ListClassesResponse> ListClasses(const grimoire::v1::ListClassesRequest& request);
  // Writes the fields in `update_mask`; empty means every field set in `class_`.
  absl::StatusOr<grimoire::v1::Class> UpdateClass(const grimoire::v1::Class& class_,
                                  const std::vector<std::string>& update_mask = {});
  absl::Status DeleteClass(const std::string& id);

  absl::StatusOr<grimoire::v1::Conversation> CreateConversation(const grimoire::v1::Conversation& conversation);
  absl::StatusOr<grimoire::v1::Conversation> GetConversation(const std::string& id);
  absl::StatusOr<grimoire::v1::ListConversationsResponse> ListConversations(const grimoire::v1::ListConversationsRequest& request);
  // Writes the fields in `update_mask`; empty means every field set in `conversation`.
  absl::StatusOr<grimoire::v1::Conversation> UpdateConversation(const grimoire::v1::Conversation& conversation,
                                  const std::vector<std::string>& update_mask = {});
  absl::Status DeleteConversation(const std::string& id, const std::string& etag = "");

 private:
  CallOptions options_;
  std::unique_ptr<grimoire::v1::UserService::Stub> user_stub_;
  std::unique_ptr<grimoire::v1::ClassService::Stub> class_stub_;
  std::unique_ptr<grimoire::v1::ConversationService::Stub> conversation_stub_;
};

}  // namespace protomodel::client

#endif  // PROTOMODEL_CLIENT_GRIMOIRE_H_
