// protomodel-watch-load: commit-to-event latency of WatchHeroes. Opens
// --watchers watches (callback reactors, a few hundred per connection, as a
// server allows), waits for each one's SYNCED, then creates heroes at
// --rate a second for --duration_seconds and times each event from its
// commit_time (the database's clock, on this machine) to its arrival, over
// every watcher. By default each watcher watches a slice (`age = N`), as a
// subscription per team or per user would; --slices=0 sends every change to
// every watcher. With --hold_seconds it only opens the watches and holds
// them idle (the server's memory with idle watches is measured meanwhile).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "heroes/v1/heroes.grpc.pb.h"
#include "protomodel/client/channel.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "Server address.");
ABSL_FLAG(int, watchers, 1, "Watches open at once.");
ABSL_FLAG(int, per_connection, 200, "Watches per HTTP/2 connection.");
ABSL_FLAG(double, rate, 1000, "Heroes created a second while measuring.");
ABSL_FLAG(int, writers, 8, "Threads creating heroes.");
ABSL_FLAG(double, duration_seconds, 5, "Measured time.");
ABSL_FLAG(double, hold_seconds, 0, "Only hold the watches idle this long, then exit.");
ABSL_FLAG(int, slices, 100,
          "Watcher i watches `age = i % slices` and hero k is created with age k % slices, so "
          "each change reaches watchers/slices watchers (a subscription per team, say); 0: "
          "every watcher watches everything.");

namespace {

using heroes::v1::WatchHeroesRequest;
using heroes::v1::WatchHeroesResponse;

// One watch: records how long each ADDED took from its commit.
class Watcher final : public grpc::ClientReadReactor<WatchHeroesResponse> {
 public:
  Watcher(heroes::v1::HeroService::Stub* stub, const std::string& filter) {
    request_.set_filter(filter);
    stub->async()->WatchHeroes(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    const absl::Time now = absl::Now();
    {
      absl::MutexLock lock(&mu_);
      if (response_.type() == protomodel::v1::CHANGE_TYPE_SYNCED) {
        synced_ = true;
      } else if (response_.type() == protomodel::v1::CHANGE_TYPE_ADDED && measuring_) {
        const absl::Time commit = absl::FromUnixSeconds(response_.commit_time().seconds()) +
                                  absl::Nanoseconds(response_.commit_time().nanos());
        latencies_ms_.push_back(absl::ToDoubleMilliseconds(now - commit));
      }
    }
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    status_ = status;
    done_ = true;
  }
  bool synced() {
    absl::MutexLock lock(&mu_);
    return synced_;
  }
  void Measure(bool on) {
    absl::MutexLock lock(&mu_);
    measuring_ = on;
  }
  std::vector<double> Latencies() {
    absl::MutexLock lock(&mu_);
    return latencies_ms_;
  }
  void Stop() {
    context_.TryCancel();
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

 private:
  grpc::ClientContext context_;
  WatchHeroesRequest request_;
  WatchHeroesResponse response_;
  absl::Mutex mu_;
  bool synced_ = false;
  bool measuring_ = false;
  bool done_ = false;
  grpc::Status status_;
  std::vector<double> latencies_ms_;
};

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Times WatchHeroes events from commit to arrival.");
  absl::ParseCommandLine(argc, argv);
  const int n = std::max(1, absl::GetFlag(FLAGS_watchers));
  const int per = std::max(1, absl::GetFlag(FLAGS_per_connection));
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<heroes::v1::HeroService::Stub>> stubs;
  for (int i = 0; i * per < n; ++i) {
    protomodel::client::ChannelOptions options;
    options.own_connection = true;
    options.extra_arguments = {{"protomodel.watch_load.channel", i}};
    auto channel = protomodel::client::Connect(absl::GetFlag(FLAGS_target), options);
    if (!channel.ok()) {
      std::cerr << "protomodel-watch-load: " << channel.status() << "\n";
      return 2;
    }
    channels.push_back(*channel);
    stubs.push_back(heroes::v1::HeroService::NewStub(*channel));
  }
  const int slices = std::max(0, absl::GetFlag(FLAGS_slices));
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (int i = 0; i < n; ++i) {
    watchers.push_back(std::make_unique<Watcher>(
        stubs[static_cast<size_t>(i / per)].get(),
        slices > 0 ? absl::StrCat("age = ", i % slices) : ""));
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (auto& watcher : watchers) {
    while (!watcher->synced() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
    if (!watcher->synced()) {
      std::cerr << "protomodel-watch-load: a watch got no SYNCED within 60 s\n";
      return 1;
    }
  }
  if (absl::GetFlag(FLAGS_hold_seconds) > 0) {
    std::printf("watchers=%d synced\n", n);
    std::fflush(stdout);
    absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_hold_seconds)));
    for (auto& watcher : watchers) watcher->Stop();
    return 0;
  }

  for (auto& watcher : watchers) watcher->Measure(true);
  const double rate = absl::GetFlag(FLAGS_rate);
  const int writers = std::max(1, absl::GetFlag(FLAGS_writers));
  const absl::Duration duration = absl::Seconds(absl::GetFlag(FLAGS_duration_seconds));
  const absl::Time start = absl::Now();
  std::atomic<int64_t> created{0}, failed{0};
  // Heroes created in each slice.
  std::vector<std::atomic<int64_t>> in_slice(static_cast<size_t>(std::max(1, slices)));
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      auto stub = heroes::v1::HeroService::NewStub(channels[0]);
      // Each writer's share of the rate, paced from the start.
      const absl::Duration every = absl::Seconds(writers / rate);
      for (int64_t k = 0;; ++k) {
        const absl::Time at = start + every * static_cast<double>(k) + every * w / writers;
        if (at - start >= duration) break;
        absl::SleepFor(at - absl::Now());
        heroes::v1::CreateHeroRequest request;
        request.mutable_hero()->set_name(absl::StrCat("watched ", w, "-", k));
        request.mutable_hero()->set_secret_name("w");
        const int slice = slices > 0 ? static_cast<int>((k * writers + w) % slices) : 0;
        request.mutable_hero()->set_age(slice);
        heroes::v1::Hero out;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        if (stub->CreateHero(&context, request, &out).ok()) {
          ++created;
          ++in_slice[static_cast<size_t>(slice)];
        } else {
          ++failed;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  // Let the last events arrive.
  absl::SleepFor(absl::Seconds(2));
  std::vector<double> all;
  int64_t missing = 0;
  for (size_t i = 0; i < watchers.size(); ++i) {
    std::vector<double> got = watchers[i]->Latencies();
    const int64_t expected =
        slices > 0 ? in_slice[i % static_cast<size_t>(slices)].load() : created.load();
    missing += expected - static_cast<int64_t>(got.size());
    all.insert(all.end(), got.begin(), got.end());
  }
  for (auto& watcher : watchers) watcher->Stop();
  std::sort(all.begin(), all.end());
  std::printf(
      "scenario=watch watchers=%d slices=%d changes=%lld changes_per_s=%.1f failed=%lld events=%zu "
      "missing=%lld p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
      n, slices, static_cast<long long>(created.load()), static_cast<double>(created.load()) / elapsed,
      static_cast<long long>(failed.load()), all.size(), static_cast<long long>(missing),
      Percentile(all, 0.5), Percentile(all, 0.99), all.empty() ? 0.0 : all.back());
  return missing == 0 ? 0 : 1;
}
