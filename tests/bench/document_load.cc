// protomodel-document-load: the live documents' figures for `make bench`.
//   --mode=append   --clients threads append --update_bytes updates, each to
//                   one of --conversations conversations in turn (1: all to
//                   one), for --duration_seconds: appends/s and latencies.
//   --mode=load     a conversation of a --snapshot_bytes state and --updates
//                   updates, loaded as a reader does (Get, then List of the
//                   updates after compacted_seq), against Get of a
//                   conversation holding the same bytes as one state:
//                   median milliseconds of each, over --rounds.
//   --mode=latency  a watcher on --replica while --rate appends a second go
//                   to --target: from each update's created_at (the
//                   database's clock, on this machine) to its arrival.
// Each prints one line of key=value pairs.
#include <algorithm>
#include <atomic>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grimoire/v1/grimoire.grpc.pb.h"
#include "protomodel/client/channel.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "Server address.");
ABSL_FLAG(std::string, replica, "", "Another replica's address (latency: the watcher's).");
ABSL_FLAG(std::string, mode, "append", "append, load or latency.");
ABSL_FLAG(int, conversations, 100, "append: conversations the appends go to.");
ABSL_FLAG(int, clients, 16, "append: threads appending at once.");
ABSL_FLAG(int, update_bytes, 100, "Bytes of each update.");
ABSL_FLAG(double, duration_seconds, 5, "append, latency: measured time.");
ABSL_FLAG(int, snapshot_bytes, 1 << 20, "load: the state's bytes.");
ABSL_FLAG(int, updates, 1000, "load: updates after the state.");
ABSL_FLAG(int, rounds, 20, "load: loads of each kind.");
ABSL_FLAG(double, rate, 200, "latency: appends a second.");

namespace {

using namespace grimoire::v1;  // NOLINT

std::shared_ptr<grpc::Channel> Connect(const std::string& target) {
  protomodel::client::ChannelOptions options;
  options.own_connection = true;
  return *protomodel::client::Connect(target, options);
}

void Check(const grpc::Status& status, const char* what) {
  if (!status.ok()) {
    std::cerr << "document-load: " << what << ": " << status.error_message() << "\n";
    std::exit(1);
  }
}

// A conversation (its user and class made too) holding `state`.
std::string NewConversation(ConversationService::Stub& conversations,
                            const std::shared_ptr<grpc::Channel>& channel, const std::string& state) {
  static std::atomic<int> serial{0};
  auto users = UserService::NewStub(channel);
  auto classes = ClassService::NewStub(channel);
  grpc::ClientContext c1, c2, c3;
  CreateUserRequest user_request;
  user_request.mutable_user()->set_email(
      absl::StrCat("load-", getpid(), "-", serial++, "@example.com"));
  user_request.mutable_user()->set_display_name("Load");
  User user;
  Check(users->CreateUser(&c1, user_request, &user), "CreateUser");
  CreateClassRequest class_request;
  class_request.mutable_class_()->set_name("Load");
  class_request.mutable_class_()->set_owner_id(user.id());
  Class room;
  Check(classes->CreateClass(&c2, class_request, &room), "CreateClass");
  CreateConversationRequest request;
  request.mutable_conversation()->set_class_id(room.id());
  request.mutable_conversation()->set_owner_id(user.id());
  request.mutable_conversation()->set_crdt_state(state);
  Conversation conversation;
  Check(conversations.CreateConversation(&c3, request, &conversation), "CreateConversation");
  return conversation.id();
}

grpc::Status Append(ConversationService::Stub& stub, const std::string& id,
                    const std::string& bytes, ConversationUpdate* out) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  AppendConversationUpdateRequest request;
  request.set_conversation_id(id);
  request.set_update(bytes);
  return stub.AppendConversationUpdate(&context, request, out);
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * values.size()))];
}

