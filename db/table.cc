#include "db/table.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "db/errors.h"
#include "db/exec/sql_status.h"
#include "db/rows.h"
#include "db/sql/codec.h"
#include "db/sql/sql_build.h"

namespace protomodel::db {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

Table::Table(const Schema& schema, const TableSchema& table, Pool& pool, Pipeline& pipeline,
             Offload offload)
    : schema_(schema),
      table_(table),
      pool_(pool),
      pipeline_(pipeline),
      offload_(std::move(offload)),
      all_columns_(AllColumns(table)) {
  const RowForm read_form = ReadForm(table);
  write_form_ = WriteForm(table);
  select_list_ = SelectList(all_columns_, "", read_form);
  const bool binary = read_form.binary;
  const std::string& t = table.quoted_name();
  const std::string& pk = table.primary_key().quoted;

  insert_ = {absl::StrCat(table.name(), ".insert"), InsertSql(table), binary};
  insert_recording_ = {absl::StrCat(table.name(), ".insert_recording"),
                       InsertRecordingSql(table), binary};
  find_request_ = {absl::StrCat(table.name(), ".find_request"),
                   "SELECT \"resource_key\" FROM \"protomodel_request_ids\" "
                   "WHERE \"request_id\" = $1 AND \"table_name\" = $2"};
  record_request_ = {absl::StrCat(table.name(), ".record_request"),
                     "INSERT INTO \"protomodel_request_ids\" "
                     "(\"request_id\", \"table_name\", \"resource_key\") VALUES ($1, $2, $3)"};
  get_ = {absl::StrCat(table.name(), ".get"),
          absl::StrCat("SELECT ", select_list_, " FROM ", t, " WHERE ", pk, " = $1"), binary};
  get_many_ = {absl::StrCat(table.name(), ".get_many"), GetManySql(table), binary};
  exists_ = {absl::StrCat(table.name(), ".exists"),
             absl::StrCat("SELECT ", table.etag() ? table.etag()->quoted : pk,
                          " FROM ", t, " WHERE ", pk, " = $1")};
  delete_ = {absl::StrCat(table.name(), ".delete"),
             absl::StrCat("DELETE FROM ", t, " WHERE ", pk, " = $1")};
  batch_delete_ = {absl::StrCat(table.name(), ".batch_delete"), BatchDeleteSql(table)};
  if (table.etag() != nullptr) {
    delete_if_ = {absl::StrCat(table.name(), ".delete_if"),
                  absl::StrCat("DELETE FROM ", t, " WHERE ", pk, " = $1 AND ",
                               table.etag()->quoted, " = $2")};
  }

  // The detailed view: the row and its relations' rows, in one statement.
  if (!table.relations().empty()) {
    const FullViewJoins joins = RelationJoins(table, binary);
    get_full_ = {absl::StrCat(table.name(), ".get_full"),
                 absl::StrCat("SELECT ", SelectList(all_columns_, "\"r\"", read_form), ", ",
                              absl::StrJoin(joins.select, ", "), " FROM ", t, " AS \"r\"",
                              joins.from, " WHERE \"r\".", pk, " = $1",
                              joins.order.empty() ? "" : " ORDER BY ", joins.order),
                 binary};
  }
}

void Table::Echo(const std::vector<const Column*>& echoed, Message* written, Message* out) {
  if (echoed.empty()) return;
  std::vector<const FieldDescriptor*> fields;
  for (const Column* column : echoed) fields.push_back(column->field);
  // `out` holds NULL (cleared) in these fields: swapping moves the bytes.
  out->GetReflection()->SwapFields(written, out, fields);
}

std::string Table::Describe(absl::string_view key) const {
  return absl::StrCat(table_.name(), " ", key);
}

absl::Status Table::NotFound(absl::string_view key) const {
  return AboutResource(absl::NotFoundError(absl::StrCat(Describe(key), " not found")),
                       table_.descriptor()->full_name(), key);
}

absl::Status Table::EtagMismatch(absl::string_view key) const {
  return WithReason(absl::AbortedError(absl::StrCat(
                        Describe(key), ": etag does not match (the ", table_.name(),
                        " was changed since it was read); read it again and retry")),
                    reason::kEtagMismatch);
}

absl::Status Table::Missed(absl::string_view key, bool etag, bool found) const {
  if (!found) return NotFound(key);
  if (etag) return EtagMismatch(key);
  // No etag, and the row is there: only a live document's replace has
  // another condition (db/sql/sql_build.cc, ReplaceDocument).
  return WithReason(
      absl::FailedPreconditionError(absl::StrCat(
          Describe(key), ": updates wait uncompacted (update_seq > compacted_seq); writing ",
          table_.document()->state->path,
          " replaces them: send the etag of the ", table_.name(),
          " you read, or compact first")),
      reason::kEtagRequired);
}

const Column* Table::ViolatedColumn(const absl::Status& status) const {
  const auto [owner, column] = schema_.FindConstraint(ViolatedConstraint(status));
  return owner == &table_ ? column : nullptr;
}

absl::Status Table::Explain(absl::Status status, const Message* resource,
                            absl::string_view key) const {
  const std::string constraint = ViolatedConstraint(status);
  if (constraint.empty()) return status;
  const auto [owner, column] = schema_.FindConstraint(constraint);
  if (owner == nullptr) return status;
  const std::string& field = column->path;
  if (status.code() == absl::StatusCode::kAlreadyExists) {
    absl::Status explained = absl::AlreadyExistsError(absl::StrCat(
        field, ": another ", table_.name(), " already has this value (it must be unique)"));
    status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
      explained.SetPayload(url, payload);
    });
    const std::string value = resource != nullptr ? ValueText(*resource, *column) : "";
    return AboutField(AboutResource(std::move(explained), table_.descriptor()->full_name(),
                                    absl::StrCat(column->name, "=", value)),
                      field);
  }
  if (status.code() != absl::StatusCode::kFailedPrecondition) return status;
  if (owner == &table_ && resource != nullptr) {
    return AboutField(WithReason(absl::FailedPreconditionError(absl::StrCat(
                                     field, ": ", column->references, " ",
                                     ValueText(*resource, *column), " does not exist")),
                                 reason::kReferenceNotFound),
                      field);
  }
  return WithReason(absl::FailedPreconditionError(absl::StrCat(
                        Describe(key), " is still referenced by ", field,
                        "; delete or change those ", owner->name(), " rows first")),
                    reason::kStillReferenced);
}

}  // namespace protomodel::db
