// grimoire.v1.ConversationService over a real server and database: lossless
// CRDT state, etags, and the concurrent-writer race.
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/synchronization/barrier.h"
#include "harness/grimoire_client.h"
#include "harness/test_server.h"

namespace protomodel::testing {
namespace {

using namespace grimoire::v1;  // NOLINT

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937_64 random(seed);
  std::string bytes(n, '\0');
  for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>(random() & 0xff);
  return bytes;
}

class ConversationServiceTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    owner_ = client_.NewUser("ada@example.com");
    class_ = client_.NewClass(owner_.id());
  }

  GrimoireClient client_{channel()};
  User owner_;
  Class class_;
};

TEST_F(ConversationServiceTest, SixMegabytesOfCrdtStateRoundTripByteForByte) {
  std::string state = RandomBytes(6 * 1024 * 1024, 1);
  state[0] = '\0';
  state[state.size() - 1] = '\0';
  Conversation created = client_.NewConversation(class_.id(), owner_.id(), state, "hello");
  EXPECT_EQ(created.crdt_state(), state);
  Conversation got;
  ASSERT_TRUE(client_.GetConversation(created.id(), &got).ok());
  EXPECT_EQ(got.crdt_state(), state);
  EXPECT_EQ(database()
                .Exec("SELECT octet_length(crdt_state) FROM conversation")[0][0]
                .as<size_t>(),
            state.size());
}

TEST_F(ConversationServiceTest, StateIsStoredAsTheExactBytes) {
  // NUL, a backslash, "x41" (which hex-escaped text would misread) and 0xff.
  const std::string state("\x00\x01\\x41'\"\xff", 9);
  client_.NewConversation(class_.id(), owner_.id(), state);
  EXPECT_EQ(database()
                .Exec("SELECT encode(crdt_state, 'hex') FROM conversation")[0][0]
                .as<std::string>(),
            "00015c7834312722ff");
}

TEST_F(ConversationServiceTest, EveryWriteChangesTheEtag) {
  Conversation created = client_.NewConversation(class_.id(), owner_.id(), "v1");
  EXPECT_FALSE(created.etag().empty());
  Conversation change;
  change.set_id(created.id());
  change.set_crdt_state("v2");
  Conversation v2;
  ASSERT_TRUE(client_.UpdateConversation(change, {"crdt_state"}, &v2).ok());
  EXPECT_NE(v2.etag(), created.etag());
  change.set_raw_text("text");
  Conversation v3;
  ASSERT_TRUE(client_.UpdateConversation(change, {"raw_text"}, &v3).ok());
  EXPECT_NE(v3.etag(), v2.etag());
  EXPECT_EQ(v3.crdt_state(), "v2");
}

TEST_F(ConversationServiceTest, AStaleEtagOnUpdateIsAbortedAndWritesNothing) {
  Conversation created = client_.NewConversation(class_.id(), owner_.id(), "v1");
  Conversation change;
  change.set_id(created.id());
  change.set_etag(created.etag());
  change.set_crdt_state("v2");
  Conversation v2;
  ASSERT_TRUE(client_.UpdateConversation(change, {"crdt_state"}, &v2).ok());
  change.set_crdt_state("lost edit");  // still carries v1's etag
  Conversation out;
  grpc::Status status = client_.UpdateConversation(change, {"crdt_state"}, &out);
  EXPECT_CODE(status, ABORTED);
  EXPECT_NE(status.error_message().find("etag"), std::string::npos);
  Conversation got;
  ASSERT_TRUE(client_.GetConversation(created.id(), &got).ok());
  EXPECT_EQ(got.crdt_state(), "v2");
  EXPECT_EQ(got.etag(), v2.etag());
}

TEST_F(ConversationServiceTest, AStaleEtagOnDeleteIsAbortedAndKeepsTheConversation) {
  Conversation created = client_.NewConversation(class_.id(), owner_.id(), "v1");
  Conversation change;
  change.set_id(created.id());
  change.set_raw_text("edited");
  Conversation v2;
  ASSERT_TRUE(client_.UpdateConversation(change, {"raw_text"}, &v2).ok());
  EXPECT_CODE(client_.DeleteConversation(created.id(), created.etag()), ABORTED);
  Conversation got;
  ASSERT_TRUE(client_.GetConversation(created.id(), &got).ok());
  EXPECT_TRUE(client_.DeleteConversation(created.id(), v2.etag()).ok());
  EXPECT_CODE(client_.GetConversation(created.id(), &got), NOT_FOUND);
}

