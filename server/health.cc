#include "server/health.h"

#include <optional>

#include <pqxx/nontransaction>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "db/ddl.h"
#include "db/migrations.h"
#include "db/pool.h"
#include "db/request_ids.h"
#include "db/sql_status.h"
#include "server/logging.h"
#include "spdlog/spdlog.h"

namespace protomodel::server {

DatabaseHealth::DatabaseHealth(HealthOptions options,
                               std::vector<grpc::HealthCheckServiceInterface*> health,
                               std::vector<std::string> services)
    : options_(std::move(options)),
      health_(std::move(health)),
      services_(std::move(services)) {}

DatabaseHealth::~DatabaseHealth() { Stop(); }

void DatabaseHealth::Start() {
  for (grpc::HealthCheckServiceInterface* health : health_) {
    health->SetServingStatus("liveness", true);
  }
  Publish(Probe());
  thread_ = std::thread([this] { Loop(); });
}

void DatabaseHealth::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool DatabaseHealth::ready() const {
  absl::MutexLock lock(&mu_);
  return ready_;
}

void DatabaseHealth::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.interval)) {
        return;
      }
    }
    Publish(Probe());
  }
}

bool DatabaseHealth::Probe() {
  if (conn_ == nullptr) {
    auto conn = db::Connect(options_.database_url, options_.connect_timeout_seconds);
    if (!conn.ok()) {
      spdlog::debug("health: {}", conn.status().message());
      why_not_ = std::string(conn.status().message());
      return false;
    }
    conn_ = *std::move(conn);
  }
  if (options_.migrate && !migrated_) {
    auto applied = db::ApplyMigrations(*conn_, db::EmbeddedMigrations());
    if (!applied.ok()) {
      spdlog::error("migrations: {}", applied.status().message());
      why_not_ = "migrations failed";
      conn_.reset();
      return false;
    }
    if (!applied->empty()) {
      spdlog::info("migrations applied: {}", absl::StrJoin(*applied, ", "));
    }
    migrated_ = true;
  }
  if (options_.on_schema_version && absl::Now() >= next_version_) {
    auto version = db::SchemaVersion(*conn_);
    if (version.ok()) {
      options_.on_schema_version(*version);
      next_version_ = absl::Now() + absl::Minutes(1);
    }
  }
  if (!schema_checked_ && options_.schema_check != "off" && options_.schema != nullptr) {
    // A catalog that cannot be read is read again at the next probe.
    const std::optional<bool> ok = CheckSchema();
    schema_checked_ = ok.has_value();
    schema_ok_ = ok.value_or(options_.schema_check != "strict");
  }
  if (absl::Now() >= next_expiry_) {
    next_expiry_ = absl::Now() + absl::Hours(1);
    auto expired = db::DeleteExpiredRequestIds(*conn_, db::kRequestIdRetention);
    if (!expired.ok()) {
      spdlog::warn("{}", expired.status().message());
    } else if (*expired > 0) {
      spdlog::info("forgot {} request_ids older than {}h", *expired,
                   absl::ToInt64Hours(db::kRequestIdRetention));
    }
  }
  try {
    pqxx::nontransaction tx(*conn_);
    tx.exec("SELECT 1");
    return schema_ok_;
  } catch (const std::exception& e) {
    why_not_ = std::string(
        db::StatusFromException(e, db::WriteKind::kRead, "probe").message());
    spdlog::debug("health: {}", why_not_);
    conn_.reset();
    return false;
  }
}

std::optional<bool> DatabaseHealth::CheckSchema() {
  absl::StatusOr<db::SchemaDef> actual = db::ReadCatalog(*conn_);
  if (!actual.ok()) {
    spdlog::error("schema check: {}", actual.status().message());
    why_not_ = absl::StrCat("schema check: ", actual.status().message());
    return std::nullopt;
  }
  const std::vector<db::Difference> differences =
      db::Compare(db::ExpectedSchema(*options_.schema), *actual);
  for (const db::Difference& d : differences) {
    spdlog::warn("schema drift: {}", d.what);
  }
  if (differences.empty()) return true;
  if (options_.schema_check == "strict") {
    why_not_ = "the schema differs from the protos (--schema_check=strict)";
    spdlog::error(
        "schema check is strict: readiness stays NOT_SERVING while the database "
        "differs from the protos ({} differences; `protomodel-server schema diff` "
        "prints a migration)",
        differences.size());
    return false;
  }
  return true;
}

void DatabaseHealth::Publish(bool ready) {
  {
    absl::MutexLock lock(&mu_);
    if (published_ && ready == ready_) return;
    published_ = true;
    ready_ = ready;
  }
  if (ready) {
    spdlog::info("database answers: SERVING");
  } else {
    spdlog::warn("database does not answer: NOT_SERVING ({})", why_not_);
  }
  for (grpc::HealthCheckServiceInterface* health : health_) {
    health->SetServingStatus("", ready);
    for (const std::string& service : services_) {
      health->SetServingStatus(service, ready);
    }
  }
}

}  // namespace protomodel::server