int AppendMode() {
  auto channel = Connect(absl::GetFlag(FLAGS_target));
  auto stub = ConversationService::NewStub(channel);
  std::vector<std::string> ids;
  for (int i = 0; i < absl::GetFlag(FLAGS_conversations); ++i) {
    ids.push_back(NewConversation(*stub, channel, ""));
  }
  const std::string bytes(static_cast<size_t>(absl::GetFlag(FLAGS_update_bytes)), 'u');
  const int clients = absl::GetFlag(FLAGS_clients);
  const absl::Duration duration = absl::Seconds(absl::GetFlag(FLAGS_duration_seconds));
  std::atomic<size_t> next{0};
  std::atomic<int> errors{0};
  absl::Mutex mu;
  std::vector<double> latencies;
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&] {
      std::vector<double> mine;
      while (absl::Now() - start < duration) {
        const std::string& id = ids[next++ % ids.size()];
        const absl::Time sent = absl::Now();
        ConversationUpdate out;
        if (!Append(*stub, id, bytes, &out).ok()) ++errors;
        mine.push_back(absl::ToDoubleMilliseconds(absl::Now() - sent));
      }
      absl::MutexLock lock(&mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (std::thread& thread : threads) thread.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::cout << absl::StrFormat(
      "mode=append conversations=%d clients=%d appends=%d appends_per_s=%.1f p50_ms=%.2f "
      "p99_ms=%.2f errors=%d\n",
      static_cast<int>(ids.size()), clients, static_cast<int>(latencies.size()),
      latencies.size() / seconds, Percentile(latencies, 0.5), Percentile(latencies, 0.99),
      errors.load());
  return errors.load() == 0 ? 0 : 1;
}

int LoadMode() {
  auto channel = Connect(absl::GetFlag(FLAGS_target));
  auto stub = ConversationService::NewStub(channel);
  const std::string snapshot(static_cast<size_t>(absl::GetFlag(FLAGS_snapshot_bytes)), 's');
  const std::string update(static_cast<size_t>(absl::GetFlag(FLAGS_update_bytes)), 'u');
  const int updates = absl::GetFlag(FLAGS_updates);
  const std::string live = NewConversation(*stub, channel, snapshot);
  for (int i = 0; i < updates; ++i) {
    ConversationUpdate out;
    Check(Append(*stub, live, update, &out), "AppendConversationUpdate");
  }
  const std::string whole = NewConversation(
      *stub, channel, std::string(snapshot.size() + update.size() * static_cast<size_t>(updates), 'w'));
  const auto get = [&](const std::string& id) {
    grpc::ClientContext context;
    GetConversationRequest request;
    request.set_id(id);
    Conversation conversation;
    Check(stub->GetConversation(&context, request, &conversation), "GetConversation");
    return conversation;
  };
  std::vector<double> document_ms, snapshot_ms;
  size_t loaded = 0;
  for (int round = 0; round < absl::GetFlag(FLAGS_rounds); ++round) {
    absl::Time t0 = absl::Now();
    const Conversation conversation = get(live);
    std::string token;
    size_t got = 0;
    do {
      grpc::ClientContext context;
      ListConversationUpdatesRequest request;
      request.set_conversation_id(live);
      request.set_after_seq(conversation.compacted_seq());
      request.set_page_size(1000);
      request.set_page_token(token);
      ListConversationUpdatesResponse page;
      Check(stub->ListConversationUpdates(&context, request, &page), "ListConversationUpdates");
      got += static_cast<size_t>(page.updates_size());
      token = page.next_page_token();
    } while (!token.empty());
    document_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    loaded = got;
    t0 = absl::Now();
    (void)get(whole);
    snapshot_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
  }
  const double document = Percentile(document_ms, 0.5);
  const double whole_ms = Percentile(snapshot_ms, 0.5);
  std::cout << absl::StrFormat(
      "mode=load snapshot_bytes=%d updates=%d loaded_updates=%d document_ms=%.2f "
      "snapshot_ms=%.2f ratio=%.2f\n",
      static_cast<int>(snapshot.size()), updates, static_cast<int>(loaded), document, whole_ms,
      whole_ms > 0 ? document / whole_ms : 0);
  return loaded == static_cast<size_t>(updates) ? 0 : 1;
}

// A watch on the replica: the latency of each update from its created_at.
class Watcher final : public grpc::ClientReadReactor<ConversationUpdate> {
 public:
  Watcher(ConversationService::Stub* stub, const std::string& id) {
    request_.set_conversation_id(id);
    stub->async()->WatchConversationUpdates(&context_, &request_, this);
    StartRead(&update_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    const absl::Time now = absl::Now();
    {
      absl::MutexLock lock(&mu_);
      const absl::Time created = absl::FromUnixSeconds(update_.created_at().seconds()) +
                                 absl::Nanoseconds(update_.created_at().nanos());
      latencies_.push_back(absl::ToDoubleMilliseconds(now - created));
      last_seq_ = update_.seq();
    }
    StartRead(&update_);
  }
  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    done_ = true;
    status_ = status;
  }
  void Cancel() {
    context_.TryCancel();
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }
  std::vector<double> latencies() {
    absl::MutexLock lock(&mu_);
    return latencies_;
  }
  int64_t last_seq() {
    absl::MutexLock lock(&mu_);
    return last_seq_;
  }

 private:
  grpc::ClientContext context_;
  WatchConversationUpdatesRequest request_;
  ConversationUpdate update_;
  absl::Mutex mu_;
  std::vector<double> latencies_;
  int64_t last_seq_ = 0;
  bool done_ = false;
  grpc::Status status_;
};

int LatencyMode() {
  auto channel = Connect(absl::GetFlag(FLAGS_target));
  auto stub = ConversationService::NewStub(channel);
  const std::string replica =
      absl::GetFlag(FLAGS_replica).empty() ? absl::GetFlag(FLAGS_target) : absl::GetFlag(FLAGS_replica);
  auto far_channel = Connect(replica);
  auto far = ConversationService::NewStub(far_channel);
  const std::string id = NewConversation(*stub, channel, "");
  Watcher watcher(far.get(), id);
  absl::SleepFor(absl::Milliseconds(200));  // the watch is in place
  const std::string bytes(static_cast<size_t>(absl::GetFlag(FLAGS_update_bytes)), 'u');
  const absl::Duration every = absl::Seconds(1.0 / absl::GetFlag(FLAGS_rate));
  const absl::Time start = absl::Now();
  int64_t sent = 0;
  while (absl::Now() - start < absl::Seconds(absl::GetFlag(FLAGS_duration_seconds))) {
    ConversationUpdate out;
    Check(Append(*stub, id, bytes, &out), "AppendConversationUpdate");
    ++sent;
    const absl::Time due = start + every * static_cast<double>(sent);
    if (due > absl::Now()) absl::SleepFor(due - absl::Now());
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (watcher.last_seq() < sent && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  const std::vector<double> latencies = watcher.latencies();
  watcher.Cancel();
  std::cout << absl::StrFormat(
      "mode=latency appends=%d received=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
      static_cast<int>(sent), static_cast<int>(latencies.size()), Percentile(latencies, 0.5),
      Percentile(latencies, 0.99), Percentile(latencies, 1.0));
  return static_cast<int64_t>(latencies.size()) == sent ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "append") return AppendMode();
  if (mode == "load") return LoadMode();
  if (mode == "latency") return LatencyMode();
  std::cerr << "document-load: --mode is append, load or latency\n";
  return 64;
}
