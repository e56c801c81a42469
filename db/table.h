#ifndef PROTOMODEL_DB_TABLE_H_
#define PROTOMODEL_DB_TABLE_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include <google/protobuf/message.h>
#include <pqxx/transaction>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "db/sql/order_by.h"
#include "db/sql/params.h"
#include "db/sql/sql_build.h"
#include "db/exec/sql_status.h"
#include "db/exec/pipeline.h"
#include "db/exec/pool.h"
#include "db/schema/schema.h"

namespace protomodel::db {

// A BatchGet's rows stay under this size (the server's 64 MiB message
// limit, less room for the rest): past it the call fails, pointing at
// read_mask.
inline constexpr size_t kMaxBatchGetBytes = 64 * 1024 * 1024 - 64 * 1024;

// A batch holds at most this many entries.
inline constexpr size_t kMaxBatchEntries = 1000;

// A statement takes at most this many parameters (the protocol's limit).
inline constexpr size_t kMaxStatementParams = 65535;

// A List response stays under this size: past it fewer rows come back (at
// least one) with a token for the rest.
inline constexpr size_t kMaxListBytes = 16 * 1024 * 1024 - 64 * 1024;

// One List call, already checked for ranges by the caller.
struct ListQuery {
  int page_size = 50;          // 1..1000
  absl::string_view page_token;
  absl::string_view filter;
  absl::string_view order_by;
  // The columns to return (the primary key always comes back); empty: all.
  std::vector<const Column*> read_columns;
};

// Reads and writes one table's rows as messages, through Protobuf reflection.
// SQL for the standard operations is built once, here; statements are
// prepared per connection. Every value travels as a parameter. Keys are in
// text form, already validated (integers > 0, lower-case UUIDs).
//
// Each operation is one statement on the Pipeline and answers through its
// callback (run on the pipeline's thread, or at once on the caller's), so
// no thread waits for the database. The exception is a create retried with
// its request_id, which reads and writes in one transaction: that work goes
// to `offload` (threads that may block) and runs on the Pool.
class Table {
 public:
  // Runs blocking work off the caller's thread.
  using Offload = std::function<void(absl::AnyInvocable<void() &&> work)>;
  // What an operation answers with.
  using Done = absl::AnyInvocable<void(absl::Status status) &&>;

  Table(const Schema& schema, const TableSchema& table, Pool& pool, Pipeline& pipeline,
        Offload offload);

  const TableSchema& schema() const { return table_; }

  // Inserts the writable columns of `resource` and fills `out` with the row
  // as stored (server-set fields included). With a `request_id` (a validated
  // lower-case UUID), the insert and the request_id are committed together,
  // and a later Insert with the same request_id inserts nothing and fills
  // `out` with the row the first one created (AIP-155).
  // `resource` must outlive the call; on success its bytes fields have
  // moved into `out` (WriteForm's echoed columns: they do not come back
  // from the database).
  void Insert(google::protobuf::Message* resource, const std::string& request_id,
              CallLimit limit, google::protobuf::Message* out, Done done) const;
  // Insert with `params` already bound from `resource` (BindWritable), so
  // that a create whose values were checked by binding them binds them once.
  void InsertBound(google::protobuf::Message* resource, Params params,
                   const std::string& request_id, CallLimit limit,
                   google::protobuf::Message* out, Done done) const;

  // One create of a batch: its writable columns bound (BindWritable), its
  // request_id ("" for none) and where the row as stored goes.
  struct PendingInsert {
    Params params;
    std::string request_id;
    google::protobuf::Message* resource = nullptr;  // what `params` were bound from
    google::protobuf::Message* out = nullptr;
  };

  // Several creates in one statement, and so one transaction: every row with
  // its request_id, or nothing. A constraint violation (a request_id already
  // recorded, a unique clash, a missing reference) fails the whole batch,
  // not yet explained: make its creates one by one with Insert to learn
  // which fail and why.
  void InsertMany(std::vector<PendingInsert> rows, CallLimit limit, Done done) const;

  // The row with primary key `key`; with `relations`, also its relationship
  // fields (one round trip). NOT_FOUND naming the resource when absent.
  void Get(std::string key, bool relations, CallLimit limit, google::protobuf::Message* out,
           Done done) const;
  // Get, waiting for the answer: for work that runs on offloaded threads.
  absl::Status GetAndWait(const std::string& key, const CallLimit& limit,
                          google::protobuf::Message* out) const;

