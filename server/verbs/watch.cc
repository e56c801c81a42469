#include "server/verbs/watch.h"

#include <algorithm>
#include <optional>
#include <set>

#include <grpcpp/impl/codegen/proto_utils.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "db/errors.h"
#include "db/sql/codec.h"
#include "server/transport/logging.h"
#include "server/transport/status.h"
#include "server/verbs/call.h"
#include "server/verbs/checks.h"
#include "server/verbs/document.h"
#include "spdlog/spdlog.h"

namespace protomodel::server {
namespace {

using google::protobuf::Message;

// Changes read from the log at once.
constexpr int kPage = 1000;
// A document's updates read at once, at most: rows, and bytes (but for one
// larger update).
constexpr int kDocumentPage = 200;
constexpr size_t kDocumentPageBytes = 4 * 1024 * 1024;
// protomodel.v1.ChangeType's numbers.
constexpr int kAdded = 1;
constexpr int kModified = 2;
constexpr int kRemoved = 3;
constexpr int kSynced = 4;

// A watch refused before it began: answers its status and goes.
class Refused final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit Refused(const absl::Status& status) { Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

grpc::ByteBuffer Serialize(const Message& message) {
  grpc::ByteBuffer buffer;
  bool own = false;
  (void)grpc::GenericSerialize<grpc::ProtoBufferWriter, Message>(message, &buffer, &own);
  return buffer;
}

absl::Status OutOfRange(absl::string_view why) {
  return absl::OutOfRangeError(
      absl::StrCat(why, ": list again, then watch anew from the SYNCED that comes first"));
}

}  // namespace

// One table, filter and read mask, on one method: its watchers share each
// change's evaluation and message.
struct WatchHub::Group {
  std::string key;
  const MethodPlan* plan = nullptr;
  const db::Table* table = nullptr;
  const Message* response_type = nullptr;
  std::unique_ptr<Message> resource_type;
  std::optional<db::FilterNode> filter;
  std::vector<bool> returned;  // by column index; empty: every column
  std::vector<Watcher*> members;

  // The stream's message of `type` for a change of `x` (nullptr: none).
  grpc::ByteBuffer Event(int type, const Message* x, const std::string& token,
                         int64_t micros) const {
    std::unique_ptr<Message> response(response_type->New());
    const auto* r = response->GetReflection();
    r->SetEnumValue(response.get(), plan->change_type, type);
    if (x != nullptr) {
      Message* out = r->MutableMessage(response.get(), plan->changed);
      out->CopyFrom(*x);
      if (!returned.empty()) {
        const db::TableSchema& schema = table->schema();
        for (const db::Column& column : schema.columns()) {
          if (!schema.Holds(returned, column)) {
            out->GetReflection()->ClearField(out, column.field);
          }
        }
      }
    }
    r->SetString(response.get(), plan->event_token, token);
    if (plan->commit_time != nullptr && micros != 0) {
      db::SetTimestampMicros(r->MutableMessage(response.get(), plan->commit_time), micros);
    }
    return Serialize(*response);
  }

  // Whether `row` (a change's old or new values) is in the watched set.
  bool Matches(const Message* row) const {
    if (row == nullptr) return false;
    if (!filter.has_value()) return true;
    absl::StatusOr<bool> match = db::MatchFilter(*filter, table->schema(), *row);
    return match.ok() && *match;
  }
};

// One live document and its watchers (Watch<R>Updates), each at its own
// seq.
struct WatchHub::Document {
  std::string key;           // the table's name, "\n", the document's key
  std::string document_key;  // validated key text
  const MethodPlan* plan = nullptr;
  const db::DocumentLog* log = nullptr;
  const Message* response_type = nullptr;  // <R>Update
  std::vector<Watcher*> members;
  // A read is under way (the document stays until it is answered).
  bool fetching = false;
  // To be read again: it changed, a watcher came or drained, a read failed.
  bool dirty = false;
};

// One watch call: a reactor with a queue of serialized messages, one write
// in flight at a time.
class WatchHub::Watcher final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  Watcher(Group* group, std::string authorization, size_t max_queued, Metrics* metrics)
      : group_(group),
        authorization_(std::move(authorization)),
        max_queued_(max_queued),
        metrics_(metrics) {}

  Group* group() const { return group_; }
  const std::string& authorization() const { return authorization_; }

