#include "server/transport/metrics.h"

#include <exception>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace protomodel::server {
namespace {

// Prometheus' client default buckets, as go-grpc-prometheus uses them.
const prometheus::Histogram::BucketBoundaries& DefaultBuckets() {
  static const auto* kBuckets = new prometheus::Histogram::BucketBoundaries{
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *kBuckets;
}

// Database operations take well under the default buckets' 5 ms floor.
const prometheus::Histogram::BucketBoundaries& QueryBuckets() {
  static const auto* kBuckets = new prometheus::Histogram::BucketBoundaries{
      0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return *kBuckets;
}

// unary, client_stream, server_stream or bidi_stream, from the descriptor;
// null for a method no linked service has.
const char* GrpcType(absl::string_view service, absl::string_view method) {
  const google::protobuf::ServiceDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          std::string(service));
  const google::protobuf::MethodDescriptor* m =
      descriptor == nullptr ? nullptr : descriptor->FindMethodByName(std::string(method));
  if (m == nullptr) return nullptr;
  if (m->client_streaming() && m->server_streaming()) return "bidi_stream";
  if (m->client_streaming()) return "client_stream";
  if (m->server_streaming()) return "server_stream";
  return "unary";
}

}  // namespace

const char* GoCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "Canceled";
    case grpc::StatusCode::UNKNOWN: return "Unknown";
    case grpc::StatusCode::INVALID_ARGUMENT: return "InvalidArgument";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DeadlineExceeded";
    case grpc::StatusCode::NOT_FOUND: return "NotFound";
    case grpc::StatusCode::ALREADY_EXISTS: return "AlreadyExists";
    case grpc::StatusCode::PERMISSION_DENIED: return "PermissionDenied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "ResourceExhausted";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FailedPrecondition";
    case grpc::StatusCode::ABORTED: return "Aborted";
    case grpc::StatusCode::OUT_OF_RANGE: return "OutOfRange";
    case grpc::StatusCode::UNIMPLEMENTED: return "Unimplemented";
    case grpc::StatusCode::INTERNAL: return "Internal";
    case grpc::StatusCode::UNAVAILABLE: return "Unavailable";
    case grpc::StatusCode::DATA_LOSS: return "DataLoss";
    case grpc::StatusCode::UNAUTHENTICATED: return "Unauthenticated";
    default: return "Unknown";
  }
}

// Reads the pipeline and the pool at scrape time rather than on every
// change.
class Metrics::PoolCollector final : public prometheus::Collectable {
 public:
  void Watch(const db::Pipeline* pipeline, const db::Pool* pool) {
    absl::MutexLock lock(&mu_);
    pipeline_ = pipeline;
    pool_ = pool;
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    absl::MutexLock lock(&mu_);
    if (pool_ == nullptr || pipeline_ == nullptr) return {};
    auto gauge = [](const char* name, const char* help, double value) {
      prometheus::MetricFamily family{name, help, prometheus::MetricType::Gauge, {}};
      prometheus::ClientMetric metric;
      metric.gauge.value = value;
      family.metric.push_back(std::move(metric));
      return family;
    };
    const db::PoolStats stats = pool_->Stats();
    prometheus::MetricFamily connections{
        "protomodel_db_pool_connections",
        "Connections of the pool (multi-statement transactions), by state.", prometheus::MetricType::Gauge, {}};
    for (const auto& [state, value] :
         {std::pair<const char*, int>{"in_use", stats.in_use}, {"idle", stats.idle}}) {
      prometheus::ClientMetric metric;
      metric.label.push_back({"state", state});
      metric.gauge.value = value;
      connections.metric.push_back(std::move(metric));
    }
    return {std::move(connections),
            gauge("protomodel_db_pool_waiting",
                  "Calls waiting for a connection of the pool (multi-statement transactions).",
                  stats.waiting),
            gauge("protomodel_db_pipeline_connections_open",
                  "Pipeline connections open (they carry the calls' statements).",
                  pipeline_->open_connections()),
            gauge("protomodel_db_statements_in_flight",
                  "Statements sent on the pipeline and not yet answered.",
                  pipeline_->in_flight())};
  }

 private:
  mutable absl::Mutex mu_;
  const db::Pipeline* pipeline_ ABSL_GUARDED_BY(mu_) = nullptr;
  const db::Pool* pool_ ABSL_GUARDED_BY(mu_) = nullptr;
};

