// The batch verbs (AIP-231, 233, 234, 235): every entry checked as its
// single call's request is, in order, before any database work (the first
// invalid entry's error wins, under `requests[i]` or `ids[i]`); then one
// statement for all of them (db::Table's batches).
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "db/errors.h"
#include "db/sql/sql_build.h"
#include "server/verbs/checks.h"
#include "server/verbs/crud.h"
#include "server/verbs/pending.h"

namespace protomodel::server {
namespace {

using google::protobuf::Message;
using google::protobuf::Reflection;

// The number of entries of a batch call: 1 to kMaxBatchEntries, or
// INVALID_ARGUMENT about the entries' field.
absl::StatusOr<int> EntryCount(const Call& call) {
  const Message& request = call.request();
  const std::string& name = call.plan().entries->name();
  const int n = request.GetReflection()->FieldSize(request, call.plan().entries);
  if (n < 1 || static_cast<size_t>(n) > db::kMaxBatchEntries) {
    return db::InvalidField(name, db::reason::kInvalidField,
                            absl::StrCat(name, ": a batch holds 1 to ", db::kMaxBatchEntries,
                                         " entries, not ", n));
  }
  return n;
}

// "requests[3]".
std::string EntryName(const Call& call, int i) {
  return absl::StrCat(call.plan().entries->name(), "[", i, "]");
}

// The entry `i` of a batch call's request.
Message* Entry(Call* call, int i) {
  Message* request = call->mutable_request();
  return request->GetReflection()->MutableRepeatedMessage(request, call->plan().entries, i);
}

// `n` new rows of the response, in order.
std::vector<Message*> AddRows(Call* call, int n) {
  Message* response = call->response();
  const Reflection* r = response->GetReflection();
  std::vector<Message*> rows;
  for (int i = 0; i < n; ++i) rows.push_back(r->AddMessage(response, call->plan().rows));
  return rows;
}

// Remembers the entries' keys (ids, request_ids): INVALID_ARGUMENT about
// the second entry naming one.
class Distinct {
 public:
  explicit Distinct(absl::string_view what) : what_(what) {}

  absl::Status Add(const std::string& value, const std::string& entry, absl::string_view path) {
    const auto [it, added] = seen_.try_emplace(value, entry);
    if (added) return absl::OkStatus();
    const std::string field = path.empty() ? entry : absl::StrCat(entry, ".", path);
    return db::InvalidField(field, db::reason::kInvalidField,
                            absl::StrCat(field, ": the same ", what_, " as ", it->second,
                                         " (each may appear once in a batch)"));
  }

