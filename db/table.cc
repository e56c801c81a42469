#include "db/table.h"

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "db/errors.h"
#include "db/filter.h"
#include "db/order_by.h"
#include "db/page_token.h"
#include "db/sql_build.h"
#include "db/sql_status.h"
#include "db/values.h"

namespace protomodel::db {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::util::TimeUtil;

absl::Status BadValue(const Column& column) {
  return absl::InternalError(
      absl::StrCat("column ", column.name, ": unexpected value from the database"));
}

// Sets one field from its text-format value.
absl::Status ReadColumn(const pqxx::field& value, const Column& column,
                        Message* out) {
  const Reflection* r = out->GetReflection();
  const FieldDescriptor* f = column.field;
  if (value.is_null()) {
    r->ClearField(out, f);
    return absl::OkStatus();
  }
  const absl::string_view text(value.c_str(), value.size());
  switch (column.type) {
    case ColumnType::kBool:
      r->SetBool(out, f, text == "t");
      return absl::OkStatus();
    case ColumnType::kInt32: {
      int32_t v = 0;
      if (!absl::SimpleAtoi(text, &v)) return BadValue(column);
      r->SetInt32(out, f, v);
      return absl::OkStatus();
    }
    case ColumnType::kInt64: {
      int64_t v = 0;
      if (!absl::SimpleAtoi(text, &v)) return BadValue(column);
      r->SetInt64(out, f, v);
      return absl::OkStatus();
    }
    case ColumnType::kFloat: {
      float v = 0;
      if (!absl::SimpleAtof(text, &v)) return BadValue(column);
      r->SetFloat(out, f, v);
      return absl::OkStatus();
    }
    case ColumnType::kDouble: {
      double v = 0;
      if (!absl::SimpleAtod(text, &v)) return BadValue(column);
      r->SetDouble(out, f, v);
      return absl::OkStatus();
    }
    case ColumnType::kString:
    case ColumnType::kUuid:
      r->SetString(out, f, std::string(text));
      return absl::OkStatus();
    case ColumnType::kBytes: {
      std::string bytes;
      if (!DecodeByteaHex(text, &bytes)) return BadValue(column);
      r->SetString(out, f, std::move(bytes));
      return absl::OkStatus();
    }
    case ColumnType::kTimestamp: {
      int64_t micros = 0;
      if (!absl::SimpleAtoi(text, &micros)) return BadValue(column);
      r->MutableMessage(out, f)->CopyFrom(TimeUtil::MicrosecondsToTimestamp(micros));
      return absl::OkStatus();
    }
  }
  return BadValue(column);
}

// Reads `columns` from `row`, starting at field `offset`.
absl::Status ReadRow(const pqxx::row& row, size_t offset,
                     const std::vector<const Column*>& columns, Message* out) {
  for (size_t i = 0; i < columns.size(); ++i) {
    absl::Status s = ReadColumn(row[static_cast<pqxx::row::size_type>(offset + i)],
                                *columns[i], out);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// The value of a key or text column of `resource`, as messages show it.
std::string ValueText(const Message& resource, const Column& column) {
  const Reflection* r = resource.GetReflection();
  switch (column.field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(r->GetInt64(resource, column.field));
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(r->GetInt32(resource, column.field));
    case FieldDescriptor::CPPTYPE_STRING:
      return column.type == ColumnType::kBytes ? "" : r->GetString(resource, column.field);
    default:
      return "";
  }
}

std::vector<const Column*> AllColumns(const TableSchema& table) {
  std::vector<const Column*> columns;
  for (const Column& column : table.columns()) columns.push_back(&column);
  return columns;
}

}  // namespace

Table::Table(const Schema& schema, const TableSchema& table, Pool& pool)
    : schema_(schema), table_(table), pool_(pool), all_columns_(AllColumns(table)) {
  select_list_ = SelectList(all_columns_, "");
  const std::string& t = table.quoted_name();
  const std::string& pk = table.primary_key().quoted;

  insert_ = {absl::StrCat(table.name(), ".insert"), InsertSql(table)};
  insert_recording_ = {absl::StrCat(table.name(), ".insert_recording"),
                       InsertRecordingSql(table)};
  find_request_ = {absl::StrCat(table.name(), ".find_request"),
                   "SELECT \"resource_key\" FROM \"protomodel_request_ids\" "
                   "WHERE \"request_id\" = $1 AND \"table_name\" = $2"};
  record_request_ = {absl::StrCat(table.name(), ".record_request"),
                     "INSERT INTO \"protomodel_request_ids\" "
                     "(\"request_id\", \"table_name\", \"resource_key\") VALUES ($1, $2, $3)"};
  get_ = {absl::StrCat(table.name(), ".get"),
          absl::StrCat("SELECT ", select_list_, " FROM ", t, " WHERE ", pk, " = $1")};
  get_many_ = {absl::StrCat(table.name(), ".get_many"), GetManySql(table)};
  exists_ = {absl::StrCat(table.name(), ".exists"),
             absl::StrCat("SELECT ", table.etag() ? table.etag()->quoted : pk,
                          " FROM ", t, " WHERE ", pk, " = $1")};
  delete_ = {absl::StrCat(table.name(), ".delete"),
             absl::StrCat("DELETE FROM ", t, " WHERE ", pk, " = $1")};
  if (table.etag() != nullptr) {
    delete_if_ = {absl::StrCat(table.name(), ".delete_if"),
                  absl::StrCat("DELETE FROM ", t, " WHERE ", pk, " = $1 AND ",
                               table.etag()->quoted, " = $2")};
  }

  // The detailed view: the row, each singular relation by a LEFT JOIN and
  // the repeated one (at most one) by a LATERAL join, in one statement.
  if (!table.relations().empty()) {
    std::vector<std::string> select = {SelectList(all_columns_, "r")};
    std::string from = absl::StrCat(t, " AS r");
    std::string order;
    for (size_t i = 0; i < table.relations().size(); ++i) {
      const Relation& relation = table.relations()[i];
      const TableSchema& target = *relation.target;
      const std::string alias = absl::StrCat("j", i);
      select.push_back(SelectList(AllColumns(target), alias));
      if (!relation.field->is_repeated()) {
        absl::StrAppend(&from, " LEFT JOIN ", target.quoted_name(), " AS ", alias,
                        " ON ", alias, ".", target.primary_key().quoted, " = r.",
                        relation.local->quoted);
      } else {
        absl::StrAppend(&from, " LEFT JOIN LATERAL (SELECT * FROM ",
                        target.quoted_name(), " WHERE ", relation.remote->quoted,
                        " = r.", pk, " ORDER BY ", target.primary_key().quoted,
                        " LIMIT ", relation.limit, ") AS ", alias, " ON true");
        order = absl::StrCat(" ORDER BY ", alias, ".", target.primary_key().quoted);
      }
    }
    get_full_ = {absl::StrCat(table.name(), ".get_full"),
                 absl::StrCat("SELECT ", absl::StrJoin(select, ", "), " FROM ", from,
                              " WHERE r.", pk, " = $1", order)};
  }
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
  const std::string field = absl::StrCat(owner->name(), ".", column->name);
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

absl::Status Table::Insert(const Message& resource, const std::string& request_id,
                           const CallLimit& limit, Message* out) const {
  if (!request_id.empty()) return InsertOnce(resource, request_id, limit, out);
  Params params;
  if (absl::Status s = BindWritable(table_, resource, &params); !s.ok()) return s;
  return Explain(InsertRow(insert_, std::move(params), limit, out), &resource, "");
}

absl::StatusOr<pqxx::result> Table::RunAlone(const Statement& statement, Params params,
                                             const CallLimit& limit, const char* op,
                                             WriteKind kind, absl::string_view what) const {
  absl::StatusOr<Pool::Lease> conn = pool_.Acquire(limit, op);
  if (!conn.ok()) return conn.status();
  try {
    pqxx::nontransaction tx((*conn)->raw());
    return (*conn)->Exec(tx, statement, std::move(params));
  } catch (const std::exception& e) {
    return StatusFromException(e, kind, what);
  }
}

absl::Status Table::InsertRow(const Statement& statement, Params params,
                              const CallLimit& limit, Message* out) const {
  absl::StatusOr<pqxx::result> result =
      RunAlone(statement, std::move(params), limit, "insert", WriteKind::kWrite,
               absl::StrCat("creating ", table_.name()));
  if (!result.ok()) return result.status();
  if (result->empty()) return BadValue(table_.primary_key());
  return ReadRow((*result)[0], 0, all_columns_, out);
}

const Statement& Table::InsertBatch(size_t rows) const {
  absl::MutexLock lock(&insert_batches_mu_);
  auto [it, added] = insert_batches_.try_emplace(rows);
  if (added) {
    it->second = {absl::StrCat(table_.name(), ".insert_batch.", rows),
                  InsertBatchSql(table_, rows)};
  }
  return it->second;
}

absl::Status Table::InsertMany(std::vector<PendingInsert> rows,
                               const CallLimit& limit) const {
  Params params;
  for (PendingInsert& row : rows) {
    params.Append(std::move(row.params));
    if (row.request_id.empty()) {
      params.AddNull();
    } else {
      params.AddText(row.request_id);
    }
  }
  params.AddText(table_.name());
  absl::StatusOr<pqxx::result> result =
      RunAlone(InsertBatch(rows.size()), std::move(params), limit, "insert", WriteKind::kWrite,
               absl::StrCat("creating ", table_.name()));
  if (!result.ok()) return result.status();
  if (result->size() != rows.size()) {
    return absl::InternalError(absl::StrCat("creating ", rows.size(), " ", table_.name(),
                                            " rows returned ", result->size()));
  }
  for (const pqxx::row& row : *result) {
    const size_t ord = row[0].as<size_t>();
    if (ord < 1 || ord > rows.size()) return BadValue(table_.primary_key());
    if (absl::Status s = ReadRow(row, 1, all_columns_, rows[ord - 1].out); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Table::InsertOnce(const Message& resource, const std::string& request_id,
                               const CallLimit& limit, Message* out) const {
  // The first call with a request_id, as nearly every one is: the row and its
  // request_id in one statement, one round trip. Any constraint it breaks
  // (the request_id already recorded, or a retried create clashing with the
  // row it made) sends the call the careful way below.
  {
    Params params;
    if (absl::Status s = BindWritable(table_, resource, &params); !s.ok()) return s;
    params.AddText(request_id);
    params.AddText(table_.name());
    absl::Status status = InsertRow(insert_recording_, std::move(params), limit, out);
    if (status.ok() || ViolatedConstraint(status).empty()) {
      return Explain(std::move(status), &resource, "");
    }
  }
  // Two rounds at most: when a concurrent call with the same request_id
  // commits first, this one's record clashes, and the second round reads
  // what that call created.
  for (int round = 0; round < 2; ++round) {
    Params params;
    if (absl::Status s = BindWritable(table_, resource, &params); !s.ok()) return s;
    std::string created_key;
    {
      absl::StatusOr<Pool::Lease> conn = pool_.Acquire(limit, "insert");
      if (!conn.ok()) return conn.status();
      try {
        pqxx::work tx((*conn)->raw());
        Params find;
        find.AddText(request_id);
        find.AddText(table_.name());
        pqxx::result found = (*conn)->Exec(tx, find_request_, std::move(find));
        if (!found.empty()) {
          created_key = found[0][0].c_str();
          tx.commit();
        } else {
          pqxx::result row = (*conn)->Exec(tx, insert_, std::move(params));
          if (absl::Status s = ReadRow(row.at(0), 0, all_columns_, out); !s.ok()) return s;
          const Column& pk = table_.primary_key();
          const Reflection* r = out->GetReflection();
          Params record;
          record.AddText(request_id);
          record.AddText(table_.name());
          record.AddText(pk.type == ColumnType::kInt64
                             ? absl::StrCat(r->GetInt64(*out, pk.field))
                             : r->GetString(*out, pk.field));
          (*conn)->Exec(tx, record_request_, std::move(record));
          tx.commit();
          return absl::OkStatus();
        }
      } catch (const std::exception& e) {
        absl::Status status = StatusFromException(
            e, WriteKind::kTransaction, absl::StrCat("creating ", table_.name()));
        if (ViolatedConstraint(status) == "protomodel_request_ids_pkey" && round == 0) {
          continue;
        }
        return Explain(status, &resource, "");
      }
    }
    return Get(created_key, false, limit, out);
  }
  return absl::AbortedError(absl::StrCat("request_id ", request_id,
                                         ": a concurrent create with it did not settle; retry"));
}

absl::Status Table::Get(const std::string& key, bool relations,
                        const CallLimit& limit, Message* out) const {
  const bool full = relations && !get_full_.sql.empty();
  Params params;
  params.AddText(key);
  absl::StatusOr<Pool::Lease> conn = pool_.Acquire(limit, "get");
  if (!conn.ok()) return conn.status();
  try {
    pqxx::nontransaction tx((*conn)->raw());
    pqxx::result result = (*conn)->Exec(tx, full ? get_full_ : get_, std::move(params));
    if (result.empty()) {
      return NotFound(key);
    }
    if (absl::Status s = ReadRow(result[0], 0, all_columns_, out); !s.ok()) return s;
    if (!full) return absl::OkStatus();
    const Reflection* r = out->GetReflection();
    size_t offset = all_columns_.size();
    for (const Relation& relation : table_.relations()) {
      const std::vector<const Column*> columns = AllColumns(*relation.target);
      const size_t pk = offset + static_cast<size_t>(relation.target->ColumnIndex(
                                     relation.target->primary_key()));
      for (const pqxx::row& row : result) {
        if (row[static_cast<pqxx::row::size_type>(pk)].is_null()) break;
        Message* related = relation.field->is_repeated()
                               ? r->AddMessage(out, relation.field)
                               : r->MutableMessage(out, relation.field);
        if (absl::Status s = ReadRow(row, offset, columns, related); !s.ok()) return s;
        if (!relation.field->is_repeated()) break;
      }
      offset += columns.size();
    }
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return StatusFromException(e, WriteKind::kRead, Describe(key));
  }
}

absl::Status Table::GetMany(const std::vector<std::string>& keys,
                            const CallLimit& limit, const std::vector<Message*>& outs,
                            std::vector<bool>* found) const {
  found->assign(keys.size(), false);
  Params params;
  params.AddText(ArrayLiteral(keys));
  absl::StatusOr<pqxx::result> result = RunAlone(get_many_, std::move(params), limit, "get",
                                                 WriteKind::kRead,
                                                 absl::StrCat("reading ", table_.name()));
  if (!result.ok()) return result.status();
  const auto pk = static_cast<pqxx::row::size_type>(table_.ColumnIndex(table_.primary_key()));
  for (const pqxx::row& row : *result) {
    const absl::string_view key(row[pk].c_str(), row[pk].size());
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] != key) continue;
      if (absl::Status s = ReadRow(row, 0, all_columns_, outs[i]); !s.ok()) return s;
      (*found)[i] = true;
    }
  }
  return absl::OkStatus();
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
  std::vector<bool>& wanted = list.wanted;
  wanted.assign(all_columns_.size(), query.read_columns.empty());
  for (const Column* column : query.read_columns) {
    wanted[static_cast<size_t>(table_.ColumnIndex(*column))] = true;
  }
  wanted[static_cast<size_t>(table_.ColumnIndex(table_.primary_key()))] = true;
  std::vector<bool> selected = wanted;
  for (const OrderKey& key : list.keys) {
    selected[static_cast<size_t>(table_.ColumnIndex(*key.column))] = true;
  }
  for (size_t i = 0; i < all_columns_.size(); ++i) {
    if (selected[i]) list.columns.push_back(all_columns_[i]);
  }

  params.AddText(absl::StrCat(query.page_size + 1));
  list.sql = absl::StrCat(
      "SELECT ", SelectList(list.columns, ""), " FROM ", table_.quoted_name(),
      conditions.empty() ? "" : " WHERE ", absl::StrJoin(conditions, " AND "),
      " ORDER BY ", OrderBySql(list.keys), " LIMIT $", params.size());
  return list;
}

absl::StatusOr<std::string> Table::List(PreparedList list, const CallLimit& limit,
                                        Message* response,
                                        const FieldDescriptor* rows) const {
  const std::vector<const Column*>& columns = list.columns;
  const std::vector<bool>& wanted = list.wanted;
  absl::StatusOr<pqxx::result> listed =
      RunAlone(Statement{"", list.sql}, std::move(list.params), limit, "list",
               WriteKind::kRead, absl::StrCat("listing ", table_.name()));
  if (!listed.ok()) return listed.status();
  const pqxx::result& result = *listed;

  const Reflection* r = response->GetReflection();
  size_t bytes = 0;
  int count = 0;
  bool more = result.size() > static_cast<size_t>(list.page_size);
  std::vector<protomodel::v1::KeyValue> last;
  for (const pqxx::row& row : result) {
    if (count == list.page_size) break;
    Message* out = r->AddMessage(response, rows);
    if (absl::Status s = ReadRow(row, 0, columns, out); !s.ok()) return s;
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

absl::Status Table::MissedWrite(Connection& conn, pqxx::transaction_base& tx,
                                const std::string& key,
                                const std::optional<std::string>& etag) const {
  if (!etag.has_value()) {
    return NotFound(key);
  }
  Params params;
  params.AddText(key);
  pqxx::result result = conn.Exec(tx, exists_, std::move(params));
  if (result.empty()) {
    return NotFound(key);
  }
  return EtagMismatch(key);
}

absl::StatusOr<Table::PreparedUpdate> Table::PrepareUpdate(
    std::string key, const Message& resource, const std::vector<const Column*>& columns,
    std::optional<std::string> etag) const {
  PreparedUpdate update;
  update.resource = &resource;
  if (table_.etag() == nullptr) etag.reset();
  if (columns.empty()) {
    if (etag.has_value()) {
      absl::Status s =
          CheckEtag(*etag, absl::StrCat(table_.name(), ".", table_.etag()->name));
      if (!s.ok()) return s;
    }
  } else {
    absl::StatusOr<Statement> statement =
        UpdateStatement(table_, key, resource, columns, etag, &update.params);
    if (!statement.ok()) return statement.status();
    update.statement = *std::move(statement);
  }
  update.key = std::move(key);
  update.etag = std::move(etag);
  return update;
}

absl::Status Table::Update(PreparedUpdate update, const CallLimit& limit, Message* out) const {
  const std::string& key = update.key;
  const std::optional<std::string>& etag = update.etag;
  if (!update.statement.has_value()) {
    // Nothing to write: the row as it is, after the same precondition.
    absl::Status s = Get(key, false, limit, out);
    if (!s.ok() || !etag.has_value()) return s;
    if (out->GetReflection()->GetString(*out, table_.etag()->field) != *etag) {
      return EtagMismatch(key);
    }
    return absl::OkStatus();
  }
  absl::StatusOr<Pool::Lease> conn = pool_.Acquire(limit, "update");
  if (!conn.ok()) return conn.status();
  try {
    pqxx::nontransaction tx((*conn)->raw());
    pqxx::result result = (*conn)->Exec(tx, *update.statement, std::move(update.params));
    if (result.empty()) return MissedWrite(**conn, tx, key, etag);
    return ReadRow(result[0], 0, all_columns_, out);
  } catch (const std::exception& e) {
    return Explain(StatusFromException(e, WriteKind::kWrite, Describe(key)), update.resource,
                   key);
  }
}

absl::Status Table::Delete(const std::string& key,
                           const std::optional<std::string>& etag,
                           const CallLimit& limit) const {
  const bool conditional = etag.has_value() && table_.etag() != nullptr;
  Params params;
  params.AddText(key);
  if (conditional) params.AddText(*etag);
  absl::StatusOr<Pool::Lease> conn = pool_.Acquire(limit, "delete");
  if (!conn.ok()) return conn.status();
  try {
    pqxx::nontransaction tx((*conn)->raw());
    pqxx::result result =
        (*conn)->Exec(tx, conditional ? delete_if_ : delete_, std::move(params));
    if (result.affected_rows() == 0) {
      return MissedWrite(**conn, tx, key, conditional ? etag : std::nullopt);
    }
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return Explain(StatusFromException(e, WriteKind::kWrite, Describe(key)), nullptr,
                   key);
  }
}

}  // namespace protomodel::db
