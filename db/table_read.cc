#include "db/table.h"

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/strings/str_join.h"
#include "db/errors.h"
#include "db/exec/sql_status.h"
#include "db/rows.h"
#include "db/sql/filter.h"
#include "db/sql/order_by.h"
#include "db/sql/values.h"
#include "db/sql/page_token.h"
#include "db/sql/sql_build.h"
#include "db/sql/values.h"

namespace protomodel::db {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Reads: one row (with its relations in the detailed view), many rows by
// key in one statement, and pages of a List.

void Table::Get(std::string key, bool relations, CallLimit limit, Message* out,
                Done done) const {
  const bool full = relations && !get_full_.sql.empty();
  Params params;
  params.AddText(key);
  std::string what = Describe(key);
  pipeline_.Run(full ? get_full_ : get_, std::move(params), std::move(limit),
                {"get", StatementKind::kRead, std::move(what)},
                [this, key = std::move(key), full, out, done = std::move(done)](
                    absl::StatusOr<Result> result) mutable {
                  std::move(done)(result.ok() ? ReadGot(*result, key, full, out)
                                              : result.status());
                });
}

absl::Status Table::GetAndWait(const std::string& key, const CallLimit& limit,
                               Message* out) const {
  absl::Notification answered;
  absl::Status status;
  Get(key, false, limit, out, [&](absl::Status s) {
    status = std::move(s);
    answered.Notify();
  });
  answered.WaitForNotification();
  return status;
}

std::vector<bool> Table::Returned(const std::vector<const Column*>& asked) const {
  if (asked.empty()) return std::vector<bool>(all_columns_.size(), true);
  std::vector<bool> returned = table_.ColumnSet(asked);
  returned[static_cast<size_t>(table_.ColumnIndex(table_.primary_key()))] = true;
  return returned;
}

absl::Status Table::ReadGot(const Result& result, const std::string& key, bool full,
                            Message* out) const {
  if (result.empty()) return NotFound(key);
  return ReadWithRelations(result, 0, result.size(), 0, all_columns_, full, out);
}

absl::Status Table::ReadWithRelations(const Result& result, size_t begin, size_t end,
                                      size_t offset, const std::vector<const Column*>& columns,
                                      bool full, Message* out) const {
  if (absl::Status s = ReadRow(ResultRow{&result, begin}, offset, columns, out); !s.ok()) {
    return s;
  }
  if (!full) return absl::OkStatus();
  const Reflection* r = out->GetReflection();
  offset += columns.size();
  for (const Relation& relation : table_.relations()) {
    const std::vector<const Column*> related_columns = AllColumns(*relation.target);
    const size_t pk = offset + static_cast<size_t>(relation.target->ColumnIndex(
                                   relation.target->primary_key()));
    for (size_t i = begin; i < end; ++i) {
      const ResultRow row{&result, i};
      if (row[pk].null) break;
      Message* related = relation.field->is_repeated() ? r->AddMessage(out, relation.field)
                                                       : r->MutableMessage(out, relation.field);
      if (absl::Status s = ReadRow(row, offset, related_columns, related); !s.ok()) return s;
      if (!relation.field->is_repeated()) break;
    }
    offset += related_columns.size();
  }
  return absl::OkStatus();
}

void Table::GetMany(std::vector<std::string> keys, CallLimit limit, std::vector<Message*> outs,
                    GotMany done) const {
  Params params;
  params.AddText(ArrayLiteral(keys));
  pipeline_.Run(
      get_many_, std::move(params), std::move(limit),
      {"get", StatementKind::kRead, absl::StrCat("reading ", table_.name())},
      [this, keys = std::move(keys), outs = std::move(outs),
       done = std::move(done)](absl::StatusOr<Result> result) mutable {
        std::vector<bool> found(keys.size(), false);
        if (!result.ok()) return std::move(done)(result.status(), std::move(found));
        const size_t pk = static_cast<size_t>(table_.ColumnIndex(table_.primary_key()));
        for (size_t row = 0; row < result->size(); ++row) {
          const Cell cell = result->cell(row, pk);
          const absl::string_view key(cell.data, cell.size);
          for (size_t i = 0; i < keys.size(); ++i) {
            if (keys[i] != key) continue;
            absl::Status s = ReadRow(ResultRow{&*result, row}, 0, all_columns_, outs[i]);
            if (!s.ok()) return std::move(done)(std::move(s), std::move(found));
            found[i] = true;
          }
        }
        std::move(done)(absl::OkStatus(), std::move(found));
      });
}

namespace {

// An INVALID_ARGUMENT of one part of a List request, about that field.
absl::Status ListFieldError(absl::Status status, absl::string_view field,
                            absl::string_view reason) {
  if (status.code() != absl::StatusCode::kInvalidArgument) return status;
  return AboutField(WithReason(std::move(status), reason), field);
}

}  // namespace

absl::StatusOr<Table::PreparedList> Table::PrepareList(const ListQuery& query) const {
  PreparedList list;
  list.page_size = query.page_size;
  absl::StatusOr<std::vector<OrderKey>> keys = ParseOrderBy(query.order_by, table_);
  if (!keys.ok()) return ListFieldError(keys.status(), "order_by", reason::kInvalidOrderBy);
  list.keys = *std::move(keys);
  list.digest = QueryDigest(table_.name(), query.filter, query.order_by);

  Params& params = list.params;
  std::vector<std::string> conditions;
  if (!query.filter.empty()) {
    absl::StatusOr<FilterNode> filter = ParseFilter(query.filter);
    absl::StatusOr<std::string> sql =
        filter.ok() ? CompileFilter(*filter, table_, &params) : filter.status();
    if (!sql.ok()) return ListFieldError(sql.status(), "filter", reason::kInvalidFilter);
    conditions.push_back(*std::move(sql));
  }
  if (!query.page_token.empty()) {
    absl::StatusOr<protomodel::v1::PageToken> token =
        DecodePageToken(query.page_token, list.digest);
    absl::StatusOr<std::string> after =
        token.ok() ? KeysetSql(list.keys, token->keys(), &params) : token.status();
    if (!after.ok()) {
      return ListFieldError(after.status(), "page_token", reason::kInvalidPageToken);
    }
    conditions.push_back(*std::move(after));
  }

  // The columns read: those asked for, the ordering keys and the key.
  list.wanted = Returned(query.read_columns);
  const std::vector<bool>& wanted = list.wanted;
  std::vector<bool> selected = wanted;
  for (const OrderKey& key : list.keys) {
    selected[static_cast<size_t>(table_.ColumnIndex(*key.column))] = true;
  }
  for (size_t i = 0; i < all_columns_.size(); ++i) {
    if (selected[i]) list.columns.push_back(all_columns_[i]);
  }

  params.AddText(absl::StrCat(query.page_size + 1));
  list.sql = absl::StrCat(
      "SELECT ", SelectList(list.columns, "", ReadForm(table_)), " FROM ", table_.quoted_name(),
      conditions.empty() ? "" : " WHERE ", absl::StrJoin(conditions, " AND "),
      " ORDER BY ", OrderBySql(list.keys, table_.quoted_name()), " LIMIT $", params.size());
  return list;
}

void Table::List(PreparedList list, CallLimit limit, Message* response,
                 const FieldDescriptor* rows, Listed done) const {
  Params params = std::move(list.params);
  const Statement statement{"", std::move(list.sql), ReadForm(table_).binary};
  pipeline_.Run(statement, std::move(params), std::move(limit),
                {"list", StatementKind::kRead, absl::StrCat("listing ", table_.name())},
                [this, list = std::move(list), response, rows, done = std::move(done)](
                    absl::StatusOr<Result> result) mutable {
                  if (!result.ok()) return std::move(done)(result.status());
                  std::move(done)(ReadPage(list, *result, response, rows));
                });
}

absl::StatusOr<std::string> Table::ReadPage(const PreparedList& list, const Result& result,
                                            Message* response,
                                            const FieldDescriptor* rows) const {
  const std::vector<const Column*>& columns = list.columns;
  const std::vector<bool>& wanted = list.wanted;
  const Reflection* r = response->GetReflection();
  size_t bytes = 0;
  int count = 0;
  bool more = result.size() > static_cast<size_t>(list.page_size);
  std::vector<protomodel::v1::KeyValue> last;
  for (size_t i = 0; i < result.size(); ++i) {
    if (count == list.page_size) break;
    Message* out = r->AddMessage(response, rows);
    if (absl::Status s = ReadRow(ResultRow{&result, i}, 0, columns, out); !s.ok()) return s;
    std::vector<protomodel::v1::KeyValue> key_values = KeyValuesOf(*out, list.keys);
    for (const Column* column : columns) {
      if (!wanted[static_cast<size_t>(table_.ColumnIndex(*column))]) {
        out->GetReflection()->ClearField(out, column->field);
      }
    }
    bytes += out->ByteSizeLong();
    if (bytes > kMaxListBytes && count > 0) {
      r->RemoveLast(response, rows);
      more = true;
      break;
    }
    last = std::move(key_values);
    ++count;
  }
  if (!more) return std::string();
  protomodel::v1::PageToken token;
  token.set_query_digest(list.digest);
  for (auto& value : last) *token.add_keys() = std::move(value);
  return EncodePageToken(token);
}

}  // namespace protomodel::db
