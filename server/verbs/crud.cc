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
BatchLimits ReadLimits(const db::TableSchema& table) {
  BatchLimits limits;
  for (const db::Column& column : table.columns()) {
    if (column.type == db::ColumnType::kBytes) limits.max_batch = 1;
  }
  return limits;
}

}  // namespace

Crud::Crud(const db::Table& table, Executor& executor, absl::Duration default_deadline,
           RandomText random_text)
    : table_(table),
      executor_(executor),
      default_deadline_(default_deadline),
      random_text_(std::move(random_text)),
      gets_(std::make_unique<Batcher<PendingGet>>(
          executor, ReadLimits(table.schema()),
          [this](std::vector<PendingGet> gets) { ReadGets(std::move(gets)); })),
      creates_(std::make_unique<Batcher<PendingCreate>>(
          executor, BatchLimits{},
          [this](std::vector<PendingCreate> creates) { InsertCreates(std::move(creates)); })) {
  for (const db::Column& column : table.schema().columns()) {
    if (column.writable()) writable_.push_back(&column);
  }
}

db::CallLimit Crud::Limit(grpc::CallbackServerContext* context) const {
  const auto deadline = context->deadline();
  absl::Time limit = absl::Now() + default_deadline_;
  if (deadline != std::chrono::system_clock::time_point::max()) {
    limit = std::min(absl::FromChrono(deadline), limit);
  }
  return db::CallLimit(limit, [context] { return context->IsCancelled(); });
}

void Crud::Enqueue(Call* call, Work work) const {
  const bool queued = executor_.Submit(
      [call, limit = Limit(call->context()), work = std::move(work)]() mutable {
        absl::Status status = Unstarted(call->context(), limit);
        if (status.ok()) status = Settled(call->context(), work(limit));
        call->Finish(status);
      });
  if (!queued) call->Finish(Overloaded());
}

}  // namespace protomodel::server
