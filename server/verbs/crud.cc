#include "server/verbs/crud.h"

#include <algorithm>
#include <chrono>

#include "server/verbs/pending.h"

namespace protomodel::server {
namespace {

// Point reads of one table done in one statement, at most, and such
// statements under way at once, so that reads arriving meanwhile gather. A
// table with `bytes` columns (CRDT state: rows of megabytes) is read one row
// per statement: its per-statement cost is nothing beside its rows, and one
// result would hold them all at once.
BatchLimits ReadLimits(const db::TableSchema& table, int max_waiting) {
  BatchLimits limits;
  limits.max_queued = static_cast<size_t>(max_waiting);
  for (const db::Column& column : table.columns()) {
    if (column.type == db::ColumnType::kBytes) limits.max_batch = 1;
  }
  return limits;
}

}  // namespace

Crud::Crud(const db::Table& table, absl::Duration default_deadline, int max_waiting,
           RandomText random_text)
    : table_(table),
      default_deadline_(default_deadline),
      random_text_(std::move(random_text)),
      gets_(std::make_unique<Batcher<PendingGet>>(
          ReadLimits(table.schema(), max_waiting),
          [this](std::vector<PendingGet> gets, Finished finished) {
            ReadGets(std::move(gets), std::move(finished));
          })),
      creates_(std::make_unique<Batcher<PendingCreate>>(
          BatchLimits{.max_queued = static_cast<size_t>(max_waiting)},
          [this](std::vector<PendingCreate> creates, Finished finished) {
            InsertCreates(std::move(creates), std::move(finished));
          })) {
  for (const db::Column& column : table.schema().columns()) {
    if (column.writable()) writable_.push_back(&column);
  }
}

db::CallLimit Crud::Limit(grpc::CallbackServerContext* context) const {
  return LimitOf(context, default_deadline_);
}

db::Table::Done Crud::Finisher(Call* call) {
  return [call](absl::Status status) { Answer(call, std::move(status)); };
}

}  // namespace protomodel::server
