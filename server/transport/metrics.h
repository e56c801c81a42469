#ifndef PROTOMODEL_SERVER_TRANSPORT_METRICS_H_
#define PROTOMODEL_SERVER_TRANSPORT_METRICS_H_

#include <array>
#include <memory>
#include <string>

#include <grpcpp/support/status.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "db/exec/pipeline.h"
#include "db/exec/pool.h"

namespace protomodel::server {

// "OK", "NotFound", "PermissionDenied"...: a code as go-grpc-prometheus
// (and so every gRPC dashboard) labels it.
const char* GoCodeName(grpc::StatusCode code);

// The server's Prometheus metrics, named and labelled as go-grpc-prometheus
// names them (grpc_server_started_total, grpc_server_handled_total,
// grpc_server_msg_received_total, grpc_server_msg_sent_total,
// grpc_server_handling_seconds), plus the database pool's and schema's.
// Thread-safe; counting a call costs a few atomic additions once its method
// has been seen.
class Metrics final {
 public:
  // The counters of one method.
  class Method {
   public:
    void Started() const { started_->Increment(); }
    void Received() const { received_->Increment(); }
    void Sent() const { sent_->Increment(); }
    void Handled(grpc::StatusCode code, absl::Duration elapsed) const;

   private:
    friend class Metrics;
    prometheus::Counter* started_ = nullptr;
    prometheus::Counter* received_ = nullptr;
    prometheus::Counter* sent_ = nullptr;
    std::array<prometheus::Counter*, 17> handled_{};
    prometheus::Histogram* seconds_ = nullptr;
  };

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The counters of `method` ("package.Service/Method"); its grpc_type
  // (unary, client_stream, server_stream, bidi_stream) comes from the
  // method's descriptor.
  const Method& ForMethod(absl::string_view method);

  // Time a pool connection was held for one database operation.
  void ObserveQuery(absl::string_view op, absl::Duration held);
  void SetSchemaVersion(int version);
  // Watches: opened and closed, messages queued, and a change's lag from
  // its commit to its events.
  void WatchOpened();
  void WatchClosed();
  void WatchEvents(int messages);
  void ObserveWatchLag(absl::Duration lag);
  // Reports the pipeline's connections and statements in flight, and the
  // pool's connections and waiting calls, at every scrape.
  void WatchDatabase(const db::Pipeline* pipeline, const db::Pool* pool);

  // Serves GET /metrics on `listen` (host:port; port 0 picks one) in
  // Prometheus' text format. Returns the port bound.
  absl::StatusOr<int> Serve(const std::string& listen);

 private:
  class PoolCollector;

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<PoolCollector> pool_collector_;
  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Counter>& msg_received_;
  prometheus::Family<prometheus::Counter>& msg_sent_;
  prometheus::Family<prometheus::Histogram>& handling_seconds_;
  prometheus::Family<prometheus::Histogram>& query_seconds_;
  prometheus::Gauge& schema_version_;
  prometheus::Gauge& watches_open_;
  prometheus::Counter& watch_events_;
  prometheus::Histogram& watch_lag_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Method>> methods_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Histogram*> queries_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_TRANSPORT_METRICS_H_
