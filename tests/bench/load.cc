// protomodel-load: drives one scenario against a running server with many
// calls in flight (gRPC's asynchronous API on a few completion queues, no
// thread per call) for a fixed time (after a warm-up that is not counted)
// and prints one line of results:
//   scenario=get_hero concurrency=16 calls=123 errors=0 seconds=5.0
//   calls_per_s=24.6 p50_ms=0.61 p99_ms=1.9 p999_ms=3.2 mb_per_s=0 rows_per_s=24.6
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/support/async_unary_call.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "protomodel/client/call.h"
#include "protomodel/client/channel.h"
#include "grimoire/v1/grimoire.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "heroes/v1/heroes.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "Server address.");
ABSL_FLAG(std::string, scenario, "get_hero",
          "health_check, get_hero, create_hero, list_heroes, list_heroes_deep, "
          "update_hero, batch_get_heroes, batch_create_heroes, conversation_read or "
          "conversation_write.");
ABSL_FLAG(int, concurrency, 16, "Calls in flight.");
ABSL_FLAG(int, channels, 4, "Channels (HTTP/2 connections) the threads share.");
ABSL_FLAG(int, threads, 2, "Threads, each polling a completion queue of its own.");
ABSL_FLAG(double, duration_seconds, 5, "Measured time.");
ABSL_FLAG(double, warmup_seconds, 1, "Time run first and not counted.");
ABSL_FLAG(int64_t, heroes, 100000, "Heroes seeded with ids 1..N (get/update pick one).");
ABSL_FLAG(int, page_size, 100, "Rows per List call.");
ABSL_FLAG(int, batch, 100, "Rows per batch_* call.");
ABSL_FLAG(int, deep_offset, 10000, "Rows before the page list_heroes_deep reads.");
ABSL_FLAG(int, crdt_bytes, 1 << 20, "Size of the CRDT state conversation_* moves.");
ABSL_FLAG(int, conversations, 16, "Conversations conversation_* spreads over.");
ABSL_FLAG(bool, request_ids, true,
          "create_hero sends a fresh request_id with each create, as protomodel's "
          "clients do (the idempotent path); false: the plain insert.");

namespace {

using Clock = std::chrono::steady_clock;

struct Worker {
  std::vector<double> latencies_ms;
  int64_t errors = 0;
  int64_t bytes = 0;
};

// One call in flight: it starts the next as soon as it finishes.
struct Slot {
  int index = 0;
  grpc::CompletionQueue* cq = nullptr;  // its calls complete there
  std::mt19937_64 random;
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<google::protobuf::Message> request;
  std::unique_ptr<google::protobuf::Message> response;
  Clock::time_point begin;
  Worker stats;
};

using Done = std::function<void(int64_t bytes)>;

std::function<void(grpc::Status)> OnStatus(Done done, int64_t bytes = 0) {
  return [done = std::move(done), bytes](grpc::Status status) {
    done(status.ok() ? bytes : -1);
  };
}

// A call started on a completion queue, the tag its completion comes back
// with: the polling thread calls Complete().
struct PendingCall {
  virtual ~PendingCall() = default;
  void Complete() { done(status); }
  grpc::Status status;
  std::function<void(grpc::Status)> done;
};

template <typename Response>
struct PendingUnary final : PendingCall {
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader;
};

// Starts a unary call prepared on slot.cq (stub.PrepareAsyncX); `done` runs
// on the thread polling that queue.
template <typename Response>
void Start(std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader,
           Response* response, std::function<void(grpc::Status)> done) {
  auto* call = new PendingUnary<Response>();
  call->reader = std::move(reader);
  call->done = std::move(done);
  call->reader->StartCall();
  call->reader->Finish(response, &call->status, static_cast<PendingCall*>(call));
}

template <typename T>
T* Make(std::unique_ptr<google::protobuf::Message>& holder) {
  holder = std::make_unique<T>();
  return static_cast<T*>(holder.get());
}

class Scenario {
 public:
  explicit Scenario(std::vector<std::shared_ptr<grpc::Channel>> channels)
      : channels_(std::move(channels)) {}
  virtual ~Scenario() = default;
  // Prepares what calls need (tokens, rows); false on failure.
  virtual bool SetUp() { return true; }
  // The rows one call reads or writes.
  virtual int RowsPerCall() const { return 1; }
  // Starts one call on `slot` on its completion queue; `done` gets the
  // payload bytes it moved, or -1 on error.
  virtual void Issue(Slot& slot, Done done) = 0;

