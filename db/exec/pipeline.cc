#include "db/exec/pipeline.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace protomodel::db {

Result::Result(pg_result* result) : result_(result) {}

void Result::Clear::operator()(pg_result* result) const { PQclear(result); }

size_t Result::size() const {
  return result_ ? static_cast<size_t>(PQntuples(result_.get())) : 0;
}

size_t Result::columns() const {
  return result_ ? static_cast<size_t>(PQnfields(result_.get())) : 0;
}

size_t Result::affected() const {
  if (!result_) return 0;
  const char* rows = PQcmdTuples(result_.get());
  size_t n = 0;
  for (; *rows >= '0' && *rows <= '9'; ++rows) n = n * 10 + static_cast<size_t>(*rows - '0');
  return n;
}

Cell Result::cell(size_t row, size_t column) const {
  const int r = static_cast<int>(row);
  const int c = static_cast<int>(column);
  return {PQgetvalue(result_.get(), r, c),
          static_cast<size_t>(PQgetlength(result_.get(), r, c)),
          PQgetisnull(result_.get(), r, c) != 0, PQfformat(result_.get(), c) == 1};
}

namespace {

// How often a statement in flight is checked for a caller that left.
constexpr absl::Duration kCancelPoll = absl::Milliseconds(50);

// Parameter bytes a connection has in flight before it sends more.
constexpr size_t kMaxBytesInFlight = 4 << 20;

// One statement on its way: kept until its Sync comes back, so that it can
// be sent again.
struct Entry {
  Statement statement;
  Params params;
  CallLimit limit = absl::InfiniteFuture();
  Purpose purpose;
  Pipeline::Done done;   // empty once answered
  bool prepare = false;  // its Prepare went first, and answers first
  bool resent = false;
  bool expired = false;      // its deadline passed or its caller left
  bool cancel_sent = false;  // the database was asked to cancel it
  uint64_t epoch = 0;        // the link's cancel count when it was sent
  size_t bytes = 0;          // its parameters' bytes, while in flight
  absl::Time sent;
  PGresult* result = nullptr;  // its own result (or its Prepare's error)
  ~Entry() {
    if (result != nullptr) PQclear(result);
  }
};

// An answer to deliver once the link's lock is released.
struct Answer {
  std::unique_ptr<Entry> entry;
  absl::StatusOr<Result> result;
};

absl::StatusOr<Result> ResultOf(Entry& entry) {
  PGresult* result = std::exchange(entry.result, nullptr);
  const std::string& what = entry.purpose.what;
  if (result == nullptr) return absl::InternalError(absl::StrCat(what, ": no result"));
  switch (PQresultStatus(result)) {
    case PGRES_TUPLES_OK:
    case PGRES_COMMAND_OK:
      return Result(result);
    case PGRES_FATAL_ERROR: {
      const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
      absl::Status status =
          StatusFromSql(state == nullptr ? "" : state,
                        absl::StripTrailingAsciiWhitespace(PQresultErrorMessage(result)), what);
      PQclear(result);
      return status;
    }
    default: {
      absl::Status status = absl::InternalError(
          absl::StrCat(what, ": unexpected result ", PQresStatus(PQresultStatus(result))));
      PQclear(result);
      return status;
    }
  }
}

bool IsCancelled(const absl::StatusOr<Result>& result) {
  return !result.ok() && result.status().code() == absl::StatusCode::kDeadlineExceeded;
}

}  // namespace

// One connection and the thread that reads its answers.
class Pipeline::Link {
 public:
  Link(Pipeline* owner, std::string conninfo)
      : owner_(owner), conninfo_(std::move(conninfo)), wake_fd_(eventfd(0, EFD_NONBLOCK)) {
    thread_ = std::thread([this] { Loop(); });
  }