  // Queues `message`; held back while the watcher catches up, when `hold`.
  void Send(const grpc::ByteBuffer& message, bool hold = false) {
    bool start = false;
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      if (ended_) return;
      last_queued_ = absl::Now();
      if (hold) {
        held_.push_back(message);
      } else if (writing_) {
        queue_.push_back(message);
      } else {
        writing_ = true;
        in_flight_ = message;
        start = true;
      }
      if (!start) {
        queued_ += message.Length();
        if (queued_ > max_queued_) {
          finish = EndLocked(absl::UnavailableError(absl::StrCat(
              "the watcher fell behind: more than ", max_queued_ >> 20,
              " MiB of changes queued; resume with the last resume_token")));
        }
      }
    }
    if (metrics_ != nullptr && !finish.has_value()) metrics_->WatchEvents(1);
    if (start) StartWrite(&in_flight_);
    if (finish.has_value()) Finish(*finish);
  }

  // Sends what was held while catching up, then every message at once.
  void Release() {
    std::deque<grpc::ByteBuffer> held;
    {
      absl::MutexLock lock(&mu_);
      held.swap(held_);
      for (const auto& m : held) queued_ -= m.Length();
    }
    for (const auto& m : held) Send(m);
  }

  // Ends the call with `status` once the write in flight is done.
  void End(const absl::Status& status) {
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      finish = EndLocked(status);
    }
    if (finish.has_value()) Finish(*finish);
  }

  absl::Time last_queued() const {
    absl::MutexLock lock(&mu_);
    return last_queued_;
  }
  size_t queued() const {
    absl::MutexLock lock(&mu_);
    return queued_;
  }
  bool ended() const {
    absl::MutexLock lock(&mu_);
    return ended_;
  }
  bool done() const { return done_.load(); }

  void OnWriteDone(bool ok) override {
    bool next = false;
    bool more = false;
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      if (!ok && !ended_) {
        finish = EndLocked(absl::UnavailableError("the stream broke"));
      }
      if (!ended_ && !queue_.empty()) {
        in_flight_ = std::move(queue_.front());
        queue_.pop_front();
        queued_ -= in_flight_.Length();
        next = true;
        more = !queue_.empty();
      } else {
        writing_ = false;
        if (ended_ && pending_finish_.has_value() && !finished_) {
          finish = std::move(pending_finish_);
          finished_ = true;
        }
      }
    }
    // While more are queued, gRPC may hold a message to send it with the
    // next ones (the last goes out at once).
    if (next) StartWrite(&in_flight_, more ? grpc::WriteOptions().set_buffer_hint()
                                           : grpc::WriteOptions());
    if (finish.has_value()) Finish(*finish);
  }

  void OnCancel() override { End(absl::CancelledError("the caller cancelled the watch")); }
  void OnDone() override { done_.store(true); }

  // The resume position a watcher came with, and the reader's when it
  // joined: what it catches up on.
  std::optional<db::ChangePosition> resume;
  std::string resume_token;
  db::ChangePosition target;
  // Waiting for, or held by, the catching-up thread: not deleted until it
  // lets go.
  bool catching_up = false;
  // Came before the reader's current round began.
  bool ready = false;
  // Watch<R>Updates: the watcher's document (its group is null), the last
  // seq queued for it, and whether it waits for its queue to drain before
  // it is sent more.
  Document* document = nullptr;
  int64_t sent_seq = 0;
  bool paused = false;

 private:
  // Marks the watch ended; returns the status to finish with now, or none
  // while a write is in flight (OnWriteDone finishes) or when already ended.
  std::optional<grpc::Status> EndLocked(const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (ended_) return std::nullopt;
    ended_ = true;
    queue_.clear();
    held_.clear();
    queued_ = 0;
    if (writing_) {
      pending_finish_ = ToGrpcStatus(status);
      return std::nullopt;
    }
    finished_ = true;
    return ToGrpcStatus(status);
  }

  Group* const group_;
  const std::string authorization_;
  const size_t max_queued_;
  Metrics* const metrics_;
  mutable absl::Mutex mu_;
  std::deque<grpc::ByteBuffer> queue_ ABSL_GUARDED_BY(mu_);
  std::deque<grpc::ByteBuffer> held_ ABSL_GUARDED_BY(mu_);
  size_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::ByteBuffer in_flight_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> pending_finish_ ABSL_GUARDED_BY(mu_);
  absl::Time last_queued_ ABSL_GUARDED_BY(mu_) = absl::Now();
  std::atomic<bool> done_{false};
};