 private:
  const std::string what_;
  absl::flat_hash_map<std::string, std::string> seen_;
};

}  // namespace

void Crud::BatchGet(Call* call) const {
  const MethodPlan& plan = call->plan();
  const Message& request = call->request();
  absl::StatusOr<int> n = EntryCount(*call);
  if (!n.ok()) return call->Finish(n.status());
  std::vector<std::string> keys;
  for (int i = 0; i < *n; ++i) {
    const std::string entry = EntryName(*call, i);
    absl::StatusOr<std::string> key =
        KeyOf(request, plan.entries, table_.schema().primary_key(), entry, i);
    if (!key.ok()) return call->Finish(key.status());
    keys.push_back(*std::move(key));
  }
  absl::StatusOr<bool> full = FullView(plan, request);
  if (!full.ok()) return call->Finish(full.status());
  absl::StatusOr<std::vector<const db::Column*>> asked = ReadMask(plan, request);
  if (!asked.ok()) return call->Finish(asked.status());
  table_.BatchGet(std::move(keys), *asked, *full, plan.entries->name(),
                  Limit(call->context()), AddRows(call, *n), [call](absl::Status status) {
                    // The relations of the detailed view are not in the
                    // database's size count: the whole response is.
                    if (status.ok() && call->response()->ByteSizeLong() > db::kMaxBatchGetBytes) {
                      status = absl::ResourceExhaustedError(absl::StrCat(
                          "the response would pass the ", db::kMaxBatchGetBytes / (1024 * 1024),
                          " MiB a response may carry: ask for fewer ids, or leave the large "
                          "fields out with read_mask"));
                    }
                    Answer(call, std::move(status));
                  });
}

void Crud::BatchCreate(Call* call) const {
  const MethodPlan& plan = call->plan();
  absl::StatusOr<int> n = EntryCount(*call);
  if (!n.ok()) return call->Finish(n.status());
  const std::vector<Message*> outs = AddRows(call, *n);
  std::vector<db::Table::BatchInsertEntry> rows;
  Distinct request_ids("request_id");
  for (int i = 0; i < *n; ++i) {
    const std::string entry = EntryName(*call, i);
    absl::StatusOr<PreparedCreate> create = PrepareCreate(plan, Entry(call, i), true);
    if (!create.ok()) return call->Finish(db::UnderField(create.status(), entry));
    db::Params params;
    if (absl::Status s = db::BindWritable(table_.schema(), *create->resource, &params); !s.ok()) {
      return call->Finish(db::UnderField(std::move(s), entry));
    }
    if (!create->request_id.empty()) {
      absl::Status s = request_ids.Add(create->request_id, entry, plan.request_id->name());
      if (!s.ok()) return call->Finish(s);
    }
    db::Table::BatchInsertEntry row;
    row.insert = {std::move(params), std::move(create->request_id), create->resource, outs[i]};
    row.drawn = std::move(create->drawn);
    rows.push_back(std::move(row));
  }
  table_.BatchInsert(
      std::move(rows),
      [this](const db::Column& column, Message* resource) { Draw(column, resource); },
      plan.entries->name(), Limit(call->context()), Finisher(call));
}

void Crud::BatchUpdate(Call* call) const {
  const MethodPlan& plan = call->plan();
  absl::StatusOr<int> n = EntryCount(*call);
  if (!n.ok()) return call->Finish(n.status());
  const std::vector<Message*> outs = AddRows(call, *n);
  std::vector<db::Table::UpdateEntry> entries;
  Distinct ids("id");
  // The first entry that fails its checks; the values of those before it
  // are checked as they are bound, and an earlier fault there comes first.
  absl::Status invalid;
  for (int i = 0; i < *n && invalid.ok(); ++i) {
    const std::string entry = EntryName(*call, i);
    absl::StatusOr<db::Table::UpdateEntry> update = CheckUpdate(plan, Entry(call, i));
    if (!update.ok()) {
      invalid = db::UnderField(update.status(), entry);
      break;
    }
    invalid = ids.Add(update->key, entry, table_.schema().primary_key().path);
    if (!invalid.ok()) break;
    update->out = outs[i];
    entries.push_back(*std::move(update));
  }
  absl::StatusOr<db::Table::PreparedBatchUpdate> batch =
      table_.PrepareBatchUpdate(std::move(entries), plan.entries->name());
  if (!batch.ok()) return call->Finish(batch.status());
  if (!invalid.ok()) return call->Finish(invalid);
  table_.BatchUpdate(*std::move(batch), Limit(call->context()), Finisher(call));
}

void Crud::BatchDelete(Call* call) const {
  const MethodPlan& plan = call->plan();
  absl::StatusOr<int> n = EntryCount(*call);
  if (!n.ok()) return call->Finish(n.status());
  std::vector<db::Table::DeleteEntry> entries;
  Distinct ids("id");
  for (int i = 0; i < *n; ++i) {
    const std::string entry = EntryName(*call, i);
    absl::StatusOr<PreparedDelete> del = PrepareDelete(plan, *Entry(call, i));
    if (!del.ok()) return call->Finish(db::UnderField(del.status(), entry));
    if (absl::Status s = ids.Add(del->key, entry, plan.id->name()); !s.ok()) {
      return call->Finish(s);
    }
    entries.push_back({std::move(del->key), std::move(del->etag)});
  }
  table_.BatchDelete(std::move(entries), plan.entries->name(), Limit(call->context()),
                     Finisher(call));
}

}  // namespace protomodel::server
