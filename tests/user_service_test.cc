// grimoire.v1.UserService over a real server and database.
#include <gtest/gtest.h>

#include "absl/strings/match.h"

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "harness/grimoire_client.h"
#include "harness/test_server.h"

namespace protomodel::testing {
namespace {

using namespace grimoire::v1;  // NOLINT

class UserServiceTest : public ServiceTest {
 protected:
  grpc::Status Get(const std::string& id, User* out) {
    GetUserRequest request;
    request.set_id(id);
    return client_.users->GetUser(Context().get(), request, out);
  }
  grpc::Status Create(const User& user, User* out) {
    CreateUserRequest request;
    *request.mutable_user() = user;
    return client_.users->CreateUser(Context().get(), request, out);
  }
  grpc::Status Update(const User& user, const std::vector<std::string>& mask, User* out) {
    UpdateUserRequest request;
    *request.mutable_user() = user;
    for (const auto& path : mask) request.mutable_update_mask()->add_paths(path);
    return client_.users->UpdateUser(Context().get(), request, out);
  }
  grpc::Status List(const std::string& filter, ListUsersResponse* out,
                    const std::string& order_by = "") {
    ListUsersRequest request;
    request.set_filter(filter);
    request.set_order_by(order_by);
    return client_.users->ListUsers(Context().get(), request, out);
  }

  GrimoireClient client_{channel()};
};

bool IsLowerCaseUuid(const std::string& id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? id[i] != '-' : !(absl::ascii_isdigit(id[i]) || (id[i] >= 'a' && id[i] <= 'f'))) {
      return false;
    }
  }
  return true;
}

TEST_F(UserServiceTest, CreateAssignsALowerCaseUuidAndTheDatabaseTime) {
  const auto before = absl::Now() - absl::Seconds(5);
  User user = client_.NewUser("ada@example.com", "Ada Lovelace");
  EXPECT_TRUE(IsLowerCaseUuid(user.id())) << user.id();
  EXPECT_EQ(user.email(), "ada@example.com");
  EXPECT_EQ(user.display_name(), "Ada Lovelace");
  const absl::Time created = absl::FromUnixSeconds(user.created_at().seconds()) +
                             absl::Nanoseconds(user.created_at().nanos());
  EXPECT_GT(created, before);
  EXPECT_LT(created, absl::Now() + absl::Seconds(5));
  EXPECT_EQ(user.created_at().nanos() % 1000, 0) << "microsecond precision";
}

TEST_F(UserServiceTest, CreateIgnoresIdAndCreatedAtInTheBody) {
  User user;
  user.set_id("00000000-0000-0000-0000-000000000001");
  user.set_email("a@b.c");
  user.set_display_name("A");
  user.mutable_created_at()->set_seconds(1);
  User out;
  ASSERT_TRUE(Create(user, &out).ok());
  EXPECT_NE(out.id(), user.id());
  EXPECT_GT(out.created_at().seconds(), 1);
}

TEST_F(UserServiceTest, CreateRequiresEmailAndDisplayName) {
  User user;
  user.set_display_name("A");
  User out;
  grpc::Status status = Create(user, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "user.email is required");
  user.set_email("a@b.c");
  user.clear_display_name();
  EXPECT_EQ(Create(user, &out).error_message(), "user.display_name is required");
}

TEST_F(UserServiceTest, EmailsAreUnique) {
  client_.NewUser("ada@example.com");
  User dup;
  dup.set_email("ada@example.com");
  dup.set_display_name("Another Ada");
  User out;
  grpc::Status status = Create(dup, &out);
  EXPECT_CODE(status, ALREADY_EXISTS);
  EXPECT_EQ(status.error_message(),
            "user.email: another user already has this value (it must be unique)");
  EXPECT_EQ(database().Exec("SELECT count(*) FROM \"user\"")[0][0].as<int>(), 1);
}