// What one read of the log holds for the watched tables: each change's
// token, old and new values, and the rows as they stand now.
struct WatchHub::Batch {
  const std::vector<db::Change>* changes = nullptr;
  std::vector<std::string> tokens;
  std::vector<std::unique_ptr<Message>> old_rows;
  std::vector<std::unique_ptr<Message>> new_rows;
  // By change index: the row now (ADDED and MODIFIED), or null when gone.
  std::vector<std::unique_ptr<Message>> current;

  // Reads `changes` (read after `since`, visible in `upto`) for the tables
  // in `types` (table name -> a message of its type): tokens, values, and
  // the rows now, in one statement per table.
  void Read(const std::vector<db::Change>& read, const db::ChangePosition& since,
            const std::string& upto, const std::map<std::string, const Group*>& types,
            const std::map<std::string, const db::Table*>& tables) {
    changes = &read;
    const size_t n = read.size();
    tokens.resize(n);
    old_rows.resize(n);
    new_rows.resize(n);
    current.resize(n);
    std::map<std::string, std::vector<size_t>> fetch;
    for (size_t i = 0; i < n; ++i) {
      const db::Change& change = read[i];
      auto type = types.find(change.table);
      if (type == types.end()) continue;
      const db::TableSchema& schema = type->second->table->schema();
      db::ChangePosition at = since;
      at.upto = upto;
      at.after = change.seq;
      tokens[i] = db::EncodeResumeToken(at, schema);
      const auto decode = [&](const std::string& json) -> std::unique_ptr<Message> {
        if (json.empty()) return nullptr;
        std::unique_ptr<Message> row(type->second->resource_type->New());
        if (absl::Status s = db::ReadChangeValues(json, schema, row.get()); !s.ok()) {
          spdlog::warn("watch: change {} of {}: {}", change.seq, change.table, s.message());
        }
        return row;
      };
      old_rows[i] = decode(change.old_values);
      new_rows[i] = decode(change.new_values);
      if (new_rows[i] != nullptr) fetch[change.table].push_back(i);
    }
    for (auto& [table_name, indexes] : fetch) {
      const db::Table* table = tables.at(table_name);
      const Group* group = types.at(table_name);
      std::vector<std::string> keys;
      std::vector<Message*> outs;
      std::vector<std::unique_ptr<Message>> rows;
      for (size_t i : indexes) {
        keys.push_back(read[i].key);
        rows.emplace_back(group->resource_type->New());
        outs.push_back(rows.back().get());
      }
      absl::Notification got;
      absl::Status status;
      std::vector<bool> found;
      table->GetMany(std::move(keys), absl::Now() + absl::Seconds(30), outs,
                     [&](absl::Status s, std::vector<bool> f) {
                       status = std::move(s);
                       found = std::move(f);
                       got.Notify();
                     });
      got.WaitForNotification();
      for (size_t j = 0; j < indexes.size(); ++j) {
        if (status.ok() && j < found.size() && found[j]) current[indexes[j]] = std::move(rows[j]);
      }
    }
  }

  // `group`'s messages for the changes of its table, in order; stops at a
  // truncate of it (sets `truncated`).
  std::vector<grpc::ByteBuffer> Events(const Group& group, bool* truncated) const {
    std::vector<grpc::ByteBuffer> events;
    const db::TableSchema& schema = group.table->schema();
    for (size_t i = 0; i < changes->size(); ++i) {
      const db::Change& change = (*changes)[i];
      if (change.table != schema.name()) continue;
      if (change.op == db::Change::Op::kTruncate) {
        *truncated = true;
        break;
      }
      const bool was = group.Matches(old_rows[i].get());
      const bool is = group.Matches(new_rows[i].get());
      if (!was && !is) continue;
      if (!is) {
        // Only the key: a fresh message holding it.
        std::unique_ptr<Message> key(group.resource_type->New());
        const db::Column& pk = schema.primary_key();
        (void)db::ReadColumn(change.key.data(), change.key.size(), false, false, pk, key.get());
        events.push_back(group.Event(kRemoved, key.get(), tokens[i], change.changed_micros));
        continue;
      }
      const Message* x = current[i] != nullptr ? current[i].get() : new_rows[i].get();
      events.push_back(
          group.Event(was ? kModified : kAdded, x, tokens[i], change.changed_micros));
    }
    return events;
  }
};