void Metrics::Method::Handled(grpc::StatusCode code, absl::Duration elapsed) const {
  const auto index = static_cast<size_t>(code);
  handled_[index < handled_.size() ? index : 2]->Increment();
  seconds_->Observe(absl::ToDoubleSeconds(elapsed));
}

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      pool_collector_(std::make_shared<PoolCollector>()),
      started_(prometheus::BuildCounter()
                   .Name("grpc_server_started_total")
                   .Help("Total number of RPCs started on the server.")
                   .Register(*registry_)),
      handled_(prometheus::BuildCounter()
                   .Name("grpc_server_handled_total")
                   .Help("Total number of RPCs completed on the server, regardless of "
                         "success or failure.")
                   .Register(*registry_)),
      msg_received_(prometheus::BuildCounter()
                        .Name("grpc_server_msg_received_total")
                        .Help("Total number of RPC stream messages received on the server.")
                        .Register(*registry_)),
      msg_sent_(prometheus::BuildCounter()
                    .Name("grpc_server_msg_sent_total")
                    .Help("Total number of gRPC stream messages sent by the server.")
                    .Register(*registry_)),
      handling_seconds_(prometheus::BuildHistogram()
                            .Name("grpc_server_handling_seconds")
                            .Help("Histogram of response latency (seconds) of gRPC that "
                                  "had been application-level handled by the server.")
                            .Register(*registry_)),
      query_seconds_(prometheus::BuildHistogram()
                         .Name("protomodel_db_query_seconds")
                         .Help("Time a database connection was held for one operation "
                               "(insert, get, list, update, delete).")
                         .Register(*registry_)),
      schema_version_(prometheus::BuildGauge()
                          .Name("protomodel_schema_version")
                          .Help("Number of the newest migration applied to the database "
                                "(0 until migrations ran).")
                          .Register(*registry_)
                          .Add({})),
      watches_open_(prometheus::BuildGauge()
                        .Name("protomodel_watches_open")
                        .Help("Watches (Watch<Rs> streams) open on this replica.")
                        .Register(*registry_)
                        .Add({})),
      watch_events_(prometheus::BuildCounter()
                        .Name("protomodel_watch_events_total")
                        .Help("Messages queued to watchers (changes and SYNCED).")
                        .Register(*registry_)
                        .Add({})),
      watch_lag_(prometheus::BuildHistogram()
                     .Name("protomodel_watch_lag_seconds")
                     .Help("Time from a change (by the database's clock) to its events "
                           "being queued to the watchers.")
                     .Register(*registry_)
                     .Add({}, prometheus::Histogram::BucketBoundaries{
                                  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})) {}

void Metrics::WatchOpened() { watches_open_.Increment(); }
void Metrics::WatchClosed() { watches_open_.Decrement(); }
void Metrics::WatchEvents(int messages) { watch_events_.Increment(messages); }
void Metrics::ObserveWatchLag(absl::Duration lag) {
  watch_lag_.Observe(absl::ToDoubleSeconds(lag));
}

Metrics::~Metrics() = default;

const Metrics::Method& Metrics::ForMethod(absl::string_view method) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = methods_.find(method);
    if (it != methods_.end()) return *it->second;
  }
  std::pair<std::string, std::string> parts = absl::StrSplit(method, absl::MaxSplits('/', 1));
  const char* type = GrpcType(parts.first, parts.second);
  if (type == nullptr) {
    // A method no service has (refused before gRPC looked it up): one series
    // for all of them, so callers cannot add series at will.
    method = "unknown/unknown";
    parts = {"unknown", "unknown"};
    type = "unary";
  }
  absl::MutexLock lock(&mu_);
  auto& slot = methods_[method];
  if (slot != nullptr) return *slot;
  const prometheus::Labels labels = {{"grpc_type", type},
                                     {"grpc_service", parts.first},
                                     {"grpc_method", parts.second}};
  auto counters = std::make_unique<Method>();
  counters->started_ = &started_.Add(labels);
  counters->received_ = &msg_received_.Add(labels);
  counters->sent_ = &msg_sent_.Add(labels);
  for (size_t code = 0; code < counters->handled_.size(); ++code) {
    prometheus::Labels with_code = labels;
    with_code["grpc_code"] = GoCodeName(static_cast<grpc::StatusCode>(code));
    counters->handled_[code] = &handled_.Add(with_code);
  }
  counters->seconds_ = &handling_seconds_.Add(labels, DefaultBuckets());
  slot = std::move(counters);
  return *slot;
}

void Metrics::ObserveQuery(absl::string_view op, absl::Duration held) {
  prometheus::Histogram* histogram = nullptr;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = queries_.find(op);
    if (it != queries_.end()) histogram = it->second;
  }
  if (histogram == nullptr) {
    absl::MutexLock lock(&mu_);
    prometheus::Histogram*& slot = queries_[op];
    if (slot == nullptr) slot = &query_seconds_.Add({{"op", std::string(op)}}, QueryBuckets());
    histogram = slot;
  }
  histogram->Observe(absl::ToDoubleSeconds(held));
}

void Metrics::SetSchemaVersion(int version) { schema_version_.Set(version); }

void Metrics::WatchDatabase(const db::Pipeline* pipeline, const db::Pool* pool) {
  pool_collector_->Watch(pipeline, pool);
}

absl::StatusOr<int> Metrics::Serve(const std::string& listen) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("--metrics_listen: cannot listen on ", listen, ": ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  exposer_->RegisterCollectable(pool_collector_);
  const std::vector<int> ports = exposer_->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(absl::StrCat("--metrics_listen: cannot listen on ", listen));
  }
  return ports.front();
}

}  // namespace protomodel::server
