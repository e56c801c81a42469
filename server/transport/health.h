#ifndef PROTOMODEL_SERVER_TRANSPORT_HEALTH_H_
#define PROTOMODEL_SERVER_TRANSPORT_HEALTH_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/health_check_service_interface.h>
#include <pqxx/connection>

#include "absl/synchronization/mutex.h"
#include "db/exec/probe.h"
#include "db/schema/migrations.h"
#include "db/schema/schema.h"
#include "absl/time/time.h"

namespace protomodel::server {

struct HealthOptions {
  std::string database_url;
  // How often the database is probed.
  absl::Duration interval = absl::Seconds(1);
  // How long a probe waits for its answer: past it the database counts as
  // away, however it failed to answer.
  absl::Duration probe_timeout = absl::Seconds(2);
  int connect_timeout_seconds = 2;
  // Apply pending migrations once the database answers, before serving:
  // the server's track, then these on the user's.
  bool migrate = true;
  std::vector<db::MigrationFile> migrations;
  // Compare the live catalog with the protos' schema after migrations:
  // "warn" logs each difference, "strict" also keeps readiness NOT_SERVING,
  // "off" skips the check.
  std::string schema_check = "warn";
  const db::Schema* schema = nullptr;
  // How long the watches' change log keeps changes: older ones are pruned
  // by the keeper, off the request path.
  absl::Duration watch_retention = absl::Hours(1);
  // Told the database's schema version (its newest migration) once
  // migrations ran, then every minute.
  std::function<void(int)> on_schema_version;
};

// Readiness that follows the database. Sets the health service's status
// for "" and each API service: SERVING while the database answers (and,
// with migrate, once migrations are applied), NOT_SERVING otherwise.
// "liveness" stays SERVING while the process runs.
//
// Two threads, each on a connection of its own (not one from the request
// pool: a full pool is not a dead database). The prober asks `SELECT 1`
// every interval with a deadline of its own (db::Probe), so readiness turns
// NOT_SERVING within interval + probe_timeout of the database going away,
// also when nothing says no (a silent network, PgBouncer queueing the
// query). The keeper applies migrations, checks the schema, reports the
// schema version and, once an hour, forgets request_ids past their
// retention: work that may wait on the database without holding up the
// probes.
class DatabaseHealth final {
 public:
  // Publishes to every one of `health` (the API port's and the health
  // port's health services).
  DatabaseHealth(HealthOptions options,
                 std::vector<grpc::HealthCheckServiceInterface*> health,
                 std::vector<std::string> services);
  ~DatabaseHealth();
  DatabaseHealth(const DatabaseHealth&) = delete;
  DatabaseHealth& operator=(const DatabaseHealth&) = delete;

  // Keeps and probes once, synchronously, then on the two threads.
  void Start();
  // Stops both threads; statuses stay as they are.
  void Stop();
  // Stops both threads and turns "" and every API service NOT_SERVING, so
  // that load balancers stop sending calls; "liveness" stays SERVING while
  // calls drain (a liveness probe must not kill a draining process).
  void Drain();
  bool ready() const;

 private:
  // One round of the keeper's work; true once migrations are applied and
  // the schema check allows serving.
  bool Keep();
  // Logs every difference between the database and the protos; false when
  // the check is strict and there are any, nullopt when the catalog cannot
  // be read.
  std::optional<bool> CheckSchema();
  // The prober's round: probes, then publishes.
  void ProbeAndPublish();
  void Publish(bool ready, const std::string& why_not);
  // Sets "" and every API service's status on every health service.
  void SetAll(bool ready);
  // Runs `round` every interval until Stop.
  void Every(const std::function<void()>& round);

  const HealthOptions options_;
  const std::vector<grpc::HealthCheckServiceInterface*> health_;
  const std::vector<std::string> services_;
  db::Probe probe_;                         // the prober's
  std::unique_ptr<pqxx::connection> conn_;  // the keeper's
  bool migrated_ = false;
  bool schema_checked_ = false;
  absl::Time next_expiry_ = absl::InfinitePast();
  absl::Time next_prune_ = absl::InfinitePast();
  absl::Time next_version_ = absl::InfinitePast();
  bool schema_ok_ = true;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The keeper's verdict, and why it is not ready.
  bool kept_ ABSL_GUARDED_BY(mu_) = false;
  std::string why_not_kept_ ABSL_GUARDED_BY(mu_);
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  bool published_ ABSL_GUARDED_BY(mu_) = false;
  std::thread prober_;
  std::thread keeper_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_TRANSPORT_HEALTH_H_