WatchHub::WatchHub(WatchOptions options, const std::vector<const db::Table*>& tables,
                   const TokenStore* tokens, Metrics* metrics)
    : options_(std::move(options)),
      tokens_(tokens),
      metrics_(metrics),
      pool_([this] {
        db::PoolOptions pool = options_.database;
        pool.size = 2;  // the reader's and the catching-up thread's
        pool.observe = nullptr;
        return pool;
      }()) {
  for (const db::Table* table : tables) tables_[table->schema().name()] = table;
  reader_ = std::thread([this] { ReadLoop(); });
  catcher_ = std::thread([this] { CatchUpLoop(); });
}

WatchHub::~WatchHub() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    EndAll(absl::UnavailableError("the server is shutting down"));
    wake_catch_up_.SignalAll();
  }
  reader_.join();
  catcher_.join();
  absl::MutexLock lock(&mu_);
  // Reads under way answer into the documents: wait for them.
  mu_.Await(absl::Condition(
      +[](std::map<std::string, std::unique_ptr<Document>>* documents) {
        for (const auto& [key, document] : *documents) {
          if (document->fetching) return false;
        }
        return true;
      },
      &documents_));
  Reap();
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchHub::Refuse(const absl::Status& status) {
  return new Refused(status);
}

int WatchHub::open() const {
  absl::MutexLock lock(&mu_);
  return open_;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchHub::Start(
    const MethodPlan& plan, const db::Table& table, const Message& request_type,
    const Message& response_type, grpc::CallbackServerContext* context,
    const grpc::ByteBuffer* request) {
  std::unique_ptr<Message> parsed(request_type.New());
  if (absl::Status s = ParseRequest(*request, parsed.get()); !s.ok()) return new Refused(s);
  const db::TableSchema& schema = table.schema();
  const auto* r = parsed->GetReflection();
  auto group = std::make_unique<Group>();
  group->plan = &plan;
  group->table = &table;
  group->response_type = &response_type;
  {
    std::unique_ptr<Message> response(response_type.New());
    group->resource_type.reset(
        response->GetReflection()->MutableMessage(response.get(), plan.changed)->New());
  }
  const std::string filter = plan.filter != nullptr ? r->GetString(*parsed, plan.filter) : "";
  if (!filter.empty()) {
    absl::StatusOr<db::FilterNode> node = db::ParseFilter(filter);
    db::Params params;
    absl::StatusOr<std::string> sql =
        node.ok() ? db::CompileFilter(*node, schema, &params) : node.status();
    if (!sql.ok()) {
      return new Refused(
          db::AboutField(db::WithReason(sql.status(), db::reason::kInvalidFilter), "filter"));
    }
    group->filter = *std::move(node);
  }
  std::vector<std::string> paths;
  if (plan.read_mask != nullptr) {
    paths = MaskPaths(*parsed, plan.read_mask);
    absl::StatusOr<std::vector<const db::Column*>> columns =
        MaskColumns(paths, schema, plan.read_mask->name(), false);
    if (!columns.ok()) return new Refused(columns.status());
    if (!columns->empty()) {
      columns->push_back(&schema.primary_key());
      group->returned = schema.ColumnSet(*columns);
    }
  }
  std::sort(paths.begin(), paths.end());
  std::optional<db::ChangePosition> resume;
  const std::string token =
      plan.resume_token != nullptr ? r->GetString(*parsed, plan.resume_token) : "";
  if (!token.empty()) {
    absl::StatusOr<db::ChangePosition> position =
        db::DecodeResumeToken(token, schema, plan.resume_token->name());
    if (!position.ok()) return new Refused(position.status());
    resume = *std::move(position);
  }
  group->key = absl::StrCat(plan.full_name, "\n", filter, "\n", absl::StrJoin(paths, ","));

  absl::MutexLock lock(&mu_);
  if (absl::Status refused = CanOpen(); !refused.ok()) return new Refused(refused);
  auto& slot = groups_[group->key];
  if (slot == nullptr) slot = std::move(group);
  Watcher* watcher = Open(slot.get(), context, options_.max_queued_bytes);
  watcher->resume = std::move(resume);
  watcher->resume_token = token;
  joining_.push_back(watcher);
  return watcher;
}

absl::Status WatchHub::CanOpen() const {
  if (draining_ || stopping_) {
    return absl::UnavailableError("the server is shutting down: watch elsewhere");
  }
  if (open_ >= options_.max_watches) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "this replica holds its limit of ", options_.max_watches,
        " watches (--max_watches); try again later or on another replica"));
  }
  return absl::OkStatus();
}

