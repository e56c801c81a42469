#ifndef PROTOMODEL_DB_CHANGES_H_
#define PROTOMODEL_DB_CHANGES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/message.h>
#include <pqxx/connection>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "db/exec/pool.h"
#include "db/schema/schema.h"

namespace protomodel::db {

// The change log that watches read (docs/WATCHES.md). Every served table has
// statement triggers that append each changed row to `protomodel_changes`
// with its transaction (pg_current_xact_id()), its key and the old and new
// values of the columns a filter can name (WatchedColumns). A reader holds a
// snapshot and takes the changes that became visible since it
// (pg_visible_in_snapshot): a transaction that began early and committed
// late is read when it commits, and one long transaction holds nobody back.

// The columns a change records: every column but bytes and JSON (a
// filter names no others), as text.
std::vector<const Column*> WatchedColumns(const TableSchema& table);

// The trigger function and the four triggers (insert, update, delete,
// truncate) that log `table`'s changes, as `CREATE OR REPLACE` statements.
// For a table with a live document they also delete the updates a
// compaction or replace merged (those up to its new compacted_seq) and a
// deleted or truncated row's (db/documents.h).
std::string WatchTriggerSql(const TableSchema& table);

// Makes or remakes the triggers of every table of `schema` that exists and
// lacks them or has them out of date (a column added since); returns the
// tables' names. Part of the server's migration track: run under its lock.
absl::StatusOr<std::vector<std::string>> InstallWatchTriggers(pqxx::connection& conn,
                                                              const Schema& schema);

// The tables of `schema` that exist without up-to-date triggers: what
// `schema check` reports.
absl::StatusOr<std::vector<std::string>> StaleWatchTriggers(pqxx::connection& conn,
                                                            const Schema& schema);

// A position in the log: every change visible in the snapshot `since` has
// been read, and of those visible in `upto` but not in `since`, each whose
// seq is at most `after`. Snapshots are pg_snapshot text ("xmin:xmax:xip,..").
struct ChangePosition {
  std::string since;
  std::string upto;  // "" reads as `since`
  int64_t after = 0;
  // When `since` was taken (statement_timestamp(), which precedes it), in
  // microseconds since the epoch: a position from before the horizon of
  // the pruned log cannot be resumed.
  int64_t since_micros = 0;
};

// One changed row (or a truncated table).
struct Change {
  enum class Op : char { kInsert = 'I', kUpdate = 'U', kDelete = 'D', kTruncate = 'T' };
  int64_t seq = 0;
  std::string table;
  Op op = Op::kInsert;
  std::string key;  // the primary key as text; "" for a truncate
  // JSON objects of WatchedColumns' text, "" where there is none (no old
  // values for an insert, no new ones for a delete).
  std::string old_values;
  std::string new_values;
  int64_t changed_micros = 0;
};

// What one read of the log returns.
struct ChangePage {
  // The snapshot read up to (the given one, or the current one), and when
  // the read began.
  std::string upto;
  int64_t upto_micros = 0;
  // The changes, by seq: visible in `upto`, and not yet read at the
  // position read from.
  std::vector<Change> changes;
  // The page was full: more changes may be visible in `upto`.
  bool more = false;
  // Changes before this time (microseconds) have been pruned: 0 when none.
  int64_t horizon_micros = 0;
};

// The changes after `from` visible in `upto` ("": the current snapshot,
// returned in the page), of `table` ("": every table), at most `limit`.
absl::StatusOr<ChangePage> ReadChanges(Connection& conn, const ChangePosition& from,
                                       const std::string& upto, const std::string& table,
                                       int limit);

// The current snapshot, as a position with nothing after it.
absl::StatusOr<ChangePosition> CurrentPosition(Connection& conn);

// Deletes the changes every reader whose position is younger than
// `retention` has read, and moves the horizon; returns how many were
// deleted. Runs on a connection of its own (off the request path); several
// replicas may call it at once.
absl::StatusOr<int64_t> PruneChanges(pqxx::connection& conn, absl::Duration retention);

// A change's old or new values (a JSON object of WatchedColumns' text) set
// on `out`, a message of `table`'s type. INTERNAL when a value is not what
// its column holds.
absl::Status ReadChangeValues(absl::string_view json, const TableSchema& table,
                              google::protobuf::Message* out);

// A position as a resume token for watches of `table`, and back.
// INVALID_ARGUMENT for a token that is not one, or is another table's.
std::string EncodeResumeToken(const ChangePosition& position, const TableSchema& table);
absl::StatusOr<ChangePosition> DecodeResumeToken(absl::string_view token,
                                                 const TableSchema& table,
                                                 absl::string_view field);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_CHANGES_H_
