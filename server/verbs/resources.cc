#include "server/verbs/resources.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "db/errors.h"
#include "server/verbs/grimoire_service.h"
#include "server/verbs/heroes_service.h"
#include "server/verbs/random.h"

namespace protomodel::server {
namespace {

constexpr size_t kMinInviteCode = 8;
constexpr size_t kMaxInviteCode = 64;

absl::Status CheckInviteCode(const std::string& code) {
  bool ok = code.size() >= kMinInviteCode && code.size() <= kMaxInviteCode;
  for (char c : code) {
    ok = ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                (c >= '0' && c <= '9') || c == '_' || c == '-');
  }
  if (ok) return absl::OkStatus();
  return db::InvalidField("class.invite_code", db::reason::kInvalidField,
                          "class.invite_code: must match [A-Za-z0-9_-]{8,64}, or be empty on "
                          "create for a generated one");
}

Crud::Rules ClassRules(std::function<std::string()> new_invite_code) {
  Crud::Rules rules;
  rules.generated_column = "invite_code";
  rules.on_create = [new_invite_code](google::protobuf::Message& message) {
    auto& c = static_cast<grimoire::v1::Class&>(message);
    if (c.invite_code().empty()) {
      c.set_invite_code(new_invite_code());
      return absl::OkStatus();
    }
    return CheckInviteCode(c.invite_code());
  };
  rules.on_update = [](const google::protobuf::Message& message,
                       const std::vector<const db::Column*>& columns) {
    for (const db::Column* column : columns) {
      if (column->name == "invite_code") {
        return CheckInviteCode(static_cast<const grimoire::v1::Class&>(message).invite_code());
      }
    }
    return absl::OkStatus();
  };
  return rules;
}

template <typename Service>
std::function<std::unique_ptr<grpc::Service>(const Crud&)> Make() {
  return [](const Crud& crud) { return std::make_unique<Service>(crud); };
}

}  // namespace

std::string RandomInviteCode() { return RandomUrlSafe(12); }

std::vector<Resource> Resources(const ResourceOptions& options) {
  auto new_invite_code =
      options.new_invite_code ? options.new_invite_code : RandomInviteCode;
  return {
      {heroes::v1::Team::descriptor(), heroes::v1::TeamService::service_full_name(),
       Make<TeamService>(), {}},
      {heroes::v1::Hero::descriptor(), heroes::v1::HeroService::service_full_name(),
       Make<HeroService>(), {}},
      {grimoire::v1::User::descriptor(), grimoire::v1::UserService::service_full_name(),
       Make<UserService>(), {}},
      {grimoire::v1::Class::descriptor(), grimoire::v1::ClassService::service_full_name(),
       Make<ClassService>(), ClassRules(new_invite_code)},
      {grimoire::v1::Conversation::descriptor(),
       grimoire::v1::ConversationService::service_full_name(),
       Make<ConversationService>(), {}},
  };
}

}  // namespace protomodel::server
