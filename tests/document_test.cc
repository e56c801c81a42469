// Live documents (Append<R>Update, List<R>Updates, Watch<R>Updates,
// Compact<R>) end to end over conversations: concurrent appends on two
// replicas, watchers on another replica, late joiners with a long backlog,
// large updates, and the races between compaction, replacement and
// appends. The rules every document shares are in conformance_test.
#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "grimoire/v1/grimoire.grpc.pb.h"
#include "harness/grimoire_client.h"
#include "harness/test_server.h"
#include "harness/watch_reader.h"
#include "protomodel/client/resources.h"

namespace protomodel::testing {
namespace {

using grimoire::v1::Conversation;
using grimoire::v1::ConversationUpdate;

const google::protobuf::MethodDescriptor* WatchMethod() {
  return Conversation::descriptor()->file()->FindServiceByName("ConversationService")
      ->FindMethodByName("WatchConversationUpdates");
}

class DocumentTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    const grimoire::v1::User owner = client_.NewUser("ada@example.com");
    const grimoire::v1::Class room = client_.NewClass(owner.id());
    conversation_ = client_.NewConversation(room.id(), owner.id(), "state 0");
  }

  // The conversations' client on `channel`.
  static client::Resources<Conversation> On(const std::shared_ptr<grpc::Channel>& channel) {
    return *client::Resources<Conversation>::For(channel);
  }

  std::unique_ptr<WatchReader> Watch(const std::shared_ptr<grpc::Channel>& channel,
                                     int64_t after) const {
    grimoire::v1::WatchConversationUpdatesRequest request;
    request.set_conversation_id(conversation_.id());
    request.set_after_seq(after);
    return std::make_unique<WatchReader>(channel, WatchMethod(), request);
  }

  // The next `n` updates of `watch`, in the order they came.
  static std::vector<ConversationUpdate> Take(WatchReader& watch, int n) {
    std::vector<ConversationUpdate> updates;
    while (static_cast<int>(updates.size()) < n) {
      std::unique_ptr<google::protobuf::Message> next = watch.Next();
      if (next == nullptr) break;
      ConversationUpdate update;
      update.CopyFrom(*next);
      updates.push_back(std::move(update));
    }
    return updates;
  }

  GrimoireClient client_{channel()};
  Conversation conversation_;
};

// 8 writers, half on each of two replicas, 50 appends each: seqs 1..400,
// each once, and a watcher on the second replica gets all of them in order.
TEST_F(DocumentTest, ConcurrentAppendsOnTwoReplicasTakeSeqsWithoutGaps) {
  TestServer other(database().url());
  const std::shared_ptr<grpc::Channel> far = other.NewChannel();
  std::unique_ptr<WatchReader> watch = Watch(far, 0);
  constexpr int kWriters = 8;
  constexpr int kAppends = 50;
  std::vector<std::vector<int64_t>> seqs(kWriters);
  std::atomic<int> failures{0};
  absl::Barrier start(kWriters);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const auto conversations = On(w % 2 == 0 ? channel() : far);
      start.Block();
      for (int i = 0; i < kAppends; ++i) {
        absl::StatusOr<client::DocumentUpdate> appended =
            conversations.AppendUpdate(conversation_.id(), absl::StrCat("w", w, "-", i));
        if (!appended.ok()) {
          ++failures;
          ADD_FAILURE() << appended.status();
          continue;
        }
        seqs[static_cast<size_t>(w)].push_back(appended->seq);
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  ASSERT_EQ(failures.load(), 0);
  std::vector<int64_t> all;
  for (const auto& mine : seqs) {
    // Each writer's own appends take increasing seqs.
    EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end()));
    all.insert(all.end(), mine.begin(), mine.end());
  }
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), 400u);
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], static_cast<int64_t>(i + 1));

  // The log holds each writer's bytes under the seq it was told.
  absl::StatusOr<std::vector<client::DocumentUpdate>> listed =
      On(channel()).ListUpdates(conversation_.id(), 0);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 400u);
  std::set<std::string> bytes;
  for (size_t i = 0; i < listed->size(); ++i) {
    EXPECT_EQ((*listed)[i].seq, static_cast<int64_t>(i + 1));
    bytes.insert((*listed)[i].data);
  }
  EXPECT_EQ(bytes.size(), 400u);
  for (int w = 0; w < kWriters; ++w) {
    for (size_t i = 0; i < seqs[static_cast<size_t>(w)].size(); ++i) {
      EXPECT_EQ((*listed)[static_cast<size_t>(seqs[static_cast<size_t>(w)][i] - 1)].data,
                absl::StrCat("w", w, "-", i));
    }
  }
  const std::vector<ConversationUpdate> watched = Take(*watch, 400);
  ASSERT_EQ(watched.size(), 400u);
  for (size_t i = 0; i < watched.size(); ++i) {
    ASSERT_EQ(watched[i].seq(), static_cast<int64_t>(i + 1));
    EXPECT_EQ(watched[i].update(), (*listed)[i].data);
    EXPECT_EQ(watched[i].conversation_id(), conversation_.id());
  }
  EXPECT_EQ(watch->Next(absl::Milliseconds(200)), nullptr);
  Conversation now;
  ASSERT_CODE(client_.GetConversation(conversation_.id(), &now), OK);
  EXPECT_EQ(now.update_seq(), 400);
}