WatchHub::Watcher* WatchHub::Open(Group* group, grpc::CallbackServerContext* context,
                                  size_t max_queued) {
  auto* watcher = new Watcher(
      group, std::string(MetadataValue(context->client_metadata(), "authorization")), max_queued,
      metrics_);
  ++open_;
  if (metrics_ != nullptr) metrics_->WatchOpened();
  return watcher;
}

void WatchHub::Drain() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  EndAll(absl::UnavailableError(
      "the server is shutting down: resume the watch with its last resume_token"));
}

void WatchHub::EndAll(const absl::Status& status) {
  for (auto& [key, group] : groups_) {
    for (Watcher* watcher : group->members) watcher->End(status);
  }
  for (Watcher* watcher : joining_) watcher->End(status);
  for (auto& [key, document] : documents_) {
    for (Watcher* watcher : document->members) watcher->End(status);
  }
}

void WatchHub::Remove(Watcher* watcher) {
  --open_;
  if (metrics_ != nullptr) metrics_->WatchClosed();
  delete watcher;
}

void WatchHub::Reap() {
  const auto gone = [this](Watcher* watcher) {
    // One the catching-up thread has yet to take, or holds, is let go there.
    if (!watcher->done() || watcher->catching_up) return false;
    Remove(watcher);
    return true;
  };
  joining_.erase(std::remove_if(joining_.begin(), joining_.end(), gone), joining_.end());
  for (auto it = groups_.begin(); it != groups_.end();) {
    auto& members = it->second->members;
    members.erase(std::remove_if(members.begin(), members.end(), gone), members.end());
    bool referenced = !members.empty();
    for (Watcher* watcher : joining_) referenced = referenced || watcher->group() == it->second.get();
    it = referenced ? std::next(it) : groups_.erase(it);
  }
  for (auto it = documents_.begin(); it != documents_.end();) {
    auto& members = it->second->members;
    members.erase(std::remove_if(members.begin(), members.end(), gone), members.end());
    // A document being read stays until its read is answered.
    it = members.empty() && !it->second->fetching ? documents_.erase(it) : std::next(it);
  }
}

void WatchHub::ReadLoop() {
  while (true) {
    const absl::Time started = absl::Now();
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    Poll();
    absl::MutexLock lock(&mu_);
    const absl::Duration left = options_.poll - (absl::Now() - started);
    if (left > absl::ZeroDuration()) {
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), left);
    }
  }
}