// A retried create clashes with the unique email of the user it made before
// it reaches its request_id: it still returns that user.
TEST_F(UserServiceTest, ARetriedCreateReturnsTheUserDespiteTheUniqueEmail) {
  CreateUserRequest request;
  request.mutable_user()->set_email("ada@example.com");
  request.mutable_user()->set_display_name("Ada");
  request.set_request_id("00000000-0000-4000-8000-0000000000ad");
  User first, retry;
  ASSERT_TRUE(client_.users->CreateUser(Context().get(), request, &first).ok());
  const grpc::Status status = client_.users->CreateUser(Context().get(), request, &retry);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(retry.SerializeAsString(), first.SerializeAsString());
  request.set_request_id("00000000-0000-4000-8000-0000000000ae");
  EXPECT_CODE(client_.users->CreateUser(Context().get(), request, &retry), ALREADY_EXISTS);
  EXPECT_EQ(database().Exec("SELECT count(*) FROM \"user\"")[0][0].as<int>(), 1);
}

TEST_F(UserServiceTest, UpdateToATakenEmailIsAlreadyExistsAndWritesNothing) {
  client_.NewUser("ada@example.com");
  User grace = client_.NewUser("grace@example.com", "Grace");
  User change;
  change.set_id(grace.id());
  change.set_email("ada@example.com");
  change.set_display_name("Grace H.");
  User out;
  EXPECT_CODE(Update(change, {"email", "display_name"}, &out), ALREADY_EXISTS);
  User got;
  ASSERT_TRUE(Get(grace.id(), &got).ok());
  EXPECT_EQ(got.display_name(), "Grace");
}

TEST_F(UserServiceTest, GetAcceptsUpperCaseUuids) {
  User user = client_.NewUser("ada@example.com");
  User got;
  ASSERT_TRUE(Get(absl::AsciiStrToUpper(user.id()), &got).ok());
  EXPECT_EQ(got.id(), user.id());
}

TEST_F(UserServiceTest, MalformedUuidsAreInvalidArgument) {
  User got;
  for (const std::string id : {"", "42", "not-a-uuid", "0000000000000000000000000000000000",
                               "00000000-0000-0000-0000-00000000000g",
                               "{00000000-0000-0000-0000-000000000000}"}) {
    grpc::Status status = Get(id, &got);
    EXPECT_CODE(status, INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("id"), std::string::npos);
  }
  User change;
  change.set_id("nope");
  change.set_display_name("x");
  grpc::Status status = Update(change, {"display_name"}, &got);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "user.id: not a UUID (want 8-4-4-4-12 hexadecimal digits)");
  EXPECT_CODE(client_.DeleteUser("nope"), INVALID_ARGUMENT);
}

TEST_F(UserServiceTest, GetOfAMissingUserIsNotFound) {
  User got;
  grpc::Status status = Get("00000000-0000-0000-0000-000000000000", &got);
  EXPECT_CODE(status, NOT_FOUND);
  EXPECT_EQ(status.error_message(), "user 00000000-0000-0000-0000-000000000000 not found");
}

TEST_F(UserServiceTest, TextWithANulCharacterIsInvalid) {
  User user;
  user.set_email("a@b.c");
  user.set_display_name(std::string("A\0B", 3));
  User out;
  grpc::Status status = Create(user, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "user.display_name: text must not contain NUL characters");
}

TEST_F(UserServiceTest, CreatedAtIsOutputOnly) {
  User user = client_.NewUser("ada@example.com");
  User change;
  change.set_id(user.id());
  User out;
  grpc::Status status = Update(change, {"created_at"}, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "update_mask: field 'created_at' is output only and cannot be updated");
}

TEST_F(UserServiceTest, FiltersByTimestampAndUuid) {
  User ada = client_.NewUser("ada@example.com");
  ListUsersResponse response;
  ASSERT_TRUE(List(R"(created_at > "2000-01-01T00:00:00Z")", &response).ok());
  EXPECT_EQ(response.users_size(), 1);
  ASSERT_TRUE(List(R"(created_at < "2000-01-01T00:00:00+02:00")", &response).ok());
  EXPECT_EQ(response.users_size(), 0);
  ASSERT_TRUE(List("id = \"" + absl::AsciiStrToUpper(ada.id()) + "\"", &response).ok());
  ASSERT_EQ(response.users_size(), 1);
  EXPECT_EQ(response.users(0).email(), "ada@example.com");
}

TEST_F(UserServiceTest, FilterRejectsBadTimestampsAndUuids) {
  ListUsersResponse response;
  grpc::Status status = List(R"(created_at > "2000-01-01T00:00:00")", &response);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("RFC 3339"), std::string::npos);
  EXPECT_CODE(List("created_at > 5", &response), INVALID_ARGUMENT);
  status = List(R"(id = "abc")", &response);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "filter: field 'id': not a UUID (want 8-4-4-4-12 hexadecimal digits)");
  EXPECT_CODE(List(R"(id = "abc*")", &response), INVALID_ARGUMENT);
}

