#ifndef PROTOMODEL_SERVER_HEALTH_H_
#define PROTOMODEL_SERVER_HEALTH_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/health_check_service_interface.h>
#include <pqxx/connection>

#include "absl/synchronization/mutex.h"
#include "db/schema.h"
#include "absl/time/time.h"

namespace protomodel::server {

struct HealthOptions {
  std::string database_url;
  // How often the database is probed.
  absl::Duration interval = absl::Seconds(1);
  int connect_timeout_seconds = 2;
  // Apply pending migrations once the database answers, before serving.
  bool migrate = true;
  // Compare the live catalog with the protos' schema after migrations:
  // "warn" logs each difference, "strict" also keeps readiness NOT_SERVING,
  // "off" skips the check.
  std::string schema_check = "warn";
  const db::Schema* schema = nullptr;
  // Told the database's schema version (its newest migration) once
  // migrations ran, then every minute.
  std::function<void(int)> on_schema_version;
};

// Readiness that follows the database. On a connection of its own (not one
// from the request pool: a full pool is not a dead database), it probes with
// `SELECT 1` every interval and sets the health service's status for "" and
// each API service: SERVING while the database answers (and, with migrate,
// once migrations are applied), NOT_SERVING otherwise. "liveness" stays
// SERVING while the process runs. On the same connection, once an hour, it
// forgets request_ids past their retention.
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

  // Probes once, synchronously, then keeps probing on a thread.
  void Start();
  // Stops probing; statuses stay as they are.
  void Stop();
  bool ready() const;

 private:
  bool Probe();
  // Logs every difference between the database and the protos; false when
  // the check is strict and there are any, nullopt when the catalog cannot
  // be read.
  std::optional<bool> CheckSchema();
  void Publish(bool ready);
  void Loop();

  const HealthOptions options_;
  const std::vector<grpc::HealthCheckServiceInterface*> health_;
  const std::vector<std::string> services_;
  std::unique_ptr<pqxx::connection> conn_;  // used by the probing thread only
  bool migrated_ = false;
  bool schema_checked_ = false;
  absl::Time next_expiry_ = absl::InfinitePast();
  absl::Time next_version_ = absl::InfinitePast();
  bool schema_ok_ = true;
  // Why the last probe failed, for the NOT_SERVING log line.
  std::string why_not_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  bool published_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_HEALTH_H_