void WatchHub::Poll() {
  // Which tables are watched, and a group of each (for its message type).
  std::map<std::string, const Group*> types;
  db::ChangePosition from;
  bool positioned = false;
  {
    absl::MutexLock lock(&mu_);
    Reap();
    if (tokens_ != nullptr && absl::Now() >= next_token_check_) {
      next_token_check_ = absl::Now() + options_.recheck_tokens;
      const auto recheck = [this](Watcher* watcher, const MethodPlan& plan) {
        AuthResult auth = tokens_->Check(watcher->authorization(), plan.full_name, kReadClass);
        if (!auth.status.ok()) watcher->End(auth.status);
      };
      for (auto& [key, group] : groups_) {
        for (Watcher* watcher : group->members) recheck(watcher, *group->plan);
      }
      for (auto& [key, document] : documents_) {
        for (Watcher* watcher : document->members) recheck(watcher, *document->plan);
      }
    }
    for (auto& [key, group] : groups_) types[group->table->schema().name()] = group.get();

    // Watchers that came before this round's snapshot join at its end: what
    // committed before they came is not theirs.
    for (Watcher* watcher : joining_) {
      watcher->ready = true;
      types[watcher->group()->table->schema().name()] = watcher->group();
    }
    // Nobody watches: the log is not read (an idle replica costs the
    // database nothing), and the next watcher starts from a fresh snapshot.
    if (types.empty() && documents_.empty()) {
      positioned_ = false;
      return;
    }
    from = position_;
    positioned = positioned_;
  }
  const auto warn = [this](const absl::Status& status) {
    if (absl::Now() - last_warning_ > absl::Seconds(30)) {
      last_warning_ = absl::Now();
      spdlog::warn("watch: reading the change log: {}", status.message());
    }
  };
  absl::StatusOr<db::Pool::Lease> lease =
      pool_.Acquire(absl::Now() + absl::Seconds(10), "watch");
  if (!lease.ok()) return warn(lease.status());
  if (!positioned) {
    absl::StatusOr<db::ChangePosition> now = db::CurrentPosition(**lease);
    if (!now.ok()) return warn(now.status());
    absl::MutexLock lock(&mu_);
    position_ = *std::move(now);
    positioned_ = true;
  } else {
    std::string upto;
    while (true) {
      absl::StatusOr<db::ChangePage> page = db::ReadChanges(**lease, from, upto, "", kPage);
      if (!page.ok()) return warn(page.status());
      if (page->horizon_micros > 0 && page->horizon_micros >= from.since_micros) {
        // This replica read nothing for longer than the retention: what it
        // missed is gone.
        absl::MutexLock lock(&mu_);
        EndAll(OutOfRange("this replica fell behind the change log's retention"));
        positioned_ = false;
        return;
      }
      Batch batch;
      batch.Read(page->changes, from, page->upto, types, tables_);
      const absl::Time now = absl::Now();
      for (const db::Change& change : page->changes) {
        if (metrics_ != nullptr) {
          metrics_->ObserveWatchLag(now - absl::FromUnixMicros(change.changed_micros));
        }
      }
      {
        absl::MutexLock lock(&mu_);
        if (!documents_.empty()) {
          for (const db::Change& change : page->changes) Touch(change);
        }
        for (auto& [key, group] : groups_) {
          bool truncated = false;
          std::vector<grpc::ByteBuffer> events = batch.Events(*group, &truncated);
          for (Watcher* watcher : group->members) {
            for (const auto& event : events) watcher->Send(event, watcher->catching_up);
            if (truncated) {
              watcher->End(OutOfRange(absl::StrCat("table ", group->table->schema().quoted_name(),
                                                   " was truncated")));
            }
          }
        }
        if (!page->more) {
          position_ = {page->upto, page->upto, 0, page->upto_micros};
          break;
        }
      }
      upto = page->upto;
      from.upto = page->upto;
      from.after = page->changes.back().seq;
    }
  }
  // Let the joining in: from here, every change not yet delivered comes in
  // a later round.
  std::vector<Document*> fetch;
  {
    absl::MutexLock lock(&mu_);
    // A document's new watchers: its updates are read now, after the
    // reader's position was taken; whatever commits later comes in a later
    // round, which marks the document to be read again.
    for (auto& [key, document] : documents_) {
      for (Watcher* watcher : document->members) {
        if (!watcher->ready) {
          watcher->ready = true;
          document->dirty = true;
        }
      }
    }
    fetch = TakeDirty();
    std::map<const Group*, grpc::ByteBuffer> synced;
    const auto synced_of = [&](const Group* group) -> const grpc::ByteBuffer& {
      auto it = synced.find(group);
      if (it == synced.end()) {
        it = synced
                 .emplace(group, group->Event(kSynced, nullptr,
                                              db::EncodeResumeToken(position_,
                                                                    group->table->schema()),
                                              0))
                 .first;
      }
      return it->second;
    };
    std::vector<Watcher*> later;
    for (Watcher* watcher : joining_) {
      if (!watcher->ready) {
        later.push_back(watcher);
        continue;
      }
      Group* group = watcher->group();
      if (watcher->resume.has_value()) {
        watcher->Send(group->Event(kSynced, nullptr, watcher->resume_token, 0));
        watcher->target = position_;
        watcher->catching_up = true;
        catching_up_.push_back(watcher);
      } else {
        watcher->Send(synced_of(group));
      }
      group->members.push_back(watcher);
    }
    joining_ = std::move(later);
    if (!catching_up_.empty()) wake_catch_up_.Signal();
    const absl::Time stale = absl::Now() - options_.bookmark;
    for (auto& [key, group] : groups_) {
      for (Watcher* watcher : group->members) {
        if (!watcher->catching_up && watcher->last_queued() < stale) {
          watcher->Send(synced_of(group.get()));
        }
      }
    }
  }
  Fetch(fetch);
}