  ~Link() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    Wake();
    thread_.join();
    close(wake_fd_);
  }

  bool open() const { return state_.load(std::memory_order_acquire) == kOpen; }
  bool connecting() const { return state_.load(std::memory_order_acquire) == kConnecting; }
  int load() const { return load_.load(std::memory_order_relaxed); }

  // Takes `entry` to send; false, leaving it, when the link is down.
  //
  // The entry goes into the inbox, and whichever thread holds the link's
  // lock next sends what the inbox holds, all flushed at once: this thread
  // when the lock is free, or the one holding it (the link's own thread
  // reading answers, another caller sending) before it lets go. No caller
  // waits for the lock.
  bool Take(std::unique_ptr<Entry>& entry) {
    if (state_.load(std::memory_order_acquire) == kDown) return false;
    {
      absl::MutexLock lock(&inbox_mu_);
      inbox_.push_back(std::move(entry));
      inbox_size_.fetch_add(1, std::memory_order_release);
    }
    load_.fetch_add(1, std::memory_order_relaxed);
    Pump();
    return true;
  }

  absl::Status last_error() const {
    absl::MutexLock lock(&mu_);
    return last_error_;
  }

 private:
  enum State { kDown, kConnecting, kOpen };

  void Wake() {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
  }

  // Sends what the inbox holds while the lock is to be had: see Take.
  void Pump() ABSL_LOCKS_EXCLUDED(mu_) {
    while (inbox_size_.load(std::memory_order_acquire) > 0 && mu_.TryLock()) {
      std::vector<Answer> answers;
      const bool wake = SendInbox(answers) || want_write_ || broken_;
      // Held back at the cap: the link's thread sends them as answers come.
      const bool held_back = held_back_;
      mu_.Unlock();
      if (wake) Wake();
      Deliver(answers);
      if (held_back) break;
    }
  }

  // Sends the inbox's entries (queues them while the connection opens,
  // answers them while it is down) and flushes once. True when the link's
  // thread sleeps past the time one of them must be looked at (its
  // deadline, or the next check for a caller that left): it must be woken.
  bool SendInbox(std::vector<Answer>& answers) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::deque<std::unique_ptr<Entry>> inbox;
    {
      absl::MutexLock lock(&inbox_mu_);
      inbox.swap(inbox_);
      inbox_size_.store(0, std::memory_order_release);
    }
    held_back_ = false;
    if (inbox.empty()) return false;
    absl::Time look = absl::InfiniteFuture();
    for (const auto& entry : inbox) {
      look = std::min(look, entry->limit.deadline);
      if (entry->limit.cancelled) look = std::min(look, absl::Now() + kCancelPoll);
    }
    const bool wake = look < sleep_until_;
    if (state_ != kOpen || broken_) {
      for (auto& entry : inbox) {
        if (state_ == kConnecting) {
          outbox_.push_back(std::move(entry));
          continue;
        }
        load_.fetch_sub(1, std::memory_order_relaxed);
        absl::Status status = Unavailable(entry->purpose.what, last_error_);
        answers.push_back({std::move(entry), std::move(status)});
      }
      return wake;
    }
    while (!inbox.empty()) {
      // Past the cap on parameter bytes in flight, the rest wait here (in
      // the inbox, in order) for answers to come: libpq's buffers and the
      // server's hold no more than that many bytes of large writes.
      if (!pending_.empty() && pending_bytes_ >= kMaxBytesInFlight) {
        absl::MutexLock lock(&inbox_mu_);
        while (!inbox.empty()) {
          inbox_.push_front(std::move(inbox.back()));
          inbox.pop_back();
        }
        inbox_size_.store(static_cast<int>(inbox_.size()), std::memory_order_release);
        held_back_ = true;
        break;
      }
      std::unique_ptr<Entry> entry = std::move(inbox.front());
      inbox.pop_front();
      if (!broken_ && !Send(*entry)) broken_ = true;
      // Sent or not (a write may have reached the database), it is answered
      // with the connection's fate when broken.
      entry->bytes = entry->params.bytes();
      pending_bytes_ += entry->bytes;
      pending_.push_back(std::move(entry));
    }
    Flush();
    return wake;
  }

  void Flush() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (broken_ || conn_ == nullptr) return;
    const int flushed = PQflush(conn_);
    if (flushed < 0) broken_ = true;
    want_write_ = flushed == 1;
  }

  // Writes the statement (after its Prepare on first use) and a Sync into
  // libpq's buffer; Flush sends them.
  bool Send(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const Statement& statement = entry.statement;
    const Params::Libpq raw = entry.params.ToLibpq();
    const int n = static_cast<int>(raw.values.size());
    const bool named = owner_->options_.prepared_statements && !statement.name.empty();
    const int result_format = statement.binary_results ? 1 : 0;
    entry.prepare = false;
    if (named && !prepared_.contains(statement.name)) {
      if (PQsendPrepare(conn_, statement.name.c_str(), statement.sql.c_str(), 0, nullptr) == 0) {
        return false;
      }
      prepared_.insert(statement.name);
      entry.prepare = true;
    }
    const int sent =
        named ? PQsendQueryPrepared(conn_, statement.name.c_str(), n, raw.values.data(),
                                    raw.lengths.data(), raw.formats.data(), result_format)
              : PQsendQueryParams(conn_, statement.sql.c_str(), n, nullptr, raw.values.data(),
                                  raw.lengths.data(), raw.formats.data(), result_format);
    if (sent == 0 || PQpipelineSync(conn_) == 0) return false;
    entry.sent = absl::Now();
    entry.epoch = cancels_;
    return true;
  }

  void Loop() {
    std::vector<Answer> answers;
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {-1, 0, 0}};
    while (true) {
      PGcancel* cancel = nullptr;
      int timeout_ms = -1;
      {
        absl::MutexLock lock(&mu_);
        if (state_ == kConnecting) {
          if (fds[1].revents != 0) ContinueConnect(answers);
        } else if (state_ == kOpen) {
          if (want_write_ || (fds[1].revents & POLLOUT)) Flush();
          if (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) Consume(answers);
        }
        SendInbox(answers);
        if (stopping_) {
          Down(absl::UnavailableError("the server is stopping"), answers);
          break;
        }
        if (broken_) Down(Lost(), answers);
        const absl::Time now = absl::Now();
        if ((state_ == kDown && now >= retry_at_) || (state_ == kConnecting && conn_ == nullptr)) {
          StartConnect(answers);
        }
        cancel = Expire(now, answers);
        ExpireUnsent(now, answers);
        fds[1] = {-1, 0, 0};
        if (conn_ != nullptr && state_ != kDown) {
          fds[1].fd = PQsocket(conn_);
          if (state_ == kConnecting) {
            fds[1].events = connect_poll_ == PGRES_POLLING_READING ? POLLIN : POLLOUT;
          } else {
            fds[1].events = static_cast<short>(POLLIN | (want_write_ ? POLLOUT : 0));
          }
        }
        timeout_ms = TimeoutMs(now);
        sleep_until_ = timeout_ms < 0 ? absl::InfiniteFuture()
                                      : now + absl::Milliseconds(timeout_ms);
      }
      if (cancel != nullptr) {
        char error[256];
        PQcancel(cancel, error, sizeof error);
      }
      Deliver(answers);
      Pump();  // what callers queued while this thread held the lock
      fds[0].revents = 0;
      fds[1].revents = 0;
      poll(fds, fds[1].fd >= 0 ? 2 : 1, timeout_ms);
      if (fds[0].revents & POLLIN) {
        uint64_t count;
        [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof count);
      }
    }
    Deliver(answers);
  }

  // How long poll may sleep: until the next deadline, the next check for
  // callers that left, the next connect attempt or its timeout.
  int TimeoutMs(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::Time wake = absl::InfiniteFuture();
    if (broken_) return 0;
    if (state_ == kDown) wake = retry_at_;
    if (state_ == kConnecting) wake = connect_deadline_;
    const auto watch = [&](const Entry& entry) {
      wake = std::min(wake, entry.limit.deadline);
      if (entry.limit.cancelled) wake = std::min(wake, now + kCancelPoll);
    };
    for (const auto& entry : pending_) {
      if (entry->done && !entry->expired) watch(*entry);
    }
    for (const auto& entry : outbox_) watch(*entry);
    {
      absl::MutexLock lock(&inbox_mu_);
      for (const auto& entry : inbox_) watch(*entry);
    }
    if (wake == absl::InfiniteFuture()) return -1;
    return static_cast<int>(std::clamp<int64_t>(
        absl::ToInt64Milliseconds(absl::Ceil(wake - now, absl::Milliseconds(1))), 0, 60000));
  }

  // Reads what has come and completes the statements whose Sync came back.
  void Consume(std::vector<Answer>& answers) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (PQconsumeInput(conn_) == 0) {
      broken_ = true;
      return;
    }
    bool was_null = false;
    while (!pending_.empty() && PQisBusy(conn_) == 0) {
      PGresult* result = PQgetResult(conn_);
      if (result == nullptr) {
        if (was_null) break;
        was_null = true;
        continue;
      }
      was_null = false;
      Entry& head = *pending_.front();
      const ExecStatusType status = PQresultStatus(result);
      if (status == PGRES_PIPELINE_SYNC) {
        PQclear(result);
        std::unique_ptr<Entry> entry = std::move(pending_.front());
        pending_.pop_front();
        Complete(std::move(entry), answers);
        continue;
      }
      if (head.prepare) {
        head.prepare = false;
        if (status == PGRES_COMMAND_OK) {
          PQclear(result);
          continue;
        }
        prepared_.erase(head.statement.name);
      }
      if (head.result == nullptr) {
        head.result = result;
      } else {
        PQclear(result);
      }
    }
    if (PQstatus(conn_) == CONNECTION_BAD) broken_ = true;
    Flush();  // statements sent again
  }

  // A statement answered by the database: to its caller, or sent again when
  // a cancel meant for the statement before it caught it.
  void Complete(std::unique_ptr<Entry> entry, std::vector<Answer>& answers)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    load_.fetch_sub(1, std::memory_order_relaxed);
    pending_bytes_ -= entry->bytes;
    if (!entry->done) {  // answered at its deadline already
      owner_->in_flight_.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
    absl::StatusOr<Result> result = ResultOf(*entry);
    if (IsCancelled(result) && !entry->cancel_sent && !entry->resent &&
        entry->epoch != cancels_ && absl::Now() < entry->limit.deadline) {
      entry->resent = true;
      if (Send(*entry)) {
        pending_bytes_ += entry->bytes;
        pending_.push_back(std::move(entry));
        load_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      broken_ = true;
      result = ConnectionLost(entry->purpose.kind, entry->purpose.what);
    }
    answers.push_back({std::move(entry), std::move(result)});
  }

  // Answers the statements whose caller's deadline passed or who cancelled:
  // reads at once, writes once the database says how they ended. Returns
  // the cancel handle when the statement running now must be cancelled.
  PGcancel* Expire(absl::Time now, std::vector<Answer>& answers)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    PGcancel* cancel = nullptr;
    for (size_t i = 0; i < pending_.size(); ++i) {
      Entry& entry = *pending_[i];
      if (!entry.done || entry.expired) continue;
      absl::Status why;
      if (now >= entry.limit.deadline) {
        why = absl::DeadlineExceededError(
            absl::StrCat(entry.purpose.what, ": the deadline passed while the query ran"));
      } else if (entry.limit.cancelled && entry.limit.cancelled()) {
        why = absl::CancelledError("the client cancelled the call");
      } else {
        continue;
      }
      entry.expired = true;
      if (i == 0 && cancel_ != nullptr) {
        entry.cancel_sent = true;
        ++cancels_;
        cancel = cancel_;
      }
      if (entry.purpose.kind == StatementKind::kRead) {
        auto answered = std::make_unique<Entry>();
        answered->purpose = entry.purpose;
        answered->done = std::move(entry.done);
        answered->sent = entry.sent;
        owner_->in_flight_.fetch_add(1, std::memory_order_relaxed);  // Deliver counts it off
        answers.push_back({std::move(answered), std::move(why)});
      }
    }
    return cancel;
  }

  // Answers the statements not sent yet (held back at the cap, or waiting
  // for the connection to open) whose caller's deadline passed or who
  // cancelled: nothing of theirs reached the database.
  void ExpireUnsent(absl::Time now, std::vector<Answer>& answers)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const auto expire = [&](std::deque<std::unique_ptr<Entry>>& queue) {
      for (auto it = queue.begin(); it != queue.end();) {
        Entry& entry = **it;
        absl::Status why;
        if (now >= entry.limit.deadline) {
          why = absl::DeadlineExceededError(absl::StrCat(
              entry.purpose.what, ": the deadline passed before the query could be sent"));
        } else if (entry.limit.cancelled && entry.limit.cancelled()) {
          why = absl::CancelledError("the client cancelled the call");
        } else {
          ++it;
          continue;
        }
        load_.fetch_sub(1, std::memory_order_relaxed);
        answers.push_back({std::move(*it), std::move(why)});
        it = queue.erase(it);
      }
    };
    expire(outbox_);
    absl::MutexLock lock(&inbox_mu_);
    expire(inbox_);
    inbox_size_.store(static_cast<int>(inbox_.size()), std::memory_order_release);
  }

  // The connection is gone: every statement on it is answered.
  void Down(absl::Status why, std::vector<Answer>& answers) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto& entry : pending_) {
      load_.fetch_sub(1, std::memory_order_relaxed);
      if (!entry->done) {
        owner_->in_flight_.fetch_sub(1, std::memory_order_relaxed);
        continue;
      }
      absl::Status status = why.code() == absl::StatusCode::kUnavailable
                                ? ConnectionLost(entry->purpose.kind, entry->purpose.what)
                                : why;
      answers.push_back({std::move(entry), std::move(status)});
    }
    pending_.clear();
    pending_bytes_ = 0;
    {
      absl::MutexLock lock(&inbox_mu_);
      for (auto& entry : inbox_) outbox_.push_back(std::move(entry));
      inbox_.clear();
      inbox_size_.store(0, std::memory_order_release);
    }
    for (auto& entry : outbox_) {
      load_.fetch_sub(1, std::memory_order_relaxed);
      absl::Status status = Unavailable(entry->purpose.what, why);
      answers.push_back({std::move(entry), std::move(status)});
    }
    outbox_.clear();
    if (conn_ != nullptr) {
      PQfinish(conn_);
      conn_ = nullptr;
    }
    if (cancel_ != nullptr) {
      PQfreeCancel(cancel_);
      cancel_ = nullptr;
    }
    prepared_.clear();
    broken_ = false;
    want_write_ = false;
    if (state_ != kDown) state_ = kDown;
  }

  static absl::Status Unavailable(absl::string_view what, const absl::Status& why) {
    return absl::UnavailableError(
        absl::StrCat(what, ": the database is unavailable: ", why.message()));
  }

  absl::Status Lost() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return absl::UnavailableError(
        conn_ == nullptr ? "the connection was lost"
                         : absl::StripTrailingAsciiWhitespace(PQerrorMessage(conn_)));
  }

  void Failed(absl::Status why, std::vector<Answer>& answers) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    last_error_ = why;
    ++failures_;
    const absl::Duration backoff = std::min(
        owner_->options_.max_reconnect_backoff,
        absl::Milliseconds(50) * (1 << std::min(failures_ - 1, 10)));
    retry_at_ = absl::Now() + backoff;
    Down(std::move(why), answers);
  }

  void StartConnect(std::vector<Answer>& answers) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    conn_ = PQconnectStart(conninfo_.c_str());
    if (conn_ == nullptr || PQstatus(conn_) == CONNECTION_BAD) {
      return Failed(Lost(), answers);
    }
    state_ = kConnecting;
    connect_poll_ = PGRES_POLLING_WRITING;
    connect_deadline_ =
        absl::Now() + absl::Seconds(std::max(1, owner_->options_.connect_timeout_seconds));
  }

  void ContinueConnect(std::vector<Answer>& answers) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    connect_poll_ = PQconnectPoll(conn_);
    if (connect_poll_ == PGRES_POLLING_FAILED) return Failed(Lost(), answers);
    if (connect_poll_ != PGRES_POLLING_OK) {
      if (absl::Now() >= connect_deadline_) {
        Failed(absl::UnavailableError("timeout expired while connecting"), answers);
      }
      return;
    }
    if (PQsetnonblocking(conn_, 1) != 0 || PQenterPipelineMode(conn_) == 0) {
      return Failed(Lost(), answers);
    }
    cancel_ = PQgetCancel(conn_);
    failures_ = 0;
    last_error_ = absl::OkStatus();
    state_ = kOpen;
    // What waited for the connection goes first, then what came since.
    {
      absl::MutexLock lock(&inbox_mu_);
      while (!outbox_.empty()) {
        inbox_.push_front(std::move(outbox_.back()));
        outbox_.pop_back();
      }
      inbox_size_.store(static_cast<int>(inbox_.size()), std::memory_order_release);
    }
    SendInbox(answers);
  }

  // Runs the callers' callbacks, outside the lock.
  void Deliver(std::vector<Answer>& answers) {
    const auto& observe = owner_->options_.observe;
    for (Answer& answer : answers) {
      Entry& entry = *answer.entry;
      if (observe && entry.sent != absl::Time()) {
        observe(entry.purpose.op, absl::Now() - entry.sent);
      }
      owner_->in_flight_.fetch_sub(1, std::memory_order_relaxed);
      std::move(entry.done)(std::move(answer.result));
    }
    answers.clear();
  }

  Pipeline* const owner_;
  const std::string conninfo_;
  const int wake_fd_;
  std::atomic<State> state_{kConnecting};  // the first connect starts at once
  std::atomic<int> load_{0};

  mutable absl::Mutex mu_;
  PGconn* conn_ ABSL_GUARDED_BY(mu_) = nullptr;
  PGcancel* cancel_ ABSL_GUARDED_BY(mu_) = nullptr;
  PostgresPollingStatusType connect_poll_ ABSL_GUARDED_BY(mu_) = PGRES_POLLING_FAILED;
  absl::Time connect_deadline_ ABSL_GUARDED_BY(mu_);
  absl::Time retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status last_error_ ABSL_GUARDED_BY(mu_) =
      absl::UnavailableError("the database connection is opening");
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool want_write_ ABSL_GUARDED_BY(mu_) = false;
  // When the link's thread wakes next by itself.
  absl::Time sleep_until_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  uint64_t cancels_ ABSL_GUARDED_BY(mu_) = 0;
  size_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // of pending_
  bool held_back_ ABSL_GUARDED_BY(mu_) = false;  // the inbox waits for the cap
  absl::flat_hash_set<std::string> prepared_ ABSL_GUARDED_BY(mu_);
  std::deque<std::unique_ptr<Entry>> pending_ ABSL_GUARDED_BY(mu_);  // sent, in order
  std::deque<std::unique_ptr<Entry>> outbox_ ABSL_GUARDED_BY(mu_);   // for when it opens
  // Entries taken and not yet sent (see Take).
  mutable absl::Mutex inbox_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::deque<std::unique_ptr<Entry>> inbox_ ABSL_GUARDED_BY(inbox_mu_);
  std::atomic<int> inbox_size_{0};
  std::thread thread_;
};

