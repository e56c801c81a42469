// Update and Delete, with their etag preconditions.
#include "absl/strings/str_cat.h"
#include "db/errors.h"
#include "db/sql/sql_build.h"
#include "server/verbs/checks.h"
#include "server/verbs/crud.h"
#include "server/verbs/pending.h"

namespace protomodel::server {

using google::protobuf::Message;

void Crud::Update(Call* call) const {
  absl::StatusOr<db::Table::UpdateEntry> entry = CheckUpdate(call->plan(), call->mutable_request());
  if (!entry.ok()) return call->Finish(entry.status());
  absl::StatusOr<db::Table::PreparedUpdate> update = table_.PrepareUpdate(
      std::move(entry->key), *entry->resource, entry->columns, std::move(entry->etag));
  if (!update.ok()) return call->Finish(update.status());
  table_.Update(*std::move(update), Limit(call->context()), call->response(), Finisher(call));
}

void Crud::Delete(Call* call) const {
  absl::StatusOr<PreparedDelete> del = PrepareDelete(call->plan(), call->request());
  if (!del.ok()) return call->Finish(del.status());
  table_.Delete(std::move(del->key), std::move(del->etag), Limit(call->context()),
                Finisher(call));
}

absl::StatusOr<db::Table::UpdateEntry> Crud::CheckUpdate(const MethodPlan& plan,
                                                         Message* request) const {
  const db::TableSchema& table = table_.schema();
  // Mutable: its bytes move into the response once written (Table::Echo).
  Message& resource = *request->GetReflection()->MutableMessage(request, plan.resource);
  absl::StatusOr<std::string> key =
      KeyOf(resource, table.primary_key().field, table.primary_key(), table.primary_key().path);
  if (!key.ok()) return key.status();

  std::vector<const db::Column*> columns;
  const std::vector<std::string> mask = MaskPaths(*request, plan.update_mask);
  const bool replace_all = mask.size() == 1 && mask[0] == "*";
  if (mask.size() > 1) {
    for (const std::string& mask_path : mask) {
      if (mask_path == "*") {
        return db::InvalidField("update_mask", db::reason::kInvalidFieldMask,
                                "update_mask: '*' must be the only path");
      }
    }
  }
  if (replace_all || mask.empty()) {
    for (const db::Column& column : table.columns()) {
      if (column.writable() && (replace_all || IsSet(resource, column))) {
        columns.push_back(&column);
      }
    }
  } else {
    absl::StatusOr<std::vector<const db::Column*>> masked =
        MaskColumns(mask, table, "update_mask", true);
    if (!masked.ok()) return masked.status();
    columns = *std::move(masked);
  }
  if (absl::Status s = CheckRequired(resource, columns); !s.ok()) return s;
  std::optional<std::string> etag;
  if (const db::Column* etag_column = table.etag()) {
    std::string value = resource.GetReflection()->GetString(resource, etag_column->field);
    if (!value.empty()) etag = std::move(value);
  }
  db::Table::UpdateEntry entry;
  entry.key = *std::move(key);
  entry.resource = &resource;
  entry.columns = std::move(columns);
  entry.etag = std::move(etag);
  return entry;
}

absl::StatusOr<Crud::PreparedDelete> Crud::PrepareDelete(const MethodPlan& plan,
                                                         const Message& request) const {
  absl::StatusOr<std::string> key =
      KeyOf(request, plan.id, table_.schema().primary_key(), plan.id->name());
  if (!key.ok()) return key.status();
  PreparedDelete del;
  del.key = *std::move(key);
  if (plan.etag != nullptr) {
    std::string value = request.GetReflection()->GetString(request, plan.etag);
    if (!value.empty()) {
      if (absl::Status s = db::CheckEtag(value, plan.etag->name()); !s.ok()) return s;
      del.etag = std::move(value);
    }
  }
  return del;
}

}  // namespace protomodel::server