  static std::unique_ptr<grpc::ClientContext> NewContext() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return context;
  }

 protected:
  const std::shared_ptr<grpc::Channel>& channel(int thread) const {
    return channels_[static_cast<size_t>(thread) % channels_.size()];
  }
  static std::unique_ptr<grpc::ClientContext> Context() { return NewContext(); }
  // Stubs of `Service` spread over the channels, one per slot index (slots
  // beyond 64 share them).
  template <typename Service>
  std::vector<std::unique_ptr<typename Service::Stub>> Stubs() const {
    std::vector<std::unique_ptr<typename Service::Stub>> stubs;
    for (int i = 0; i < 64; ++i) stubs.push_back(Service::NewStub(channel(i)));
    return stubs;
  }

 private:
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
};

// gRPC's floor on the same server and connections: the built-in health
// service answers from memory, through the same interceptors, no database.
class HealthCheck final : public Scenario {
 public:
  using Scenario::Scenario;
  bool SetUp() override {
    stubs_ = Stubs<grpc::health::v1::Health>();
    return true;
  }
  void Issue(Slot& slot, Done done) override {
    auto* request = Make<grpc::health::v1::HealthCheckRequest>(slot.request);
    auto* response = Make<grpc::health::v1::HealthCheckResponse>(slot.response);
    Start(stubs_[static_cast<size_t>(slot.index) % stubs_.size()]->PrepareAsyncCheck(
              slot.context.get(), *request, slot.cq),
          response, [done = std::move(done), response](grpc::Status status) {
            done(status.ok() && response->status() ==
                                    grpc::health::v1::HealthCheckResponse::SERVING
                     ? 0
                     : -1);
          });
  }

 private:
  std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>> stubs_;
};

class HeroScenario : public Scenario {
 public:
  using Scenario::Scenario;
  bool SetUp() override {
    stubs_ = Stubs<heroes::v1::HeroService>();
    return true;
  }

 protected:
  heroes::v1::HeroService::Stub& stub(int thread) {
    return *stubs_[static_cast<size_t>(thread) % stubs_.size()];
  }
  int64_t RandomId(std::mt19937_64& random) {
    return 1 + static_cast<int64_t>(random() % static_cast<uint64_t>(absl::GetFlag(FLAGS_heroes)));
  }

 private:
  std::vector<std::unique_ptr<heroes::v1::HeroService::Stub>> stubs_;
};

class GetHero final : public HeroScenario {
 public:
  using HeroScenario::HeroScenario;
  void Issue(Slot& slot, Done done) override {
    auto* request = Make<heroes::v1::GetHeroRequest>(slot.request);
    request->set_id(RandomId(slot.random));
    auto* response = Make<heroes::v1::Hero>(slot.response);
    Start(stub(slot.index).PrepareAsyncGetHero(slot.context.get(), *request, slot.cq), response,
          OnStatus(done));
  }
};

class CreateHero final : public HeroScenario {
 public:
  using HeroScenario::HeroScenario;
  const bool request_ids_ = absl::GetFlag(FLAGS_request_ids);
  void Issue(Slot& slot, Done done) override {
    auto* request = Make<heroes::v1::CreateHeroRequest>(slot.request);
    request->mutable_hero()->set_name("bench");
    request->mutable_hero()->set_secret_name("bench");
    request->mutable_hero()->set_age(static_cast<int32_t>(slot.random() % 100));
    if (request_ids_) request->set_request_id(protomodel::client::NewRequestId());
    auto* response = Make<heroes::v1::Hero>(slot.response);
    Start(stub(slot.index).PrepareAsyncCreateHero(slot.context.get(), *request, slot.cq),
          response, OnStatus(done));
  }
};

// A BatchGetHeroes of --batch random ids.
class BatchGetHeroes final : public HeroScenario {
 public:
  using HeroScenario::HeroScenario;
  int RowsPerCall() const override { return absl::GetFlag(FLAGS_batch); }
  void Issue(Slot& slot, Done done) override {
    auto* request = Make<heroes::v1::BatchGetHeroesRequest>(slot.request);
    for (int i = 0; i < RowsPerCall(); ++i) request->add_ids(RandomId(slot.random));
    auto* response = Make<heroes::v1::BatchGetHeroesResponse>(slot.response);
    Start(stub(slot.index).PrepareAsyncBatchGetHeroes(slot.context.get(), *request, slot.cq),
          response, [done = std::move(done), response, this](grpc::Status status) {
            done(status.ok() && response->heroes_size() == RowsPerCall() ? 0 : -1);
          });
  }
};