// A late joiner reads a backlog of 1000 updates, in pages, then goes on
// live; one that stopped resumes from the last seq it got.
TEST_F(DocumentTest, LateJoinerGetsTheBacklogThenLiveAndResumesBySeq) {
  const auto conversations = On(channel());
  for (int i = 1; i <= 1000; ++i) {
    ASSERT_TRUE(conversations.AppendUpdate(conversation_.id(), absl::StrCat("u", i)).ok());
  }
  std::unique_ptr<WatchReader> watch = Watch(channel(), 0);
  std::vector<ConversationUpdate> got = Take(*watch, 1000);
  ASSERT_EQ(got.size(), 1000u);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i].seq(), static_cast<int64_t>(i + 1));
  ASSERT_TRUE(conversations.AppendUpdate(conversation_.id(), "live").ok());
  got = Take(*watch, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].seq(), 1001);
  EXPECT_EQ(got[0].update(), "live");
  watch.reset();

  // The client resumes from a seq: only what came after it.
  ASSERT_TRUE(conversations.AppendUpdate(conversation_.id(), "while away").ok());
  std::vector<client::DocumentUpdate> resumed;
  const absl::Status status =
      conversations.WatchUpdates(conversation_.id(), 1001, [&](client::DocumentUpdate& update) {
        resumed.push_back(update);
        return false;
      });
  EXPECT_TRUE(status.ok()) << status;
  ASSERT_EQ(resumed.size(), 1u);
  EXPECT_EQ(resumed[0].seq, 1002);
  EXPECT_EQ(resumed[0].data, "while away");
}

// Updates of many MiB travel whole: a List page stays under 16 MiB, a
// watcher gets each in turn.
TEST_F(DocumentTest, LargeUpdatesArePagedAndStreamedWhole) {
  const auto conversations = On(channel());
  std::vector<std::string> updates;
  for (int i = 0; i < 4; ++i) {
    updates.push_back(std::string(6 * 1024 * 1024 + i, static_cast<char>('a' + i)));
    ASSERT_TRUE(conversations.AppendUpdate(conversation_.id(), updates.back()).ok());
  }
  std::unique_ptr<WatchReader> watch = Watch(channel(), 0);
  const std::vector<ConversationUpdate> got = Take(*watch, 4);
  ASSERT_EQ(got.size(), 4u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].update(), updates[i]);

  std::vector<client::DocumentUpdate> page;
  absl::StatusOr<std::string> next =
      conversations.untyped().ListUpdatesPage(conversation_.id(), 0, 100, "", &page);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(page.size(), 2u);  // 12 MiB; a third would pass 16
  EXPECT_FALSE(next->empty());
  absl::StatusOr<std::vector<client::DocumentUpdate>> all =
      conversations.ListUpdates(conversation_.id(), 0);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[3].data, updates[3]);
}

// Two clients compact through the same seq at once: one wins, the other is
// ABORTED and writes nothing. Appends racing a compaction are all kept.
TEST_F(DocumentTest, CompactionRacesLoseNothing) {
  const auto conversations = On(channel());
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(conversations.AppendUpdate(conversation_.id(), absl::StrCat("u", i)).ok());
  }
  for (int round = 0; round < 5; ++round) {
    const int64_t through = 20 + round;
    ASSERT_TRUE(conversations.AppendUpdate(conversation_.id(), "more").ok());
    std::atomic<int> won{0}, aborted{0};
    absl::Barrier start(2);
    std::vector<std::thread> racers;
    for (int c = 0; c < 2; ++c) {
      racers.emplace_back([&, c] {
        start.Block();
        absl::StatusOr<Conversation> out =
            conversations.Compact(conversation_.id(), through, absl::StrCat("merged by ", c));
        if (out.ok()) ++won;
        if (out.status().code() == absl::StatusCode::kAborted) ++aborted;
      });
    }
    for (std::thread& racer : racers) racer.join();
    EXPECT_EQ(won.load(), 1);
    EXPECT_EQ(aborted.load(), 1);
  }

  // Appends while others compact: every seq above compacted_seq is there.
  std::atomic<bool> stop{false};
  std::thread appender([&] {
    while (!stop.load()) (void)conversations.AppendUpdate(conversation_.id(), "racing");
  });
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<Conversation> now = conversations.Get(conversation_.id());
    ASSERT_TRUE(now.ok());
    const absl::StatusOr<Conversation> compacted =
        conversations.Compact(conversation_.id(), now->update_seq(), "merged");
    if (!compacted.ok()) {
      EXPECT_EQ(compacted.status().code(), absl::StatusCode::kAborted) << compacted.status();
    }
  }
  stop.store(true);
  appender.join();
  absl::StatusOr<Conversation> now = conversations.Get(conversation_.id());
  ASSERT_TRUE(now.ok());
  absl::StatusOr<std::vector<client::DocumentUpdate>> left =
      conversations.ListUpdates(conversation_.id(), now->compacted_seq());
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_EQ(static_cast<int64_t>(left->size()), now->update_seq() - now->compacted_seq());
  for (size_t i = 0; i < left->size(); ++i) {
    EXPECT_EQ((*left)[i].seq, now->compacted_seq() + static_cast<int64_t>(i) + 1);
  }
}

// A replace with an etag read before an append is ABORTED: the append is
// not dropped. A watcher whose position a compaction passed is ended.
TEST_F(DocumentTest, ReplaceAfterAnUnseenAppendIsAborted) {
  Conversation read;
  ASSERT_CODE(client_.GetConversation(conversation_.id(), &read), OK);
  const auto conversations = On(channel());
  ASSERT_TRUE(conversations.AppendUpdate(conversation_.id(), "unseen").ok());
  Conversation replace = read;
  replace.set_crdt_state("replaced");
  Conversation out;
  EXPECT_CODE(client_.UpdateConversation(replace, {"crdt_state"}, &out), ABORTED);
  absl::StatusOr<std::vector<client::DocumentUpdate>> kept =
      conversations.ListUpdates(conversation_.id(), 0);
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->size(), 1u);
  EXPECT_EQ((*kept)[0].data, "unseen");
}

}  // namespace
}  // namespace protomodel::testing