TEST_F(ConversationServiceTest, WithoutAnEtagUpdateAndDeleteAreUnconditional) {
  Conversation created = client_.NewConversation(class_.id(), owner_.id(), "v1");
  Conversation change;
  change.set_id(created.id());
  change.set_crdt_state("v2");
  Conversation out;
  ASSERT_TRUE(client_.UpdateConversation(change, {"crdt_state"}, &out).ok());
  ASSERT_TRUE(client_.UpdateConversation(change, {"crdt_state"}, &out).ok());
  EXPECT_TRUE(client_.DeleteConversation(created.id()).ok());
}

TEST_F(ConversationServiceTest, NotFoundComesBeforeAborted) {
  Conversation change;
  change.set_id("00000000-0000-0000-0000-000000000000");
  change.set_etag("stale");
  change.set_crdt_state("x");
  Conversation out;
  EXPECT_CODE(client_.UpdateConversation(change, {"crdt_state"}, &out), NOT_FOUND);
  EXPECT_CODE(client_.DeleteConversation(change.id(), "stale"), NOT_FOUND);
}

TEST_F(ConversationServiceTest, AbortedComesBeforeFailedPrecondition) {
  Conversation created = client_.NewConversation(class_.id(), owner_.id(), "v1");
  Conversation change;
  change.set_id(created.id());
  change.set_etag("stale");
  change.set_class_id("00000000-0000-0000-0000-000000000000");
  Conversation out;
  EXPECT_CODE(client_.UpdateConversation(change, {"class_id"}, &out), ABORTED);
  change.set_etag(created.etag());
  grpc::Status status = client_.UpdateConversation(change, {"class_id"}, &out);
  EXPECT_CODE(status, FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(),
            "conversation.class_id: class 00000000-0000-0000-0000-000000000000 does not exist");
}

TEST_F(ConversationServiceTest, OfManyWritersHoldingTheSameEtagExactlyOneWins) {
  Conversation created = client_.NewConversation(class_.id(), owner_.id(), "v0");
  constexpr int kWriters = 8;
  std::vector<grpc::Status> results(kWriters);
  absl::Barrier* barrier = new absl::Barrier(kWriters);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      GrimoireClient client(test_server().NewChannel());
      Conversation change;
      change.set_id(created.id());
      change.set_etag(created.etag());
      change.set_crdt_state("writer " + std::to_string(i));
      Conversation out;
      if (barrier->Block()) delete barrier;
      results[i] = client.UpdateConversation(change, {"crdt_state"}, &out);
    });
  }
  for (auto& writer : writers) writer.join();
  int won = 0;
  std::string winner;
  for (int i = 0; i < kWriters; ++i) {
    if (results[i].ok()) {
      ++won;
      winner = "writer " + std::to_string(i);
    } else {
      EXPECT_CODE(results[i], ABORTED);
    }
  }
  EXPECT_EQ(won, 1);
  Conversation got;
  ASSERT_TRUE(client_.GetConversation(created.id(), &got).ok());
  EXPECT_EQ(got.crdt_state(), winner);
}

TEST_F(ConversationServiceTest, EtagIsOutputOnlyInMasksAndCannotBeFiltered) {
  Conversation created = client_.NewConversation(class_.id(), owner_.id());
  Conversation change;
  change.set_id(created.id());
  Conversation out;
  EXPECT_CODE(client_.UpdateConversation(change, {"etag"}, &out), INVALID_ARGUMENT);
  ListConversationsRequest request;
  request.set_filter(R"(etag = "x")");
  ListConversationsResponse response;
  grpc::Status status =
      client_.conversations->ListConversations(Context().get(), request, &response);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "filter: field 'etag' cannot be filtered");
  request.set_filter(R"(crdt_state = "x")");
  EXPECT_CODE(client_.conversations->ListConversations(Context().get(), request, &response),
              INVALID_ARGUMENT);
  request.clear_filter();
  request.set_order_by("crdt_state");
  EXPECT_CODE(client_.conversations->ListConversations(Context().get(), request, &response),
              INVALID_ARGUMENT);
}