// A BatchCreateHeroes of --batch heroes, each with its request_id.
class BatchCreateHeroes final : public HeroScenario {
 public:
  using HeroScenario::HeroScenario;
  int RowsPerCall() const override { return absl::GetFlag(FLAGS_batch); }
  void Issue(Slot& slot, Done done) override {
    auto* request = Make<heroes::v1::BatchCreateHeroesRequest>(slot.request);
    for (int i = 0; i < RowsPerCall(); ++i) {
      heroes::v1::CreateHeroRequest* entry = request->add_requests();
      entry->mutable_hero()->set_name("bench");
      entry->mutable_hero()->set_secret_name("bench");
      entry->mutable_hero()->set_age(static_cast<int32_t>(slot.random() % 100));
      entry->set_request_id(protomodel::client::NewRequestId());
    }
    auto* response = Make<heroes::v1::BatchCreateHeroesResponse>(slot.response);
    Start(stub(slot.index).PrepareAsyncBatchCreateHeroes(slot.context.get(), *request, slot.cq),
          response, [done = std::move(done), response, this](grpc::Status status) {
            done(status.ok() && response->heroes_size() == RowsPerCall() ? 0 : -1);
          });
  }
};

class UpdateHero final : public HeroScenario {
 public:
  using HeroScenario::HeroScenario;
  void Issue(Slot& slot, Done done) override {
    auto* request = Make<heroes::v1::UpdateHeroRequest>(slot.request);
    request->mutable_hero()->set_id(RandomId(slot.random));
    request->mutable_hero()->set_age(static_cast<int32_t>(slot.random() % 100));
    request->mutable_update_mask()->add_paths("age");
    auto* response = Make<heroes::v1::Hero>(slot.response);
    Start(stub(slot.index).PrepareAsyncUpdateHero(slot.context.get(), *request, slot.cq),
          response, OnStatus(done));
  }
};

class ListHeroes final : public HeroScenario {
 public:
  ListHeroes(std::vector<std::shared_ptr<grpc::Channel>> channels, bool deep)
      : HeroScenario(std::move(channels)), deep_(deep) {}
  bool SetUp() override {
    HeroScenario::SetUp();
    if (!deep_) return true;
    // Walk to the page after deep_offset rows once; every call reuses it.
    heroes::v1::ListHeroesRequest request;
    int skipped = 0;
    while (skipped < absl::GetFlag(FLAGS_deep_offset)) {
      request.set_page_size(std::min(1000, absl::GetFlag(FLAGS_deep_offset) - skipped));
      heroes::v1::ListHeroesResponse response;
      if (!stub(0).ListHeroes(Context().get(), request, &response).ok()) return false;
      skipped += response.heroes_size();
      request.set_page_token(response.next_page_token());
      if (response.next_page_token().empty()) return false;
    }
    token_ = request.page_token();
    return true;
  }
  void Issue(Slot& slot, Done done) override {
    auto* request = Make<heroes::v1::ListHeroesRequest>(slot.request);
    request->set_page_size(absl::GetFlag(FLAGS_page_size));
    request->set_page_token(token_);
    auto* response = Make<heroes::v1::ListHeroesResponse>(slot.response);
    Start(stub(slot.index).PrepareAsyncListHeroes(slot.context.get(), *request, slot.cq),
        response, [done = std::move(done), response](grpc::Status status) {
          done(status.ok() && response->heroes_size() == absl::GetFlag(FLAGS_page_size) ? 0
                                                                                        : -1);
        });
  }

 private:
  bool deep_;
  std::string token_;
};