  // Several point reads in one statement and one round trip: for each i,
  // fills outs[i] with the row whose primary key is keys[i] and sets
  // found[i]; keys may repeat. The status is the statement's, OK even when
  // some rows are absent.
  using GotMany = absl::AnyInvocable<void(absl::Status status, std::vector<bool> found) &&>;
  void GetMany(std::vector<std::string> keys, CallLimit limit,
               std::vector<google::protobuf::Message*> outs, GotMany done) const;

  // A List checked and turned into its statement, touching no database:
  // INVALID_ARGUMENT about `filter`, `order_by` or `page_token`.
  struct PreparedList {
    std::string sql;
    Params params;
    int page_size = 0;
    std::vector<OrderKey> keys;
    std::string digest;             // of the filter and order, in page tokens
    std::vector<const Column*> columns;  // selected: asked for, keys, ordering
    std::vector<bool> wanted;       // by column index: returned to the caller
  };
  absl::StatusOr<PreparedList> PrepareList(const ListQuery& query) const;

  // Appends a page of rows to the repeated field `rows` of `response` and
  // answers the next page token ("" on the last page).
  using Listed = absl::AnyInvocable<void(absl::StatusOr<std::string> next_page_token) &&>;
  void List(PreparedList list, CallLimit limit, google::protobuf::Message* response,
            const google::protobuf::FieldDescriptor* rows, Listed done) const;

  // An update of `columns` of `resource` (which must outlive it) to the row
  // `key`, checked and bound, touching no database: INVALID_ARGUMENT about
  // the field whose value cannot be stored. `etag` is ignored for a table
  // without one.
  struct PreparedUpdate {
    std::string key;
    google::protobuf::Message* resource = nullptr;
    std::optional<std::string> etag;
    std::optional<Statement> statement;  // none: nothing to write
    Params params;
    std::vector<const Column*> echoed;  // WriteForm's: moved from `resource`
  };
  absl::StatusOr<PreparedUpdate> PrepareUpdate(std::string key,
                                               google::protobuf::Message& resource,
                                               const std::vector<const Column*>& columns,
                                               std::optional<std::string> etag) const;

  // Runs `update` and fills `out` with the row after it. With an etag, the
  // row must still carry it (ABORTED otherwise, nothing written). NOT_FOUND
  // when absent.
  void Update(PreparedUpdate update, CallLimit limit, google::protobuf::Message* out,
              Done done) const;

  // Deletes the row `key`; with `etag` (checked by CheckEtag), only if it
  // still carries it.
  void Delete(std::string key, std::optional<std::string> etag, CallLimit limit,
              Done done) const;

  // Batches (AIP-231, 233, 234, 235). Each is one statement, so one
  // transaction, whose rows move in sets. When the database refuses one (a
  // constraint, a missing row, an etag), its entries are replayed one at a
  // time in one transaction on the Pool, on an offloaded thread, to find
  // the first at fault in request order: the call fails with its error,
  // under `entries[i]` ("requests[3]: hero.name: ..."), and nothing is
  // written (or, when none fails any more, the replay is committed). A batch
  // too large for one statement's parameters runs that way from the start.

  // The rows whose keys are `keys`, in order, a key as often as it is
  // there, into outs[i]: the columns `asked` for (a read mask's) and the
  // key, every one when none is asked for; with `relations` the detailed
  // view too. NOT_FOUND about the first missing
  // key; RESOURCE_EXHAUSTED when the large values asked for pass
  // kMaxBatchGetBytes.
  void BatchGet(std::vector<std::string> keys, const std::vector<const Column*>& asked, bool relations,
                std::string entries, CallLimit limit, std::vector<google::protobuf::Message*> outs,
                Done done) const;