TEST_F(ConversationServiceTest, ListingWithAReadMaskLeavesOutTheState) {
  for (int i = 0; i < 3; ++i) {
    client_.NewConversation(class_.id(), owner_.id(), RandomBytes(1 << 20, i), "t");
  }
  ListConversationsRequest request;
  request.mutable_read_mask()->add_paths("raw_text");
  request.mutable_read_mask()->add_paths("class_id");
  request.set_filter("class_id = \"" + class_.id() + "\"");
  ListConversationsResponse response;
  ASSERT_TRUE(
      client_.conversations->ListConversations(Context().get(), request, &response).ok());
  ASSERT_EQ(response.conversations_size(), 3);
  for (const Conversation& c : response.conversations()) {
    EXPECT_FALSE(c.id().empty());
    EXPECT_EQ(c.raw_text(), "t");
    EXPECT_TRUE(c.crdt_state().empty());
    EXPECT_TRUE(c.etag().empty());
  }
  EXPECT_LT(response.ByteSizeLong(), 1000u);
}

TEST_F(ConversationServiceTest, ReferencesMustExistAndBeUuids) {
  CreateConversationRequest request;
  request.mutable_conversation()->set_class_id(class_.id());
  request.mutable_conversation()->set_owner_id("00000000-0000-0000-0000-000000000000");
  Conversation out;
  grpc::Status status =
      client_.conversations->CreateConversation(Context().get(), request, &out);
  EXPECT_CODE(status, FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(),
            "conversation.owner_id: user 00000000-0000-0000-0000-000000000000 does not exist");
  request.mutable_conversation()->set_owner_id("bob");
  EXPECT_CODE(client_.conversations->CreateConversation(Context().get(), request, &out),
              INVALID_ARGUMENT);
  request.mutable_conversation()->clear_class_id();
  request.mutable_conversation()->set_owner_id(owner_.id());
  status = client_.conversations->CreateConversation(Context().get(), request, &out);
  EXPECT_EQ(status.error_message(), "conversation.class_id is required");
}

TEST_F(ConversationServiceTest, RawTextWithANulCharacterIsInvalid) {
  CreateConversationRequest request;
  request.mutable_conversation()->set_class_id(class_.id());
  request.mutable_conversation()->set_owner_id(owner_.id());
  request.mutable_conversation()->set_raw_text(std::string("a\0b", 3));
  Conversation out;
  grpc::Status status =
      client_.conversations->CreateConversation(Context().get(), request, &out);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "conversation.raw_text: text must not contain NUL characters");
}

// Batches: etags name the entry, documents move both ways, and a response
// past 64 MiB is refused before the database sends it.

TEST_F(ConversationServiceTest, ABatchUpdateWithAStaleEtagIsAbortedNamingTheEntry) {
  const Conversation a = client_.NewConversation(class_.id(), owner_.id(), "a", "first");
  const Conversation b = client_.NewConversation(class_.id(), owner_.id(), "b", "second");
  Conversation changed;
  Conversation b_now = b;
  b_now.set_raw_text("changed meanwhile");
  ASSERT_TRUE(client_.UpdateConversation(b_now, {"raw_text"}, &changed).ok());

  BatchUpdateConversationsRequest request;
  for (const Conversation* c : {&a, &b}) {
    UpdateConversationRequest* entry = request.add_requests();
    *entry->mutable_conversation() = *c;  // with the etag it was read with
    entry->mutable_conversation()->set_raw_text("batch");
    entry->mutable_update_mask()->add_paths("raw_text");
  }
  BatchUpdateConversationsResponse response;
  grpc::Status status =
      client_.conversations->BatchUpdateConversations(Context().get(), request, &response);
  EXPECT_CODE(status, ABORTED);
  EXPECT_TRUE(absl::StartsWith(status.error_message(), "requests[1]: ")) << status.error_message();
  Conversation got;
  ASSERT_TRUE(client_.GetConversation(a.id(), &got).ok());
  EXPECT_EQ(got.raw_text(), "first") << "a refused batch wrote its first entry";
  EXPECT_EQ(got.etag(), a.etag());

  // With the current etag, both are written and each etag changes.
  request.mutable_requests(1)->mutable_conversation()->set_etag(changed.etag());
  status = client_.conversations->BatchUpdateConversations(Context().get(), request, &response);
  ASSERT_CODE(status, OK);
  ASSERT_EQ(response.conversations_size(), 2);
  EXPECT_EQ(response.conversations(0).raw_text(), "batch");
  EXPECT_EQ(response.conversations(1).crdt_state(), "b");
  EXPECT_NE(response.conversations(0).etag(), a.etag());
  EXPECT_NE(response.conversations(1).etag(), changed.etag());

  // A stale etag on delete, too.
  BatchDeleteConversationsRequest deletes;
  deletes.add_requests()->set_id(a.id());
  deletes.add_requests()->set_id(b.id());
  deletes.mutable_requests(1)->set_etag(changed.etag());
  google::protobuf::Empty empty;
  status = client_.conversations->BatchDeleteConversations(Context().get(), deletes, &empty);
  EXPECT_CODE(status, ABORTED);
  EXPECT_TRUE(absl::StartsWith(status.error_message(), "requests[1]: ")) << status.error_message();
  EXPECT_TRUE(client_.GetConversation(a.id(), &got).ok()) << "a refused batch deleted";
}