class ConversationScenario final : public Scenario {
 public:
  ConversationScenario(std::vector<std::shared_ptr<grpc::Channel>> channels, bool write)
      : Scenario(std::move(channels)), write_(write) {}
  bool SetUp() override {
    stubs_ = Stubs<grimoire::v1::ConversationService>();
    auto users = grimoire::v1::UserService::NewStub(channel(0));
    auto classes = grimoire::v1::ClassService::NewStub(channel(0));
    grimoire::v1::CreateUserRequest user_request;
    user_request.mutable_user()->set_email(absl::StrCat("bench-", absl::ToUnixNanos(absl::Now())));
    user_request.mutable_user()->set_display_name("bench");
    grimoire::v1::User user;
    if (!users->CreateUser(Context().get(), user_request, &user).ok()) return false;
    grimoire::v1::CreateClassRequest class_request;
    class_request.mutable_class_()->set_name("bench");
    class_request.mutable_class_()->set_owner_id(user.id());
    grimoire::v1::Class cls;
    if (!classes->CreateClass(Context().get(), class_request, &cls).ok()) return false;
    state_.resize(static_cast<size_t>(absl::GetFlag(FLAGS_crdt_bytes)));
    std::mt19937_64 random(42);
    for (char& c : state_) c = static_cast<char>(random() & 0xff);
    for (int i = 0; i < absl::GetFlag(FLAGS_conversations); ++i) {
      grimoire::v1::CreateConversationRequest request;
      request.mutable_conversation()->set_class_id(cls.id());
      request.mutable_conversation()->set_owner_id(user.id());
      request.mutable_conversation()->set_crdt_state(state_);
      grimoire::v1::Conversation conversation;
      if (!stubs_[0]->CreateConversation(Context().get(), request, &conversation).ok()) {
        return false;
      }
      ids_.push_back(conversation.id());
    }
    return true;
  }
  void Issue(Slot& slot, Done done) override {
    const std::string& id = ids_[slot.random() % ids_.size()];
    auto& stub = *stubs_[static_cast<size_t>(slot.index) % stubs_.size()];
    auto* conversation = Make<grimoire::v1::Conversation>(slot.response);
    if (write_) {
      auto* request = Make<grimoire::v1::UpdateConversationRequest>(slot.request);
      request->mutable_conversation()->set_id(id);
      request->mutable_conversation()->set_crdt_state(state_);
      request->mutable_update_mask()->add_paths("crdt_state");
      Start(stub.PrepareAsyncUpdateConversation(slot.context.get(), *request, slot.cq),
            conversation, OnStatus(done, static_cast<int64_t>(state_.size())));
      return;
    }
    auto* request = Make<grimoire::v1::GetConversationRequest>(slot.request);
    request->set_id(id);
    Start(stub.PrepareAsyncGetConversation(slot.context.get(), *request, slot.cq),
        conversation, [done = std::move(done), conversation](grpc::Status status) {
          done(status.ok() ? static_cast<int64_t>(conversation->crdt_state().size()) : -1);
        });
  }

 private:
  bool write_;
  std::string state_;
  std::vector<std::string> ids_;
  std::vector<std::unique_ptr<grimoire::v1::ConversationService::Stub>> stubs_;
};

std::unique_ptr<Scenario> MakeScenario(const std::string& name,
                                       std::vector<std::shared_ptr<grpc::Channel>> channels) {
  if (name == "health_check") return std::make_unique<HealthCheck>(std::move(channels));
  if (name == "get_hero") return std::make_unique<GetHero>(std::move(channels));
  if (name == "create_hero") return std::make_unique<CreateHero>(std::move(channels));
  if (name == "update_hero") return std::make_unique<UpdateHero>(std::move(channels));
  if (name == "batch_get_heroes") return std::make_unique<BatchGetHeroes>(std::move(channels));
  if (name == "batch_create_heroes") {
    return std::make_unique<BatchCreateHeroes>(std::move(channels));
  }
  if (name == "list_heroes") return std::make_unique<ListHeroes>(std::move(channels), false);
  if (name == "list_heroes_deep") return std::make_unique<ListHeroes>(std::move(channels), true);
  if (name == "conversation_read") {
    return std::make_unique<ConversationScenario>(std::move(channels), false);
  }
  if (name == "conversation_write") {
    return std::make_unique<ConversationScenario>(std::move(channels), true);
  }
  return nullptr;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t index = std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()));
  return sorted[index];
}

}  // namespace

