// grimoire.v1.ClassService over a real server and database: owners,
// invite codes and the restrict-delete rule.
#include <regex>

#include <gtest/gtest.h>

#include "harness/grimoire_client.h"
#include "harness/test_server.h"

namespace protomodel::testing {
namespace {

using namespace grimoire::v1;  // NOLINT

class ClassServiceTest : public ServiceTest {
 protected:
  grpc::Status Create(const Class& cls, Class* out) {
    CreateClassRequest request;
    *request.mutable_class_() = cls;
    return client_.classes->CreateClass(Context().get(), request, out);
  }
  grpc::Status Update(const Class& cls, const std::vector<std::string>& mask, Class* out) {
    UpdateClassRequest request;
    *request.mutable_class_() = cls;
    for (const auto& path : mask) request.mutable_update_mask()->add_paths(path);
    return client_.classes->UpdateClass(Context().get(), request, out);
  }
  grpc::Status Get(const std::string& id, Class* out) {
    GetClassRequest request;
    request.set_id(id);
    return client_.classes->GetClass(Context().get(), request, out);
  }

  GrimoireClient client_{channel()};
};

TEST_F(ClassServiceTest, CreateGeneratesAUrlSafeInviteCode) {
  User ada = client_.NewUser("ada@example.com");
  std::set<std::string> codes;
  for (int i = 0; i < 20; ++i) {
    Class cls = client_.NewClass(ada.id(), "CS " + std::to_string(i));
    EXPECT_TRUE(std::regex_match(cls.invite_code(), std::regex("[A-Za-z0-9_-]{16}")))
        << cls.invite_code();
    codes.insert(cls.invite_code());
  }
  EXPECT_EQ(codes.size(), 20u);
}

TEST_F(ClassServiceTest, ABatchCreateDrawsADistinctInviteCodeForEachClass) {
  User ada = client_.NewUser("ada@example.com");
  BatchCreateClassesRequest request;
  for (int i = 0; i < 100; ++i) {
    Class* cls = request.add_requests()->mutable_class_();
    cls->set_name("CS " + std::to_string(i));
    cls->set_owner_id(ada.id());
  }
  request.mutable_requests(7)->mutable_class_()->set_invite_code("chosen-code-7");
  BatchCreateClassesResponse response;
  ASSERT_TRUE(client_.classes->BatchCreateClasses(Context().get(), request, &response).ok());
  std::set<std::string> codes;
  for (const Class& cls : response.classes()) {
    EXPECT_TRUE(std::regex_match(cls.invite_code(), std::regex("[A-Za-z0-9_-]{8,64}")))
        << cls.invite_code();
    codes.insert(cls.invite_code());
  }
  EXPECT_EQ(codes.size(), 100u);
  EXPECT_EQ(response.classes(7).invite_code(), "chosen-code-7");
}

TEST_F(ClassServiceTest, CreateKeepsAValidChosenInviteCode) {
  User ada = client_.NewUser("ada@example.com");
  Class cls = client_.NewClass(ada.id(), "CS 101", "cs-101_fall");
  EXPECT_EQ(cls.invite_code(), "cs-101_fall");
  EXPECT_EQ(cls.owner_id(), ada.id());
  EXPECT_GT(cls.created_at().seconds(), 0);
}

TEST_F(ClassServiceTest, ChosenInviteCodesMustMatchThePattern) {
  User ada = client_.NewUser("ada@example.com");
  for (const std::string& code : std::vector<std::string>{"short", "has space", "ünicode!",
                                                         std::string(65, 'a')}) {
    Class cls;
    cls.set_name("CS");
    cls.set_owner_id(ada.id());
    cls.set_invite_code(code);
    Class out;
    grpc::Status status = Create(cls, &out);
    EXPECT_CODE(status, INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("class.invite_code"), std::string::npos);
  }
}

TEST_F(ClassServiceTest, AChosenInviteCodeThatClashesIsAlreadyExists) {
  User ada = client_.NewUser("ada@example.com");
  client_.NewClass(ada.id(), "CS 101", "cs-101_fall");
  Class cls;
  cls.set_name("CS 102");
  cls.set_owner_id(ada.id());
  cls.set_invite_code("cs-101_fall");
  Class out;
  grpc::Status status = Create(cls, &out);
  EXPECT_CODE(status, ALREADY_EXISTS);
  EXPECT_EQ(status.error_message(),
            "class.invite_code: another class already has this value (it must be unique)");
}

TEST(ClassInviteCodeClashTest, AGeneratedCodeThatClashesIsRetriedWithAFreshOne) {
  TestDatabase db;
  std::vector<std::string> codes = {"fixed-code-1", "fixed-code-1", "fixed-code-1",
                                    "fresh-code-2"};
  size_t next = 0;
  TestServer server(db.url(), [&](server::ServerOptions& options) {
    options.random_text = [&](int) { return codes[next++ % codes.size()]; };
  });
  ASSERT_TRUE(server.WaitReady());
  GrimoireClient client(server.NewChannel());
  User ada = client.NewUser("ada@example.com");
  EXPECT_EQ(client.NewClass(ada.id(), "first").invite_code(), "fixed-code-1");
  EXPECT_EQ(client.NewClass(ada.id(), "second").invite_code(), "fresh-code-2");
  EXPECT_EQ(next, 4u);
}

TEST_F(ClassServiceTest, TheOwnerMustExist) {
  Class cls;
  cls.set_name("CS 101");
  cls.set_owner_id("11111111-2222-3333-4444-555555555555");
  Class out;
  grpc::Status status = Create(cls, &out);
  EXPECT_CODE(status, FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(),
            "class.owner_id: user 11111111-2222-3333-4444-555555555555 does not exist");
}

TEST_F(ClassServiceTest, AMalformedOwnerIdIsInvalidArgument) {
  Class cls;
  cls.set_name("CS 101");
  cls.set_owner_id("ada");
  Class out;
  grpc::Status status = Create(cls, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "class.owner_id: not a UUID (want 8-4-4-4-12 hexadecimal digits)");
  cls.clear_owner_id();
  EXPECT_EQ(Create(cls, &out).error_message(), "class.owner_id is required");
}

TEST_F(ClassServiceTest, UpdateChecksAChangedInviteCode) {
  User ada = client_.NewUser("ada@example.com");
  Class cls = client_.NewClass(ada.id());
  Class change;
  change.set_id(cls.id());
  change.set_invite_code("bad code");
  Class out;
  EXPECT_CODE(Update(change, {"invite_code"}, &out), INVALID_ARGUMENT);
  change.set_invite_code("");
  EXPECT_CODE(Update(change, {"invite_code"}, &out), INVALID_ARGUMENT);
  change.set_invite_code("better-code");
  ASSERT_TRUE(Update(change, {"invite_code"}, &out).ok());
  EXPECT_EQ(out.invite_code(), "better-code");
}

TEST_F(ClassServiceTest, DeletingAClassWithConversationsIsRefusedAndKeepsThem) {
  User ada = client_.NewUser("ada@example.com");
  Class cls = client_.NewClass(ada.id());
  Conversation conversation = client_.NewConversation(cls.id(), ada.id(), "state");
  grpc::Status status = client_.DeleteClass(cls.id());
  EXPECT_CODE(status, FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(),
            "class " + cls.id() +
                " is still referenced by conversation.class_id; delete or change those "
                "conversation rows first");
  Class got;
  EXPECT_TRUE(Get(cls.id(), &got).ok());
  Conversation kept;
  ASSERT_TRUE(client_.GetConversation(conversation.id(), &kept).ok());
  EXPECT_EQ(kept.crdt_state(), "state");
}

TEST_F(ClassServiceTest, DeleteRemovesAnEmptyClass) {
  User ada = client_.NewUser("ada@example.com");
  Class cls = client_.NewClass(ada.id());
  ASSERT_TRUE(client_.DeleteClass(cls.id()).ok());
  Class got;
  EXPECT_CODE(Get(cls.id(), &got), NOT_FOUND);
}

TEST_F(ClassServiceTest, ListsClassesOfAnOwner) {
  User ada = client_.NewUser("ada@example.com");
  User bob = client_.NewUser("bob@example.com");
  client_.NewClass(ada.id(), "A1");
  client_.NewClass(bob.id(), "B1");
  client_.NewClass(ada.id(), "A2");
  ListClassesRequest request;
  request.set_filter("owner_id = \"" + ada.id() + "\"");
  request.set_order_by("name desc");
  ListClassesResponse response;
  ASSERT_TRUE(client_.classes->ListClasses(Context().get(), request, &response).ok());
  ASSERT_EQ(response.classes_size(), 2);
  EXPECT_EQ(response.classes(0).name(), "A2");
  EXPECT_EQ(response.classes(1).name(), "A1");
}

}  // namespace
}  // namespace protomodel::testing