  // One create of a batch: PendingInsert's, and the random columns the
  // server drew for it (drawn again, by `redraw`, when one clashes).
  struct BatchInsertEntry {
    PendingInsert insert;
    std::vector<const Column*> drawn;
  };
  using Redraw = std::function<void(const Column& column, google::protobuf::Message* resource)>;
  // Inserts every entry, or none. An entry whose request_id is recorded
  // comes back as stored and is not made again.
  void BatchInsert(std::vector<BatchInsertEntry> rows, Redraw redraw, std::string entries,
                   CallLimit limit, Done done) const;
  // BatchInsert's statement: first as if no request_id were recorded yet
  // (each is checked as it is recorded), then, when one is, finding those.
  void RunBatchInsert(std::shared_ptr<std::vector<BatchInsertEntry>> batch, bool find_recorded,
                      std::function<absl::Status()> replay, CallLimit limit, Done done) const;

  // One update of a batch, checked: Update's, the columns it writes, and
  // where the row after it goes.
  struct UpdateEntry {
    std::string key;
    google::protobuf::Message* resource = nullptr;
    std::vector<const Column*> columns;
    std::optional<std::string> etag;
    google::protobuf::Message* out = nullptr;
  };
  // A batch update bound, touching no database: INVALID_ARGUMENT about the
  // first entry (under `entries[i]`) with a value that cannot be stored.
  struct PreparedBatchUpdate {
    std::vector<UpdateEntry> entries;
    std::string entries_name;
    std::vector<const Column*> columns;  // written by any entry, in table order
    // By entry: the bytes columns it writes, which come back NULL (WriteForm).
    std::vector<std::vector<const Column*>> echoed;
    std::string sql;                     // "" when it runs as a replay
    Params params;
  };
  absl::StatusOr<PreparedBatchUpdate> PrepareBatchUpdate(std::vector<UpdateEntry> entries,
                                                         std::string entries_name) const;
  void BatchUpdate(PreparedBatchUpdate batch, CallLimit limit, Done done) const;

  // One delete of a batch: its key and etag.
  struct DeleteEntry {
    std::string key;
    std::optional<std::string> etag;
  };
  void BatchDelete(std::vector<DeleteEntry> entries, std::string entries_name, CallLimit limit,
                   Done done) const;

  // The column whose unique or foreign-key constraint a failed write of this
  // table violated, or nullptr.
  const Column* ViolatedColumn(const absl::Status& status) const;

  // "book 7": how messages name a row.
  std::string Describe(absl::string_view key) const;
  // NOT_FOUND: "book 7 not found".
  absl::Status NotFound(absl::string_view key) const;