TEST_F(UserServiceTest, PagesByCreatedAt) {
  for (int i = 0; i < 12; ++i) client_.NewUser("u" + std::to_string(i) + "@x");
  ListUsersRequest request;
  request.set_order_by("created_at desc");
  request.set_page_size(5);
  std::vector<std::string> emails;
  do {
    ListUsersResponse response;
    ASSERT_TRUE(client_.users->ListUsers(Context().get(), request, &response).ok());
    for (const auto& user : response.users()) emails.push_back(user.email());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  ASSERT_EQ(emails.size(), 12u);
  EXPECT_EQ(emails.front(), "u11@x");
  EXPECT_EQ(emails.back(), "u0@x");
}

TEST_F(UserServiceTest, DeletingAUserWhoOwnsAClassIsRefusedAndKeepsEverything) {
  User ada = client_.NewUser("ada@example.com");
  Class cls = client_.NewClass(ada.id());
  grpc::Status status = client_.DeleteUser(ada.id());
  EXPECT_CODE(status, FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(),
            "user " + ada.id() +
                " is still referenced by class.owner_id; delete or change those class "
                "rows first");
  User got;
  EXPECT_TRUE(Get(ada.id(), &got).ok());
  EXPECT_EQ(database().Exec("SELECT count(*) FROM class")[0][0].as<int>(), 1);
}

TEST_F(UserServiceTest, DeletingAUserWhoOwnsAConversationIsRefused) {
  User ada = client_.NewUser("ada@example.com");
  User bob = client_.NewUser("bob@example.com");
  Class cls = client_.NewClass(ada.id());
  client_.NewConversation(cls.id(), bob.id());
  grpc::Status status = client_.DeleteUser(bob.id());
  EXPECT_CODE(status, FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("conversation.owner_id"), std::string::npos);
  EXPECT_EQ(database().Exec("SELECT count(*) FROM conversation")[0][0].as<int>(), 1);
}

TEST_F(UserServiceTest, DeleteRemovesAUserWithNothingLeft) {
  User ada = client_.NewUser("ada@example.com");
  ASSERT_TRUE(client_.DeleteUser(ada.id()).ok());
  User got;
  EXPECT_CODE(Get(ada.id(), &got), NOT_FOUND);
  EXPECT_CODE(client_.DeleteUser(ada.id()), NOT_FOUND);
}

TEST_F(UserServiceTest, ABatchDeleteOfAUserWhoStillOwnsAClassIsRefusedNamingTheEntry) {
  const User free = client_.NewUser("free@example.com");
  const User owner = client_.NewUser("owner@example.com");
  client_.NewClass(owner.id());
  BatchDeleteUsersRequest request;
  request.add_requests()->set_id(free.id());
  request.add_requests()->set_id(owner.id());
  google::protobuf::Empty empty;
  grpc::Status status = client_.users->BatchDeleteUsers(Context().get(), request, &empty);
  EXPECT_CODE(status, FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StartsWith(status.error_message(), "requests[1]: ")) << status.error_message();
  User got;
  EXPECT_TRUE(Get(free.id(), &got).ok()) << "a refused batch deleted its first entry";
}

TEST_F(UserServiceTest, TwoEntriesOfOneBatchClashingOnEmailAreAlreadyExists) {
  BatchCreateUsersRequest request;
  for (const char* email : {"a@example.com", "b@example.com", "a@example.com"}) {
    User* user = request.add_requests()->mutable_user();
    user->set_email(email);
    user->set_display_name("Ada");
  }
  BatchCreateUsersResponse response;
  const grpc::Status status = client_.users->BatchCreateUsers(Context().get(), request, &response);
  EXPECT_CODE(status, ALREADY_EXISTS);
  EXPECT_TRUE(absl::StartsWith(status.error_message(), "requests[2].user.email: "))
      << status.error_message();
  EXPECT_EQ(database().Exec("SELECT count(*) FROM \"user\"")[0][0].as<int>(), 0);
}

}  // namespace
}  // namespace protomodel::testing
