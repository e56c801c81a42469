#include "server/transport/health.h"

#include <optional>


#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "db/schema/ddl.h"
#include "db/schema/migrations.h"
#include "db/exec/pool.h"
#include "db/changes.h"
#include "db/exec/request_ids.h"
#include "db/exec/sql_status.h"
#include "server/transport/logging.h"
#include "spdlog/spdlog.h"

namespace protomodel::server {

DatabaseHealth::DatabaseHealth(HealthOptions options,
                               std::vector<grpc::HealthCheckServiceInterface*> health,
                               std::vector<std::string> services)
    : options_(std::move(options)),
      health_(std::move(health)),
      services_(std::move(services)),
      probe_(options_.database_url) {}

DatabaseHealth::~DatabaseHealth() { Stop(); }

void DatabaseHealth::Start() {
  for (grpc::HealthCheckServiceInterface* health : health_) {
    health->SetServingStatus("liveness", true);
  }
  {
    const bool kept = Keep();
    absl::MutexLock lock(&mu_);
    kept_ = kept;
  }
  ProbeAndPublish();
  keeper_ = std::thread([this] {
    Every([this] {
      const bool kept = Keep();
      absl::MutexLock lock(&mu_);
      kept_ = kept;
    });
  });
  prober_ = std::thread([this] { Every([this] { ProbeAndPublish(); }); });
}

void DatabaseHealth::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (prober_.joinable()) prober_.join();
  if (keeper_.joinable()) keeper_.join();
}

void DatabaseHealth::Drain() {
  Stop();
  {
    absl::MutexLock lock(&mu_);
    published_ = true;
    ready_ = false;
  }
  spdlog::info("draining: NOT_SERVING, liveness SERVING");
  SetAll(false);
}

bool DatabaseHealth::ready() const {
  absl::MutexLock lock(&mu_);
  return ready_;
}

void DatabaseHealth::Every(const std::function<void()>& round) {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.interval)) {
        return;
      }
    }
    round();
  }
}

void DatabaseHealth::ProbeAndPublish() {
  const absl::Status probed = probe_.Check(options_.probe_timeout);
  if (!probed.ok()) {
    spdlog::debug("health: {}", probed.message());
    Publish(false, std::string(probed.message()));
    return;
  }
  bool kept = false;
  std::string why;
  {
    absl::MutexLock lock(&mu_);
    kept = kept_;
    why = why_not_kept_;
  }
  Publish(kept, why);
}

bool DatabaseHealth::Keep() {
  const auto not_kept = [this](std::string why) {
    {
      absl::MutexLock lock(&mu_);
      why_not_kept_ = std::move(why);
    }
    conn_.reset();
    return (migrated_ || !options_.migrate) && schema_ok_;
  };
  if (conn_ == nullptr) {
    auto conn = db::Connect(options_.database_url, options_.connect_timeout_seconds);
    if (!conn.ok()) {
      spdlog::debug("health: {}", conn.status().message());
      return not_kept(std::string(conn.status().message()));
    }
    conn_ = *std::move(conn);
  }
  if (options_.migrate && !migrated_) {
    auto applied = db::ApplyBothTracks(*conn_, options_.migrations, options_.schema);
    if (!applied.ok()) {
      spdlog::error("migrations: {}", applied.status().message());
      return not_kept("migrations failed");
    }
    if (!applied->empty()) {
      spdlog::info("migrations applied: {}", absl::StrJoin(*applied, ", "));
    }
    migrated_ = true;
  }
  if (options_.on_schema_version && absl::Now() >= next_version_) {
    auto version = db::SchemaVersion(*conn_);
    if (!version.ok()) return not_kept(std::string(version.status().message()));
    options_.on_schema_version(*version);
    next_version_ = absl::Now() + absl::Minutes(1);
  }
  if (!schema_checked_ && options_.schema_check != "off" && options_.schema != nullptr) {
    // A catalog that cannot be read is read again at the next round.
    const std::optional<bool> ok = CheckSchema();
    if (!ok.has_value()) return not_kept("the schema check could not read the catalog");
    schema_checked_ = true;
    schema_ok_ = *ok;
    if (!schema_ok_) return not_kept("the schema differs from the protos (--schema_check=strict)");
  }
  if (absl::Now() >= next_expiry_) {
    auto expired = db::DeleteExpiredRequestIds(*conn_, db::kRequestIdRetention);
    if (!expired.ok()) {
      spdlog::warn("{}", expired.status().message());
      return not_kept(std::string(expired.status().message()));
    }
    next_expiry_ = absl::Now() + absl::Hours(1);
    if (*expired > 0) {
      spdlog::info("forgot {} request_ids older than {}h", *expired,
                   absl::ToInt64Hours(db::kRequestIdRetention));
    }
  }
  if (absl::Now() >= next_prune_) {
    // Pruned at a quarter of the retention (at most a minute) apart: the
    // log holds changes for the retention and a little more.
    next_prune_ = absl::Now() + std::min(absl::Minutes(1), options_.watch_retention / 4);
    auto pruned = db::PruneChanges(*conn_, options_.watch_retention);
    if (!pruned.ok()) {
      // Before migrations ran the log may not exist yet: try again later.
      spdlog::debug("{}", pruned.status().message());
    } else if (*pruned > 0) {
      spdlog::debug("pruned {} changes older than the watch retention", *pruned);
    }
  }
  return (migrated_ || !options_.migrate) && schema_ok_;
}

std::optional<bool> DatabaseHealth::CheckSchema() {
  absl::StatusOr<db::SchemaDef> actual = db::ReadCatalog(*conn_);
  if (!actual.ok()) {
    spdlog::error("schema check: {}", actual.status().message());
    return std::nullopt;
  }
  const std::vector<db::Difference> differences =
      db::Compare(db::ExpectedSchema(*options_.schema), *actual);
  for (const db::Difference& d : differences) {
    spdlog::warn("schema drift: {}", d.what);
  }
  if (differences.empty()) return true;
  if (options_.schema_check == "strict") {
    spdlog::error(
        "schema check is strict: readiness stays NOT_SERVING while the database "
        "differs from the protos ({} differences; `protomodel-server schema diff` "
        "prints a migration)",
        differences.size());
    return false;
  }
  return true;
}

void DatabaseHealth::Publish(bool ready, const std::string& why_not) {
  {
    absl::MutexLock lock(&mu_);
    if (published_ && ready == ready_) return;
    published_ = true;
    ready_ = ready;
  }
  if (ready) {
    spdlog::info("database answers: SERVING");
  } else {
    spdlog::warn("database does not answer: NOT_SERVING ({})", why_not);
  }
  SetAll(ready);
}

void DatabaseHealth::SetAll(bool ready) {
  for (grpc::HealthCheckServiceInterface* health : health_) {
    health->SetServingStatus("", ready);
    for (const std::string& service : services_) {
      health->SetServingStatus(service, ready);
    }
  }
}

}  // namespace protomodel::server