Pipeline::Pipeline(PipelineOptions options) : options_(std::move(options)) {
  const std::string conninfo = ConnectionString(options_.url, options_.connect_timeout_seconds,
                                                options_.max_statement_seconds);
  for (int i = 0; i < std::max(1, options_.connections); ++i) {
    links_.push_back(std::make_unique<Link>(this, conninfo));
  }
}

Pipeline::~Pipeline() { links_.clear(); }

int Pipeline::open_connections() const {
  int open = 0;
  for (const auto& link : links_) open += link->open() ? 1 : 0;
  return open;
}

void Pipeline::Run(const Statement& statement, Params params, CallLimit limit, Purpose purpose,
                   Done done) {
  if (in_flight_.fetch_add(1, std::memory_order_relaxed) >= options_.max_in_flight) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    return std::move(done)(absl::ResourceExhaustedError(
        "server overloaded: too many statements are in flight; retry later"));
  }
  auto entry = std::make_unique<Entry>();
  entry->statement = statement;
  entry->params = std::move(params);
  entry->limit = std::move(limit);
  entry->purpose = std::move(purpose);
  entry->done = std::move(done);
  // The open link with the least in flight, starting from a rotating one;
  // then one that is opening.
  const size_t n = links_.size();
  const size_t start = next_.fetch_add(1, std::memory_order_relaxed) % n;
  for (int pass = 0; pass < 2 && entry != nullptr; ++pass) {
    Link* best = nullptr;
    for (size_t i = 0; i < n; ++i) {
      Link* link = links_[(start + i) % n].get();
      if (!(pass == 0 ? link->open() : link->connecting())) continue;
      if (best == nullptr || link->load() < best->load()) best = link;
    }
    if (best != nullptr && best->Take(entry)) return;
  }
  in_flight_.fetch_sub(1, std::memory_order_relaxed);
  absl::Status why = links_[start]->last_error();
  if (why.ok()) why = absl::UnavailableError("the connection was lost");
  std::move(entry->done)(absl::UnavailableError(absl::StrCat(
      entry->purpose.what, ": the database is unavailable: ", why.message())));
}

absl::StatusOr<Result> Pipeline::RunAndWait(const Statement& statement, Params params,
                                            const CallLimit& limit, Purpose purpose) {
  absl::Notification done;
  absl::StatusOr<Result> answer;
  Run(statement, std::move(params), limit, std::move(purpose),
      [&](absl::StatusOr<Result> result) {
        answer = std::move(result);
        done.Notify();
      });
  done.WaitForNotification();
  return answer;
}

}  // namespace protomodel::db
