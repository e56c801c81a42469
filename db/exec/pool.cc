#include "db/exec/pool.h"

#include <poll.h>

#include <algorithm>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include <pqxx/except>

#include "absl/strings/match.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "db/exec/sql_status.h"

namespace protomodel::db {

Connection::Connection(std::unique_ptr<pqxx::connection> conn, bool prepare)
    : conn_(std::move(conn)), prepare_(prepare) {}

pqxx::result Connection::Exec(pqxx::transaction_base& tx,
                              const Statement& statement, Params params) {
  if (!prepare_ || statement.name.empty()) {
    return tx.exec_params(statement.sql, std::move(params).Release());
  }
  if (!prepared_.contains(statement.name)) {
    conn_->prepare(statement.name, statement.sql);
    prepared_.insert(statement.name);
  }
  return tx.exec_prepared(statement.name, std::move(params).Release());
}

Pool::Pool(PoolOptions options)
    : options_(std::move(options)),
      conninfo_(ConnectionString(options_.url, options_.connect_timeout_seconds,
                                 options_.max_statement_seconds)),
      canceller_([this] { CancelLoop(); }) {}

Pool::~Pool() {
  {
    absl::MutexLock lock(&alarm_mu_);
    stopping_ = true;
    ++alarm_version_;
  }
  canceller_.join();
}

Pool::Lease::Lease(Pool* pool, std::unique_ptr<Connection> conn, const CallLimit& limit,
                   const char* op)
    : pool_(pool), conn_(std::move(conn)), op_(op), acquired_(absl::Now()) {
  alarm_ = pool_->Arm(conn_.get(), limit);
}

Pool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_),
      conn_(std::move(other.conn_)),
      alarm_(other.alarm_),
      op_(other.op_),
      acquired_(other.acquired_) {
  other.alarm_ = 0;
}

Pool::Lease::~Lease() {
  if (conn_ == nullptr) return;
  if (pool_->options_.observe) pool_->options_.observe(op_, absl::Now() - acquired_);
  const bool fired = pool_->Disarm(alarm_);
  pool_->Release(std::move(conn_), fired);
}

namespace {

// When the call must next be looked at: its deadline, or sooner when its
// caller may cancel.
absl::Time NextCheck(absl::Time deadline, bool cancellable) {
  return cancellable ? std::min(deadline, absl::Now() + Pool::kCancelPoll) : deadline;
}

}  // namespace

uint64_t Pool::Arm(Connection* conn, const CallLimit& limit) {
  if (limit.deadline == absl::InfiniteFuture() && !limit.cancelled) return 0;
  absl::MutexLock lock(&alarm_mu_);
  const uint64_t id = next_alarm_++;
  alarms_[id] = Alarm{limit.deadline, conn, limit.cancelled};
  if (NextCheck(limit.deadline, static_cast<bool>(limit.cancelled)) < next_wakeup_) {
    ++alarm_version_;
  }
  return id;
}

bool Pool::Disarm(uint64_t id) {
  if (id == 0) return false;
  // Waits while the canceller holds the lock sending this connection's
  // cancel request, so the request cannot outlive the lease. The canceller
  // is not woken: at its next deadline it finds the alarm gone.
  absl::MutexLock lock(&alarm_mu_);
  auto it = alarms_.find(id);
  const bool fired = it != alarms_.end() && it->second.fired;
  if (it != alarms_.end()) alarms_.erase(it);
  return fired;
}

void Pool::CancelLoop() {
  absl::MutexLock lock(&alarm_mu_);
  while (!stopping_) {
    absl::Time next = absl::InfiniteFuture();
    for (const auto& [id, alarm] : alarms_) {
      if (!alarm.fired) {
        next = std::min(next, NextCheck(alarm.deadline, static_cast<bool>(alarm.cancelled)));
      }
    }
    const uint64_t version = alarm_version_;
    next_wakeup_ = next;
    auto changed = [this, version]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(alarm_mu_) {
      return stopping_ || alarm_version_ != version;
    };
    if (alarm_mu_.AwaitWithDeadline(absl::Condition(&changed), next)) continue;
    const absl::Time now = absl::Now();
    for (auto& [id, alarm] : alarms_) {
      if (alarm.fired) continue;
      if (alarm.deadline > now && !(alarm.cancelled && alarm.cancelled())) continue;
      alarm.fired = true;
      try {
        alarm.conn->raw().cancel_query();
      } catch (const std::exception&) {
        // The connection is dropped on release either way.
      }
    }
  }
}