int main(int argc, char** argv) {
#ifdef NDEBUG
  // As in the server: no lock-order graph update on every Mutex acquisition
  // (gRPC's included) in the generator that shares the CPUs it measures.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  absl::SetProgramUsageMessage("Drives one scenario against a protomodel server.");
  absl::ParseCommandLine(argc, argv);
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < std::max(1, absl::GetFlag(FLAGS_channels)); ++i) {
    // Distinct arguments keep gRPC from sharing one connection among them.
    protomodel::client::ChannelOptions options;
    options.extra_arguments = {{"protomodel.load.channel", i}};
    auto channel = protomodel::client::Connect(absl::GetFlag(FLAGS_target), options);
    if (!channel.ok()) {
      std::cerr << "protomodel-load: " << channel.status() << "\n";
      return 2;
    }
    channels.push_back(*std::move(channel));
  }
  const std::string name = absl::GetFlag(FLAGS_scenario);
  std::unique_ptr<Scenario> scenario = MakeScenario(name, channels);
  if (scenario == nullptr) {
    std::cerr << "protomodel-load: unknown scenario '" << name << "'\n";
    return 2;
  }
  if (!scenario->SetUp()) {
    std::cerr << "protomodel-load: setting up " << name << " failed\n";
    return 1;
  }

  const auto start = Clock::now();
  const auto measure_from =
      start + std::chrono::microseconds(static_cast<int64_t>(absl::GetFlag(FLAGS_warmup_seconds) * 1e6));
  const auto stop = measure_from + std::chrono::microseconds(static_cast<int64_t>(
                                       absl::GetFlag(FLAGS_duration_seconds) * 1e6));
  // Each slot keeps one call in flight; its calls complete on one of a few
  // completion queues, each polled by a thread of its own that runs the
  // completion and starts the slot's next call: no thread per call and no
  // hand-off between threads, so the generator spends little CPU of its own
  // on the machine it shares.
  const int threads = std::max(1, absl::GetFlag(FLAGS_threads));
  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues;
  for (int i = 0; i < threads; ++i) queues.push_back(std::make_unique<grpc::CompletionQueue>());
  std::vector<Slot> slots(static_cast<size_t>(concurrency));
  absl::Mutex mu;
  int running = concurrency;
  std::function<void(Slot&)> launch = [&](Slot& slot) {
    slot.begin = Clock::now();
    if (slot.begin >= stop) {
      absl::MutexLock lock(&mu);
      --running;
      return;
    }
    slot.context = Scenario::NewContext();
    scenario->Issue(slot, [&launch, &slot, &measure_from](int64_t bytes) {
      const auto end = Clock::now();
      if (slot.begin >= measure_from) {
        if (bytes < 0) {
          ++slot.stats.errors;
        } else {
          slot.stats.bytes += bytes;
          slot.stats.latencies_ms.push_back(
              std::chrono::duration<double, std::milli>(end - slot.begin).count());
        }
      }
      launch(slot);
    });
  };
  std::vector<std::thread> pollers;
  for (auto& queue : queues) {
    pollers.emplace_back([cq = queue.get()] {
      void* tag = nullptr;
      bool ok = false;
      while (cq->Next(&tag, &ok)) {
        std::unique_ptr<PendingCall> call(static_cast<PendingCall*>(tag));
        call->Complete();
      }
    });
  }
  for (int t = 0; t < concurrency; ++t) {
    Slot& slot = slots[static_cast<size_t>(t)];
    slot.index = t;
    slot.cq = queues[static_cast<size_t>(t) % queues.size()].get();
    slot.random.seed(static_cast<uint64_t>(t) * 7919 + 1);
    slot.stats.latencies_ms.reserve(1 << 16);
    launch(slot);
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(+[](int* n) { return *n == 0; }, &running));
  }
  for (auto& queue : queues) queue->Shutdown();
  for (std::thread& poller : pollers) poller.join();
  std::vector<Worker> workers;
  for (Slot& slot : slots) workers.push_back(std::move(slot.stats));

  std::vector<double> all;
  int64_t errors = 0, bytes = 0;
  for (const Worker& w : workers) {
    all.insert(all.end(), w.latencies_ms.begin(), w.latencies_ms.end());
    errors += w.errors;
    bytes += w.bytes;
  }
  std::sort(all.begin(), all.end());
  const double seconds = absl::GetFlag(FLAGS_duration_seconds);
  std::printf(
      "scenario=%s concurrency=%d calls=%zu errors=%lld seconds=%.1f calls_per_s=%.1f "
      "p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f mb_per_s=%.1f rows_per_s=%.1f\n",
      name.c_str(), concurrency, all.size(), static_cast<long long>(errors), seconds,
      static_cast<double>(all.size()) / seconds, Percentile(all, 0.50), Percentile(all, 0.99),
      Percentile(all, 0.999), static_cast<double>(bytes) / seconds / (1 << 20),
      static_cast<double>(all.size()) * scenario->RowsPerCall() / seconds);
  return 0;
}
