#ifndef PROTOMODEL_SERVER_VERBS_WATCH_H_
#define PROTOMODEL_SERVER_VERBS_WATCH_H_

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/message.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "db/changes.h"
#include "db/documents.h"
#include "db/exec/pool.h"
#include "db/sql/filter.h"
#include "db/table.h"
#include "server/transport/auth.h"
#include "server/transport/metrics.h"
#include "server/verbs/plan.h"

namespace protomodel::server {

struct WatchOptions {
  // The change log's database, as the pool's (PoolOptions::url etc.).
  db::PoolOptions database;
  // How often the replica's reader looks for new changes.
  absl::Duration poll = absl::Milliseconds(20);
  // A watcher sent nothing for this long gets a SYNCED (the contract: at
  // least every 10 s).
  absl::Duration bookmark = absl::Seconds(5);
  // Watches open at once, at most; past it RESOURCE_EXHAUSTED.
  int max_watches = 10000;
  // A watcher with more than this queued beyond the message in flight is
  // ended with UNAVAILABLE.
  size_t max_queued_bytes = 16 * 1024 * 1024;
  // How often open watches' tokens are checked again (a tokens-file reload
  // may withdraw them).
  absl::Duration recheck_tokens = absl::Seconds(1);
};

// The watches (Watch<Rs>) of one replica. One reader thread polls the change
// log (db/changes.h) and fans each batch out to every watcher: watchers with
// the same table, filter and read mask share one evaluation and one
// serialized message per change. A watcher resuming from a token first gets
// the changes between its token and the reader's position from a second
// thread, while the reader holds the live ones for it. No thread is a
// watcher's own: each is a gRPC callback reactor with a queue.
class WatchHub {
 public:
  // `tables`: every served table; `tokens`: null when there are none.
  WatchHub(WatchOptions options, const std::vector<const db::Table*>& tables,
           const TokenStore* tokens, Metrics* metrics);
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Serves one call of a Watch method. `request` is the call's, still on
  // the wire; `response_type` the prototype of its streamed message.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Start(
      const MethodPlan& plan, const db::Table& table,
      const google::protobuf::Message& request_type,
      const google::protobuf::Message& response_type, grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request);

  // Serves one call of a Watch<R>Updates method: the document's updates
  // after the request's after_seq, then each one as it commits, in seq
  // order. The reader's round tells which documents changed; each changed
  // document's updates are read once (one statement on its table's
  // pipeline) for all its watchers, a page at a time, and a watcher with a
  // long queue is not sent more until it drains. A watcher the document
  // left behind (compacted or replaced past it) is ended with OUT_OF_RANGE,
  // and every one with NOT_FOUND when the document is deleted.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* StartDocument(
      const MethodPlan& plan, const db::DocumentLog& log,
      const google::protobuf::Message& request_type,
      const google::protobuf::Message& response_type, grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request);

  // A watch call refused with `status` before it began.
  static grpc::ServerWriteReactor<grpc::ByteBuffer>* Refuse(const absl::Status& status);

  // Ends every open watch with UNAVAILABLE (the server is going away: the
  // callers resume elsewhere), and refuses new ones.
  void Drain();

  // Watches open now.
  int open() const;

  class Watcher;
  struct Group;
  struct Document;

 private:
  struct Batch;

  void ReadLoop();
  void CatchUpLoop();
  // One round of the reader: reads what became visible since its position,
  // delivers it to every group (held for watchers still catching up), then
  // lets joining watchers in and sends bookmarks.
  void Poll();
  // Reads the changes a resumed watcher missed, up to the reader's position
  // when it joined.
  void CatchUp(Watcher* watcher);
  // Reads the updates `documents` lack and sends them (each one's
  // `fetching` set).
  void Fetch(const std::vector<Document*>& documents);
  void Fetched(Document* document, absl::StatusOr<db::DocumentLog::Page> page);
  // Marks the documents of `change` to be read again.
  void Touch(const db::Change& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The documents to read now, each marked as being read.
  std::vector<Document*> TakeDirty() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Why a new watch may not open now (the replica drains, or holds
  // --max_watches), or OK.
  absl::Status CanOpen() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // A new watcher of `group` (null for a document's), counted as open.
  Watcher* Open(Group* group, grpc::CallbackServerContext* context, size_t max_queued)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes watchers whose calls are over.
  void Reap() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remove(Watcher* watcher) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EndAll(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const WatchOptions options_;
  const TokenStore* const tokens_;
  Metrics* const metrics_;
  std::map<std::string, const db::Table*> tables_;
  db::Pool pool_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  // The reader's position: every change visible in it has been delivered.
  bool positioned_ ABSL_GUARDED_BY(mu_) = false;
  db::ChangePosition position_ ABSL_GUARDED_BY(mu_);
  // Groups by table, filter and read mask; watchers waiting for the next
  // round, watchers catching up.
  std::map<std::string, std::unique_ptr<Group>> groups_ ABSL_GUARDED_BY(mu_);
  std::vector<Watcher*> joining_ ABSL_GUARDED_BY(mu_);
  // Watched live documents by table name and key ("conversation\n<id>").
  std::map<std::string, std::unique_ptr<Document>> documents_ ABSL_GUARDED_BY(mu_);
  std::deque<Watcher*> catching_up_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_token_check_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::CondVar wake_catch_up_;
  // The reader's last warning that it cannot read the log (its thread's).
  absl::Time last_warning_ = absl::InfinitePast();
  std::thread reader_;
  std::thread catcher_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_WATCH_H_
