#ifndef PROTOMODEL_DB_DOCUMENTS_H_
#define PROTOMODEL_DB_DOCUMENTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/exec/pipeline.h"
#include "db/table.h"

namespace protomodel::db {

// The live documents of one table (the API's "Live CRDT documents"): each
// row's state, and the updates appended since it was last compacted, kept
// in `protomodel_document_updates` by the table's name and the row's key.
//
// The row holds the document's two counters. An append bumps update_seq in
// the row (a row lock held to its commit, so appends to one document commit
// one at a time and take 1, 2, 3, ... in commit order) and stores the update
// under the new value, in one statement. A compaction writes the merged
// state and moves compacted_seq; the table's triggers (db/changes.h) then
// delete the updates at or below it, as they do a deleted row's: the log
// holds exactly the seqs in (compacted_seq, update_seq] of rows that exist.
// Every operation is one statement on the Pipeline.
class DocumentLog {
 public:
  // `table` must have a document (TableSchema::document()).
  DocumentLog(const Table& table, Pipeline& pipeline);

  const TableSchema& schema() const { return table_.schema(); }

  // One stored update, pointing into the Result that holds it.
  struct Entry {
    int64_t seq = 0;
    int64_t created_micros = 0;
    absl::string_view data;
  };

  // The document an append went to, the seq it took and when it was
  // stored: an earlier call's, for a retry with its request_id.
  struct Appended {
    std::string key;
    int64_t seq = 0;
    int64_t created_micros = 0;
  };
  using AppendDone = absl::AnyInvocable<void(absl::StatusOr<Appended> appended) &&>;
  // Appends `data` (1 byte to kMaxBytesValue, checked by the caller; it
  // must outlive the call) to the document `key`. With a `request_id` (a
  // validated lower-case UUID, or ""), a retry stores nothing and answers
  // what the first call took. NOT_FOUND when there is no such row.
  void Append(std::string key, absl::string_view data, std::string request_id, CallLimit limit,
              AppendDone done) const;

  // One append of a batch: its document, its bytes (outliving the call)
  // and its request_id ("" for none).
  struct PendingAppend {
    std::string key;
    absl::string_view data;
    std::string request_id;
  };
  // Appends that arrived together, in one statement: the documents' rows
  // locked in key order, each bumped once by its appends' count, and every
  // update stored, a document's in the order given. Answers each append's
  // outcome (NOT_FOUND for a missing document) when the statement ran, or
  // the statement's error, with nothing written (a request_id recorded
  // before: make them one by one with Append to learn which).
  using AppendedMany =
      absl::AnyInvocable<void(absl::StatusOr<std::vector<absl::StatusOr<Appended>>> each) &&>;
  void AppendMany(std::vector<PendingAppend> appends, CallLimit limit, AppendedMany done) const;
  // The most appends AppendMany takes at once.
  static constexpr size_t kMaxAppendBatch = 64;

  // A document's counters and its updates after a seq, in seq order.
  struct Page {
    int64_t update_seq = 0;
    int64_t compacted_seq = 0;
    std::vector<Entry> updates;
    Result result;  // holds the updates' bytes
  };
  using Read = absl::AnyInvocable<void(absl::StatusOr<Page> page) &&>;
  // The updates of `key` with seq > `after`: at most `max_rows`, and no
  // more bytes than `max_bytes` but for a first update larger than that.
  // NOT_FOUND when there is no such row. Whether the caller may read from
  // `after` is CheckAfter's to say, with the page's counters.
  void ReadUpdates(std::string key, int64_t after, int max_rows, size_t max_bytes,
                   CallLimit limit, Read done) const;

  // Whether updates after `after` can be read from a document with these
  // counters: OUT_OF_RANGE when they were merged into its state (`after` <
  // compacted_seq: read the document again) or are not there yet (`after`
  // > update_seq), naming `field`.
  absl::Status CheckAfter(absl::string_view key, int64_t after, int64_t update_seq,
                          int64_t compacted_seq, absl::string_view field) const;

  // Makes `state` the document's state and compacted_seq `through`, and
  // deletes the updates up to it, in one transaction; fills `out` with the
  // row after it. NOT_FOUND; ABORTED when `through` <= compacted_seq
  // (compacted first by someone else); OUT_OF_RANGE when `through` >
  // update_seq. `state` must outlive the call.
  void Compact(std::string key, int64_t through, absl::string_view state, CallLimit limit,
               google::protobuf::Message* out, Table::Done done) const;

 private:
  // The document `key`'s counters, to explain a compaction that wrote
  // nothing.
  void ExplainCompact(std::string key, int64_t through, CallLimit limit,
                      Table::Done done) const;
  // The append a request_id recorded.
  void FindAppended(std::string request_id, CallLimit limit, AppendDone done) const;

  const Table& table_;
  Pipeline& pipeline_;
  std::vector<const Column*> all_columns_;
  Statement append_;
  // AppendMany's, by the rows it holds (4, 16, 64: the rest padded with
  // NULLs).
  std::vector<std::pair<size_t, Statement>> append_many_;
  Statement find_appended_;
  Statement read_;
  Statement compact_;
  Statement counters_;
};

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_DOCUMENTS_H_