bool Pool::CanTake() const {
  return !idle_.empty() || open_ < options_.size;
}

namespace {

// Whether the server side of an idle connection has spoken: with no query
// running and no LISTEN, anything readable is the notice of a terminated
// backend or end-of-file. One poll(2), no round trip.
bool ClosedByServer(pqxx::connection& conn) {
  const int fd = conn.sock();
  if (fd < 0) return true;
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;
}

}  // namespace

std::unique_ptr<Connection> Pool::TakeIdle() {
  while (!idle_.empty()) {
    std::unique_ptr<Connection> conn = std::move(idle_.back());
    idle_.pop_back();
    if (!ClosedByServer(conn->raw())) return conn;
    --open_;
  }
  return nullptr;
}

absl::StatusOr<Pool::Lease> Pool::Acquire(const CallLimit& limit, const char* op) {
  {
    absl::MutexLock lock(&mu_);
    if (!CanTake()) {
      if (waiting_ >= options_.max_waiting) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "server overloaded: ", waiting_,
            " calls are already waiting for a database connection"));
      }
      ++waiting_;
      bool ready = false;
      bool cancelled = false;
      while (true) {
        ready = mu_.AwaitWithDeadline(
            absl::Condition(this, &Pool::CanTake),
            NextCheck(limit.deadline, static_cast<bool>(limit.cancelled)));
        if (ready || absl::Now() >= limit.deadline) break;
        if (limit.cancelled && limit.cancelled()) {
          cancelled = true;
          break;
        }
      }
      --waiting_;
      if (cancelled) {
        return absl::CancelledError(
            "the caller cancelled while waiting for a database connection");
      }
      if (!ready) {
        return absl::DeadlineExceededError(
            "deadline passed while waiting for a database connection");
      }
    }
    if (std::unique_ptr<Connection> conn = TakeIdle()) {
      return Lease(this, std::move(conn), limit, op);
    }
    if (absl::Now() < retry_at_) {
      return absl::UnavailableError(absl::StrCat(
          last_connect_error_.message(), " (retrying within ",
          absl::FormatDuration(retry_at_ - absl::Now()), ")"));
    }
    ++open_;
  }
  absl::StatusOr<std::unique_ptr<Connection>> conn = Open();
  if (!conn.ok()) return conn.status();
  return Lease(this, *std::move(conn), limit, op);
}

absl::StatusOr<std::unique_ptr<Connection>> Pool::Open() {
  absl::StatusOr<std::unique_ptr<pqxx::connection>> raw =
      Connect(conninfo_, options_.connect_timeout_seconds);
  absl::MutexLock lock(&mu_);
  if (!raw.ok()) {
    --open_;
    // Capped exponential backoff with jitter: 50 ms, 100 ms, ... up to
    // max_reconnect_backoff, so a returning database is found within it.
    ++connect_failures_;
    absl::Duration backoff = absl::Milliseconds(50);
    for (int i = 1; i < connect_failures_ && backoff < options_.max_reconnect_backoff; ++i) {
      backoff *= 2;
    }
    backoff = std::min(backoff, options_.max_reconnect_backoff);
    thread_local std::minstd_rand jitter(std::random_device{}());
    backoff *= std::uniform_real_distribution<double>(0.5, 1.0)(jitter);
    retry_at_ = absl::Now() + backoff;
    last_connect_error_ = raw.status();
    return raw.status();
  }
  connect_failures_ = 0;
  retry_at_ = absl::InfinitePast();
  return std::make_unique<Connection>(*std::move(raw), options_.prepared_statements);
}

void Pool::Release(std::unique_ptr<Connection> conn, bool discard) {
  const bool reusable = !discard && conn->raw().is_open();
  if (!reusable) conn.reset();
  absl::MutexLock lock(&mu_);
  if (reusable) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
}