void WatchHub::Touch(const db::Change& change) {
  if (change.op == db::Change::Op::kTruncate) {
    // Every document of the table: each read finds it gone.
    const std::string prefix = absl::StrCat(change.table, "\n");
    for (auto it = documents_.lower_bound(prefix);
         it != documents_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      it->second->dirty = true;
    }
    return;
  }
  auto it = documents_.find(absl::StrCat(change.table, "\n", change.key));
  if (it != documents_.end()) it->second->dirty = true;
}

std::vector<WatchHub::Document*> WatchHub::TakeDirty() {
  std::vector<Document*> dirty;
  for (auto& [key, document] : documents_) {
    for (Watcher* watcher : document->members) {
      // A paused watcher whose queue drained wants more.
      if (watcher->paused && watcher->queued() < options_.max_queued_bytes / 4) {
        watcher->paused = false;
        document->dirty = true;
      }
    }
    if (document->dirty && !document->fetching) {
      document->dirty = false;
      document->fetching = true;
      dirty.push_back(document.get());
    }
  }
  return dirty;
}

void WatchHub::Fetch(const std::vector<Document*>& documents) {
  for (Document* document : documents) {
    int64_t after = -1;
    {
      absl::MutexLock lock(&mu_);
      for (Watcher* watcher : document->members) {
        if (watcher->ended() || watcher->paused) continue;
        if (after < 0 || watcher->sent_seq < after) after = watcher->sent_seq;
      }
      if (after < 0) {
        document->fetching = false;
        continue;
      }
    }
    document->log->ReadUpdates(document->document_key, after, kDocumentPage, kDocumentPageBytes,
                               db::CallLimit(absl::Now() + absl::Seconds(30)),
                               [this, document](absl::StatusOr<db::DocumentLog::Page> page) {
                                 Fetched(document, std::move(page));
                               });
  }
}

