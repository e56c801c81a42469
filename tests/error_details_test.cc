// AIP-193 error details: every error the service returns carries a
// google.rpc.Status in the grpc-status-details-bin trailer, read here as any
// C++ caller reads it (protomodel::client::DetailsOf).
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/connection>
#include <pqxx/transaction>

#include "absl/time/clock.h"
#include "google/rpc/status.pb.h"
#include "grimoire/v1/grimoire.grpc.pb.h"
#include "harness/grimoire_client.h"
#include "harness/heroes_client.h"
#include "harness/postgres.h"
#include "harness/test_server.h"
#include "protomodel/client/call.h"

namespace protomodel::testing {
namespace {

using client::DetailsOf;
using client::ErrorDetails;

constexpr size_t kMiB = 1024 * 1024;

class ErrorDetailsTest : public ServiceTest {
 protected:
  HeroesClient heroes_{channel()};
  GrimoireClient grimoire_{channel()};
};

// The message and code of the trailer's google.rpc.Status match the call's.
void ExpectSameStatus(const grpc::Status& status) {
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(status.error_details()));
  EXPECT_EQ(rpc.code(), static_cast<int>(status.error_code()));
  EXPECT_EQ(rpc.message(), status.error_message());
}

// INVALID_ARGUMENT's details: reason, and the field in ErrorInfo and
// BadRequest.
void ExpectBadField(const grpc::Status& status, const std::string& field,
                    const std::string& reason) {
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  ExpectSameStatus(status);
  const ErrorDetails details = DetailsOf(status);
  EXPECT_EQ(details.domain, "protomodel");
  EXPECT_EQ(details.reason, reason);
  EXPECT_EQ(details.metadata.count("field") ? details.metadata.at("field") : "", field);
  ASSERT_EQ(details.field_violations.size(), 1u);
  EXPECT_EQ(details.field_violations[0].first, field);
  EXPECT_EQ(details.field_violations[0].second, status.error_message());
}

TEST_F(ErrorDetailsTest, AMissingRequiredFieldNamesItsPath) {
  heroes::v1::Hero hero, out;
  hero.set_name("Deadpond");
  ExpectBadField(heroes_.CreateHero(hero, &out), "hero.secret_name", "REQUIRED_FIELD");
}

TEST_F(ErrorDetailsTest, MalformedIdsNameTheirField) {
  heroes::v1::Hero out;
  ExpectBadField(heroes_.GetHero(0, heroes::v1::BASIC, &out), "id", "INVALID_FIELD");
  heroes::v1::Hero hero;
  hero.set_id(-1);
  ExpectBadField(heroes_.UpdateHero(hero, {"name"}, &out), "hero.id", "INVALID_FIELD");
  ExpectBadField(grimoire_.DeleteUser("not-a-uuid"), "id", "INVALID_FIELD");
}

TEST_F(ErrorDetailsTest, AMalformedRequestIdNamesIt) {
  heroes::v1::CreateHeroRequest request;
  request.mutable_hero()->set_name("Deadpond");
  request.mutable_hero()->set_secret_name("Dive Wilson");
  request.set_request_id("nope");
  heroes::v1::Hero out;
  ExpectBadField(heroes_.heroes().CreateHero(Context().get(), request, &out), "request_id",
                 "INVALID_FIELD");
}

TEST_F(ErrorDetailsTest, ListPartsNameTheirField) {
  heroes::v1::ListHeroesResponse out;
  heroes::v1::ListHeroesRequest request;
  request.set_filter("name = ");
  ExpectBadField(heroes_.ListHeroes(request, &out), "filter", "INVALID_FILTER");
  request.set_filter("secret = \"x\"");
  ExpectBadField(heroes_.ListHeroes(request, &out), "filter", "INVALID_FILTER");
  request.Clear();
  request.set_order_by("name sideways");
  ExpectBadField(heroes_.ListHeroes(request, &out), "order_by", "INVALID_ORDER_BY");
  request.Clear();
  request.set_page_token("garbage");
  ExpectBadField(heroes_.ListHeroes(request, &out), "page_token", "INVALID_PAGE_TOKEN");
  request.Clear();
  request.set_page_size(-1);
  ExpectBadField(heroes_.ListHeroes(request, &out), "page_size", "INVALID_FIELD");
  request.Clear();
  request.mutable_read_mask()->add_paths("powers");
  ExpectBadField(heroes_.ListHeroes(request, &out), "read_mask", "INVALID_FIELD_MASK");
}

TEST_F(ErrorDetailsTest, AnUpdateMaskErrorNamesTheMask) {
  const auto hero = heroes_.NewHero("Deadpond", "Dive Wilson");
  heroes::v1::Hero out;
  ExpectBadField(heroes_.UpdateHero(hero, {"id"}, &out), "update_mask", "INVALID_FIELD_MASK");
  ExpectBadField(heroes_.UpdateHero(hero, {"*", "name"}, &out), "update_mask",
                 "INVALID_FIELD_MASK");
}

TEST_F(ErrorDetailsTest, AnInviteCodeOffItsPatternNamesIt) {
  const auto user = grimoire_.NewUser("ada@example.com");
  grimoire::v1::CreateClassRequest request;
  request.mutable_class_()->set_name("CS 101");
  request.mutable_class_()->set_owner_id(user.id());
  request.mutable_class_()->set_invite_code("no spaces allowed");
  grimoire::v1::Class out;
  ExpectBadField(grimoire_.classes->CreateClass(Context().get(), request, &out),
                 "class.invite_code", "INVALID_FIELD");
}

// The contract caps bytes fields at 16 MiB: exactly 16 MiB is stored, one
// byte more is refused naming the field and the limit, with nothing written.
TEST_F(ErrorDetailsTest, BytesPastSixteenMebibytesAreRefusedOnCreateAndUpdate) {
  const auto user = grimoire_.NewUser("ada@example.com");
  const auto cls = grimoire_.NewClass(user.id());
  grimoire::v1::CreateConversationRequest create;
  create.mutable_conversation()->set_class_id(cls.id());
  create.mutable_conversation()->set_owner_id(user.id());
  create.mutable_conversation()->set_crdt_state(std::string(16 * kMiB + 1, 'x'));
  grimoire::v1::Conversation out;
  const grpc::Status refused =
      grimoire_.conversations->CreateConversation(Context().get(), create, &out);
  ExpectBadField(refused, "conversation.crdt_state", "FIELD_TOO_LARGE");
  EXPECT_NE(refused.error_message().find("16777216"), std::string::npos)
      << refused.error_message();
  EXPECT_EQ(database().Exec("SELECT count(*) FROM conversation")[0][0].as<int>(), 0);

  create.mutable_conversation()->set_crdt_state(std::string(16 * kMiB, 'x'));
  grimoire::v1::Conversation stored;
  ASSERT_TRUE(grimoire_.conversations->CreateConversation(Context().get(), create, &stored).ok());
  EXPECT_EQ(stored.crdt_state().size(), 16 * kMiB);

  grimoire::v1::UpdateConversationRequest update;
  update.mutable_conversation()->set_id(stored.id());
  update.mutable_conversation()->set_crdt_state(std::string(16 * kMiB + 1, 'y'));
  update.mutable_update_mask()->add_paths("crdt_state");
  ExpectBadField(grimoire_.conversations->UpdateConversation(Context().get(), update, &out),
                 "conversation.crdt_state", "FIELD_TOO_LARGE");
  EXPECT_EQ(database()
                .Exec("SELECT count(*) FROM conversation WHERE crdt_state = "
                      "decode(repeat('78', 16777216), 'hex')")[0][0]
                .as<int>(),
            1);

  update.mutable_conversation()->set_crdt_state(std::string(16 * kMiB, 'y'));
  ASSERT_TRUE(
      grimoire_.conversations->UpdateConversation(Context().get(), update, &out).ok());
  EXPECT_EQ(out.crdt_state().size(), 16 * kMiB);
}

TEST_F(ErrorDetailsTest, NotFoundNamesTheResource) {
  heroes::v1::Hero out;
  const grpc::Status status = heroes_.GetHero(404, heroes::v1::BASIC, &out);
  EXPECT_CODE(status, NOT_FOUND);
  ExpectSameStatus(status);
  const ErrorDetails details = DetailsOf(status);
  EXPECT_EQ(details.reason, "RESOURCE_NOT_FOUND");
  EXPECT_EQ(details.resource_type, "heroes.v1.Hero");
  EXPECT_EQ(details.resource_name, "404");
}

TEST_F(ErrorDetailsTest, AUniqueClashNamesTheFieldAndValue) {
  grimoire_.NewUser("ada@example.com");
  grimoire::v1::CreateUserRequest request;
  request.mutable_user()->set_email("ada@example.com");
  request.mutable_user()->set_display_name("Ada again");
  grimoire::v1::User out;
  const grpc::Status status = grimoire_.users->CreateUser(Context().get(), request, &out);
  EXPECT_CODE(status, ALREADY_EXISTS);
  ExpectSameStatus(status);
  const ErrorDetails details = DetailsOf(status);
  EXPECT_EQ(details.reason, "RESOURCE_ALREADY_EXISTS");
  EXPECT_EQ(details.resource_type, "grimoire.v1.User");
  EXPECT_EQ(details.resource_name, "email=ada@example.com");
}

TEST_F(ErrorDetailsTest, FailedPreconditionsSayWhich) {
  heroes::v1::Hero hero, out;
  hero.set_name("Deadpond");
  hero.set_secret_name("Dive Wilson");
  hero.set_team_id(77);
  const grpc::Status missing = heroes_.CreateHero(hero, &out);
  EXPECT_CODE(missing, FAILED_PRECONDITION);
  EXPECT_EQ(DetailsOf(missing).reason, "REFERENCE_NOT_FOUND");
  EXPECT_EQ(DetailsOf(missing).metadata.at("field"), "hero.team_id");

  const auto user = grimoire_.NewUser("ada@example.com");
  grimoire_.NewClass(user.id());
  const grpc::Status referenced = grimoire_.DeleteUser(user.id());
  EXPECT_CODE(referenced, FAILED_PRECONDITION);
  ExpectSameStatus(referenced);
  EXPECT_EQ(DetailsOf(referenced).reason, "RESOURCE_STILL_REFERENCED");
}

TEST_F(ErrorDetailsTest, AStaleEtagIsEtagMismatch) {
  const auto user = grimoire_.NewUser("ada@example.com");
  const auto cls = grimoire_.NewClass(user.id());
  const auto conversation = grimoire_.NewConversation(cls.id(), user.id());
  const grpc::Status status = grimoire_.DeleteConversation(conversation.id(), "stale");
  EXPECT_CODE(status, ABORTED);
  ExpectSameStatus(status);
  EXPECT_EQ(DetailsOf(status).reason, "ETAG_MISMATCH");
}

// A C++ caller holding an absl::Status (the typed clients' results) reads
// the same details.
TEST_F(ErrorDetailsTest, FromGrpcKeepsTheDetails) {
  heroes::v1::Hero out;
  const absl::Status status = client::FromGrpc(heroes_.GetHero(9, heroes::v1::BASIC, &out));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(DetailsOf(status).resource_name, "9");
}

TEST(ErrorDetailsUnavailableTest, AnUnreachableDatabaseSaysWhenToRetry) {
  TestServer server("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1");
  HeroesClient client(server.NewChannel());
  heroes::v1::Hero out;
  const grpc::Status status = client.GetHero(1, heroes::v1::BASIC, &out);
  EXPECT_CODE(status, UNAVAILABLE);
  ExpectSameStatus(status);
  const ErrorDetails details = DetailsOf(status);
  EXPECT_EQ(details.reason, "DATABASE_UNAVAILABLE");
  ASSERT_TRUE(details.retry_delay.has_value());
  EXPECT_EQ(*details.retry_delay, absl::Seconds(1));
}

// Where the services check tokens themselves (plaintext behind a sidecar),
// refusals carry details too.
TEST(ErrorDetailsTokensTest, TokenRefusalsSayWhy) {
  TestDatabase db;
  const std::string tokens = ::testing::TempDir() + "/error_details_tokens";
  {
    // reader: "*/Get*" only. The token is "reader-token".
    std::ofstream out(tokens);
    out << "reader " << RunCommand("printf reader-token | sha256sum | cut -d' ' -f1")
        << " */Get*\n";
  }
  TestServer server(db.url(), [&](server::ServerOptions& options) {
    options.auth_tokens_file = tokens;
    options.allow_plaintext_tokens = true;
  });
  ASSERT_TRUE(server.WaitReady());
  auto stub = heroes::v1::HeroService::NewStub(server.NewChannel());
  heroes::v1::ListHeroesResponse listed;

  auto anonymous = Context();
  const grpc::Status missing =
      stub->ListHeroes(anonymous.get(), heroes::v1::ListHeroesRequest(), &listed);
  EXPECT_CODE(missing, UNAUTHENTICATED);
  EXPECT_EQ(DetailsOf(missing).reason, "TOKEN_MISSING");

  auto reader = Context();
  reader->AddMetadata("authorization", "Bearer reader-token");
  const grpc::Status denied =
      stub->ListHeroes(reader.get(), heroes::v1::ListHeroesRequest(), &listed);
  EXPECT_CODE(denied, PERMISSION_DENIED);
  ExpectSameStatus(denied);
  EXPECT_EQ(DetailsOf(denied).reason, "METHOD_NOT_GRANTED");
}

}  // namespace
}  // namespace protomodel::testing