PoolStats Pool::Stats() const {
  absl::MutexLock lock(&mu_);
  PoolStats stats;
  stats.idle = static_cast<int>(idle_.size());
  stats.in_use = open_ - stats.idle;
  stats.waiting = waiting_;
  return stats;
}

std::string ConnectionString(const std::string& url, int connect_timeout_seconds,
                             int max_statement_seconds) {
  const bool is_uri = absl::StartsWith(url, "postgresql://") ||
                      absl::StartsWith(url, "postgres://");
  std::string out = url;
  auto add = [&](absl::string_view key, absl::string_view value) {
    if (is_uri) {
      absl::StrAppend(&out, absl::StrContains(out, "?") ? "&" : "?", key, "=", value);
    } else {
      absl::StrAppend(&out, out.empty() ? "" : " ", key, "=", value);
    }
  };
  if (!absl::StrContains(url, "connect_timeout")) {
    add("connect_timeout", absl::StrCat(connect_timeout_seconds));
  }
  if (max_statement_seconds > 0) {
    const std::string ms = absl::StrCat(max_statement_seconds * 1000);
    add("options", is_uri ? absl::StrCat("-c%20statement_timeout%3D", ms)
                          : absl::StrCat("'-c statement_timeout=", ms, "'"));
  }
  return out;
}

namespace {

// Where `url` holds a password: user:PASSWORD@ in a URI, password=VALUE in
// key=value form. Offset and length of each, front to back.
std::vector<std::pair<size_t, size_t>> PasswordSpans(const std::string& url) {
  std::vector<std::pair<size_t, size_t>> spans;
  const size_t scheme = url.find("://");
  if (scheme != std::string::npos) {
    const size_t at = url.find('@', scheme);
    const size_t colon = url.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      spans.emplace_back(colon + 1, at - colon - 1);
    }
  }
  // Every password= key, as a whole key: not the tail of sslpassword=.
  constexpr std::string_view kKey = "password=";
  for (size_t key = url.find(kKey); key != std::string::npos; key = url.find(kKey, key + 1)) {
    if (key > 0 && url[key - 1] != ' ' && url[key - 1] != '?' && url[key - 1] != '&') continue;
    const size_t begin = key + kKey.size();
    size_t end = url.find_first_of(" &", begin);
    if (end == std::string::npos) end = url.size();
    spans.emplace_back(begin, end - begin);
  }
  return spans;
}

}  // namespace

std::string RedactUrl(const std::string& url) {
  std::string out = url;
  const std::vector<std::pair<size_t, size_t>> spans = PasswordSpans(url);
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
    out.replace(it->first, it->second, "***");
  }
  return out;
}

std::string WithoutPassword(const std::string& url, std::string text) {
  for (const auto& [offset, length] : PasswordSpans(url)) {
    if (length == 0) continue;
    const std::string password = url.substr(offset, length);
    for (size_t at = text.find(password); at != std::string::npos;
         at = text.find(password, at + 3)) {
      text.replace(at, password.size(), "***");
    }
  }
  return text;
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect(
    const std::string& url, int connect_timeout_seconds) {
  try {
    return std::make_unique<pqxx::connection>(
        ConnectionString(url, connect_timeout_seconds));
  } catch (const pqxx::broken_connection& e) {
    // libpq's message may run over lines ("...failed: Connection refused\n\tIs
    // the server running..."): one line, for logs and statuses.
    std::string reason = std::string(absl::StripAsciiWhitespace(e.what()));
    std::replace_if(reason.begin(), reason.end(), [](char c) { return c == '\n' || c == '\t'; },
                    ' ');
    reason = absl::StrReplaceAll(reason, {{"  ", " "}});
    return absl::UnavailableError(
        absl::StrCat("cannot connect to the database: ", WithoutPassword(url, reason)));
  } catch (const std::exception& e) {
    // libpq quotes a token of a URL it cannot parse, the password included.
    const absl::Status status = StatusFromException(e, StatementKind::kRead, "connecting");
    return absl::Status(status.code(), WithoutPassword(url, std::string(status.message())));
  }
}

}  // namespace protomodel::db