void WatchHub::Fetched(Document* document, absl::StatusOr<db::DocumentLog::Page> page) {
  std::vector<Document*> again;
  {
    absl::MutexLock lock(&mu_);
    document->fetching = false;
    if (!page.ok()) {
      const absl::StatusCode code = page.status().code();
      if (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded ||
          code == absl::StatusCode::kResourceExhausted) {
        document->dirty = true;  // the next round tries again
        return;
      }
      // Deleted (NOT_FOUND), or what no retry mends.
      for (Watcher* watcher : document->members) watcher->End(page.status());
      return;
    }
    // Each update serialized once, for every watcher that lacks it.
    std::vector<std::optional<grpc::ByteBuffer>> messages(page->updates.size());
    const auto message = [&](size_t i) -> const grpc::ByteBuffer& {
      if (!messages[i].has_value()) {
        std::unique_ptr<Message> update(document->response_type->New());
        const db::DocumentLog::Entry& entry = page->updates[i];
        FillUpdate(*document->plan, document->document_key, entry.seq, entry.created_micros,
                   entry.data, update.get());
        messages[i] = Serialize(*update);
      }
      return *messages[i];
    };
    const size_t pause = options_.max_queued_bytes / 4;
    for (Watcher* watcher : document->members) {
      if (watcher->ended() || watcher->paused) continue;
      absl::Status status =
          document->log->CheckAfter(document->document_key, watcher->sent_seq, page->update_seq,
                                    page->compacted_seq, document->plan->after_seq->name());
      for (size_t i = 0; status.ok() && i < page->updates.size(); ++i) {
        const int64_t seq = page->updates[i].seq;
        if (seq <= watcher->sent_seq) continue;
        if (seq != watcher->sent_seq + 1) {
          // Compacted past it between its reads: what it lacks is merged.
          status = document->log->CheckAfter(document->document_key, watcher->sent_seq,
                                             page->update_seq, seq - 1,
                                             document->plan->after_seq->name());
          break;
        }
        const size_t queued = watcher->queued();
        if (queued > 0 && queued + message(i).Length() > pause) {
          watcher->paused = true;
          break;
        }
        watcher->Send(message(i));
        watcher->sent_seq = seq;
      }
      if (!status.ok()) {
        watcher->End(status);
      } else if (!watcher->paused && watcher->sent_seq < page->update_seq) {
        document->dirty = true;  // more than a page behind: read on now
      }
    }
    if (document->dirty && !stopping_) {
      document->dirty = false;
      document->fetching = true;
      again.push_back(document);
    }
  }
  Fetch(again);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchHub::StartDocument(
    const MethodPlan& plan, const db::DocumentLog& log, const Message& request_type,
    const Message& response_type, grpc::CallbackServerContext* context,
    const grpc::ByteBuffer* request) {
  std::unique_ptr<Message> parsed(request_type.New());
  if (absl::Status s = ParseRequest(*request, parsed.get()); !s.ok()) return new Refused(s);
  absl::StatusOr<std::string> key = DocumentKey(plan, log.schema(), *parsed);
  if (!key.ok()) return new Refused(key.status());
  absl::StatusOr<int64_t> after = SeqField(*parsed, plan.after_seq, 0);
  if (!after.ok()) return new Refused(after.status());

  absl::MutexLock lock(&mu_);
  if (absl::Status refused = CanOpen(); !refused.ok()) return new Refused(refused);
  std::string document_key = absl::StrCat(log.schema().name(), "\n", *key);
  auto& slot = documents_[document_key];
  if (slot == nullptr) {
    slot = std::make_unique<Document>();
    slot->key = std::move(document_key);
    slot->document_key = *key;
    slot->plan = &plan;
    slot->log = &log;
    slot->response_type = &response_type;
  }
  // Its queue stays under a quarter of the limit (it pauses), but for one
  // update of up to 16 MiB.
  Watcher* watcher = Open(nullptr, context, options_.max_queued_bytes * 2);
  watcher->document = slot.get();
  watcher->sent_seq = *after;
  slot->members.push_back(watcher);
  return watcher;
}

void WatchHub::CatchUpLoop() {
  while (true) {
    Watcher* watcher = nullptr;
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_ && catching_up_.empty()) wake_catch_up_.Wait(&mu_);
      if (stopping_) return;
      watcher = catching_up_.front();
      catching_up_.pop_front();
    }
    CatchUp(watcher);
    absl::MutexLock lock(&mu_);
    watcher->catching_up = false;
    watcher->Release();
  }
}

void WatchHub::CatchUp(Watcher* watcher) {
  const Group& group = *watcher->group();
  const std::string& table = group.table->schema().name();
  const std::map<std::string, const Group*> types = {{table, &group}};
  db::ChangePosition from = *watcher->resume;
  const std::string upto = watcher->target.since;
  while (!watcher->ended()) {
    absl::StatusOr<db::Pool::Lease> lease =
        pool_.Acquire(absl::Now() + absl::Seconds(10), "watch");
    absl::StatusOr<db::ChangePage> page =
        lease.ok() ? db::ReadChanges(**lease, from, upto, table, kPage) : lease.status();
    if (!page.ok()) {
      if (page.status().code() != absl::StatusCode::kUnavailable &&
          page.status().code() != absl::StatusCode::kDeadlineExceeded) {
        watcher->End(page.status());
        return;
      }
      // The database is away: try again while the watcher waits.
      absl::SleepFor(absl::Milliseconds(200));
      continue;
    }
    if (page->horizon_micros > 0 && page->horizon_micros >= from.since_micros) {
      watcher->End(OutOfRange(
          "the resume_token is older than the change log keeps (--watch_retention)"));
      return;
    }
    Batch batch;
    batch.Read(page->changes, from, upto, types, tables_);
    bool truncated = false;
    for (const auto& event : batch.Events(group, &truncated)) watcher->Send(event);
    if (truncated) {
      watcher->End(OutOfRange(
          absl::StrCat("table ", group.table->schema().quoted_name(), " was truncated")));
      return;
    }
    if (!page->more) return;
    from.upto = upto;
    from.after = page->changes.back().seq;
    // Let the caller read what is queued before reading more.
    while (!watcher->ended() && watcher->queued() > options_.max_queued_bytes / 2) {
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
}

}  // namespace protomodel::server