 private:
  // Runs one INSERT ... RETURNING statement; `done` gets its status, not
  // yet explained.
  void InsertRow(const Statement& statement, Params params, CallLimit limit,
                 google::protobuf::Message* resource, google::protobuf::Message* out,
                 Done done) const;
  // The statement inserting `rows` at once (InsertBatchSql, finding rows
  // made earlier by their request_ids or not), their parameters moved to
  // `params`; nullptr (and nothing moved) when they are more than a
  // statement takes.
  const Statement* InsertBatch(std::vector<PendingInsert*> rows, Params* params,
                               bool find_recorded) const;
  // Fills each row's `out` from InsertBatchSql's result; NOT_FOUND when a
  // row found by its request_id is gone.
  absl::Status ReadInserted(const Result& result, const std::vector<PendingInsert*>& rows) const;
  // The primary key of `row`, as text.
  std::string KeyText(const google::protobuf::Message& row) const;
  // A create retried with its request_id: in one transaction on the Pool,
  // on an offloaded thread.
  absl::Status InsertCarefully(google::protobuf::Message* resource,
                               const std::string& request_id, const CallLimit& limit,
                               google::protobuf::Message* out) const;
  // Moves `echoed` columns (returned as NULL: WriteForm) from what was
  // `written` into `out`.
  static void Echo(const std::vector<const Column*>& echoed, google::protobuf::Message* written,
                   google::protobuf::Message* out);
  // Fills `response` with a List's page; the next page token.
  absl::StatusOr<std::string> ReadPage(const PreparedList& list, const Result& result,
                                       google::protobuf::Message* response,
                                       const google::protobuf::FieldDescriptor* rows) const;
  // The columns a read returns, by index: those `asked` for (a read mask's)
  // and the key; every one when none is asked for.
  std::vector<bool> Returned(const std::vector<const Column*>& asked) const;
  // Fills `out` from a Get's rows.
  absl::Status ReadGot(const Result& result, const std::string& key, bool full,
                       google::protobuf::Message* out) const;
  // Fills `out` from rows [begin, end) of `result` that hold one row of
  // this table (`columns`, from column `offset`) and, with `full`, its
  // relations' rows after them.
  absl::Status ReadWithRelations(const Result& result, size_t begin, size_t end, size_t offset,
                                 const std::vector<const Column*>& columns, bool full,
                                 google::protobuf::Message* out) const;
  // Runs `body` in a transaction on the Pool, committing when it returns
  // OK: for work on offloaded threads.
  using TransactionBody = std::function<absl::Status(Connection& conn, pqxx::work& tx)>;
  absl::Status InTransaction(const CallLimit& limit, const char* op, absl::string_view what,
                             const TransactionBody& body) const;
  // The replays of a batch (see BatchGet): each entry's own statement, in
  // order, in one transaction; the first error stops it, under its entry.
  absl::Status ReplayInserts(std::vector<BatchInsertEntry>& rows, const Redraw& redraw,
                             absl::string_view entries, const CallLimit& limit) const;
  absl::Status ReplayUpdates(const PreparedBatchUpdate& batch, const CallLimit& limit) const;
  absl::Status ReplayDeletes(const std::vector<DeleteEntry>& entries, absl::string_view name,
                             const CallLimit& limit) const;
  // Inside `tx`: the row an earlier call made with `insert.request_id`, as
  // stored now, or, when none did, `insert`'s row made now (in a savepoint)
  // with its request_id recorded. A random value the server drew (one of
  // `drawn`) that clashes is drawn again by `redraw`; a concurrent create
  // with the same request_id that commits first is found on the next try.
  absl::Status InsertOnceIn(Connection& conn, pqxx::work& tx, PendingInsert& insert,
                            const std::vector<const Column*>& drawn,
                            const Redraw& redraw) const;
  // Why a conditional write of `key` touched no row: NOT_FOUND unless the
  // row is `found`; ABORTED with an `etag`; otherwise FAILED_PRECONDITION
  // (a live document replaced without an etag while updates wait).
  absl::Status Missed(absl::string_view key, bool etag, bool found) const;
  // Missed, for a write of `key` that touched no row, asked inside `tx`.
  absl::Status MissedIn(Connection& conn, pqxx::work& tx, const std::string& key,
                        const std::optional<std::string>& etag) const;
  // Runs `replay` on an offloaded thread and answers `done` with it.
  void RunOffloaded(std::function<absl::Status()> replay, Done done) const;
  // ABORTED: the row no longer carries the etag the caller read.
  absl::Status EtagMismatch(absl::string_view key) const;
  // Missed, after a conditional write touched no row: asks whether the
  // row is there.
  void MissedWrite(std::string key, std::optional<std::string> etag, CallLimit limit,
                   Done done) const;
  // Names the field or resource at fault in a constraint violation.
  absl::Status Explain(absl::Status status,
                       const google::protobuf::Message* resource,
                       absl::string_view key) const;

  const Schema& schema_;
  const TableSchema& table_;
  Pool& pool_;
  Pipeline& pipeline_;
  const Offload offload_;
  std::vector<const Column*> all_columns_;
  RowForm write_form_;  // of inserts
  std::string select_list_;  // all columns, unqualified
  Statement insert_;
  Statement insert_recording_;
  Statement find_request_;
  Statement record_request_;
  Statement get_;
  Statement get_many_;
  Statement get_full_;
  Statement exists_;
  Statement delete_;
  Statement delete_if_;
  Statement batch_delete_;
  // BatchGetStatement's, by the columns returned and the view, made on
  // first use.
  mutable absl::Mutex batch_gets_mu_;
  mutable std::map<std::pair<std::vector<bool>, bool>, Statement> batch_gets_
      ABSL_GUARDED_BY(batch_gets_mu_);
  // InsertBatchSql's statements, made on first use.
  mutable absl::Mutex insert_batches_mu_;
  // By row count and whether rows are found by their request_ids.
  mutable std::map<std::pair<size_t, bool>, Statement> insert_batches_
      ABSL_GUARDED_BY(insert_batches_mu_);
};

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_TABLE_H_