TEST_F(ConversationServiceTest, DocumentsGoInAndOutOfBatchesByteForByte) {
  BatchCreateConversationsRequest request;
  for (unsigned i = 0; i < 3; ++i) {
    Conversation* c = request.add_requests()->mutable_conversation();
    c->set_class_id(class_.id());
    c->set_owner_id(owner_.id());
    c->set_crdt_state(RandomBytes(100000 + i, i));
  }
  BatchCreateConversationsResponse created;
  ASSERT_CODE(client_.conversations->BatchCreateConversations(Context().get(), request, &created),
              OK);
  ASSERT_EQ(created.conversations_size(), 3);
  BatchGetConversationsRequest get;
  for (int i = 2; i >= 0; --i) get.add_ids(created.conversations(i).id());
  BatchGetConversationsResponse got;
  ASSERT_CODE(client_.conversations->BatchGetConversations(Context().get(), get, &got), OK);
  ASSERT_EQ(got.conversations_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(created.conversations(i).crdt_state(), RandomBytes(100000 + i, i));
    EXPECT_EQ(got.conversations(2 - i).crdt_state(), RandomBytes(100000 + i, i));
    EXPECT_EQ(got.conversations(2 - i).etag(), created.conversations(i).etag());
  }
}

TEST_F(ConversationServiceTest, AnEntryOverTheBytesLimitIsInvalidArgumentNamingIt) {
  BatchCreateConversationsRequest request;
  for (int i = 0; i < 2; ++i) {
    Conversation* c = request.add_requests()->mutable_conversation();
    c->set_class_id(class_.id());
    c->set_owner_id(owner_.id());
  }
  request.mutable_requests(1)->mutable_conversation()->set_crdt_state(
      std::string(16 * 1024 * 1024 + 1, 'x'));
  BatchCreateConversationsResponse created;
  const grpc::Status status =
      client_.conversations->BatchCreateConversations(Context().get(), request, &created);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(status.error_message(), "requests[1].conversation.crdt_state"))
      << status.error_message();
  EXPECT_EQ(database().Exec("SELECT count(*) FROM conversation")[0][0].as<int>(), 0);
}

TEST_F(ConversationServiceTest, ABatchGetPastSixtyFourMebibytesPointsAtReadMask) {
  std::vector<std::string> ids;
  for (unsigned i = 0; i < 3; ++i) {
    ids.push_back(client_
                      .NewConversation(class_.id(), owner_.id(),
                                       std::string(15 * 1024 * 1024, static_cast<char>('a' + i)))
                      .id());
  }
  // Five times 15 MiB, a repeated id counted each time it is asked.
  BatchGetConversationsRequest request;
  for (const int i : {0, 1, 2, 0, 1}) request.add_ids(ids[static_cast<size_t>(i)]);
  BatchGetConversationsResponse response;
  grpc::Status status =
      client_.conversations->BatchGetConversations(Context().get(), request, &response);
  EXPECT_CODE(status, RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "read_mask")) << status.error_message();
  // Without the documents it fits.
  request.mutable_read_mask()->add_paths("raw_text");
  status = client_.conversations->BatchGetConversations(Context().get(), request, &response);
  ASSERT_CODE(status, OK);
  ASSERT_EQ(response.conversations_size(), 5);
  EXPECT_EQ(response.conversations(3).id(), ids[0]);
  EXPECT_TRUE(response.conversations(3).crdt_state().empty());
}

}  // namespace
}  // namespace protomodel::testing
