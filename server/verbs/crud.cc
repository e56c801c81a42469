#include "server/verbs/crud.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/field_mask.pb.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_join.h"
#include "db/errors.h"
#include "db/sql/sql_build.h"
#include "db/sql/values.h"
#include "server/transport/status.h"

namespace protomodel::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FieldMask;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
constexpr int kMaxMaskPaths = 64;
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

absl::Status Overloaded() {
  return absl::ResourceExhaustedError(
      "server overloaded: too many calls are queued for the database; retry later");
}

// The request field with this number; the contract fixes the numbers.
const FieldDescriptor* FieldNumber(const Message& message, int number) {
  return message.GetDescriptor()->FindFieldByNumber(number);
}

// The primary key in `field` of `message`, at `path` in the request, as
// validated text.
absl::StatusOr<std::string> KeyOf(const Message& message,
                                  const FieldDescriptor* field,
                                  const db::Column& pk, absl::string_view path) {
  const Reflection* r = message.GetReflection();
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_INT64) {
    const int64_t id = r->GetInt64(message, field);
    if (id <= 0) {
      return db::InvalidField(path, db::reason::kInvalidField,
                              absl::StrCat(path, ": ids are integers > 0, not ", id));
    }
    return absl::StrCat(id);
  }
  if (pk.type == db::ColumnType::kUuid) {
    absl::StatusOr<std::string> uuid = db::CanonicalUuid(r->GetString(message, field), path);
    if (!uuid.ok()) return db::AboutField(uuid.status(), path);
    return uuid;
  }
  std::string key = r->GetString(message, field);
  if (key.empty()) {
    return db::InvalidField(path, db::reason::kRequiredField, absl::StrCat(path, " is required"));
  }
  return key;
}

// Whether a field holds a value: presence for optional and message fields,
// a non-default value otherwise.
bool IsSet(const Message& message, const db::Column& column) {
  const Reflection* r = message.GetReflection();
  const FieldDescriptor* f = column.field;
  if (f->has_presence()) return r->HasField(message, f);
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      return !r->GetStringReference(message, f, &scratch).empty();
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(message, f);
    case FieldDescriptor::CPPTYPE_INT32:
      return r->GetInt32(message, f) != 0;
    case FieldDescriptor::CPPTYPE_INT64:
      return r->GetInt64(message, f) != 0;
    case FieldDescriptor::CPPTYPE_FLOAT:
      return r->GetFloat(message, f) != 0;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return r->GetDouble(message, f) != 0;
    default:
      return false;
  }
}

absl::Status CheckRequired(const Message& resource,
                           const std::vector<const db::Column*>& columns,
                           absl::string_view resource_name) {
  for (const db::Column* column : columns) {
    if (column->required && !IsSet(resource, *column)) {
      const std::string path = absl::StrCat(resource_name, ".", column->name);
      return db::InvalidField(path, db::reason::kRequiredField,
                              absl::StrCat(path, " is required"));
    }
  }
  return absl::OkStatus();
}

const FieldMask* MaskIn(const Message& request, int number) {
  const FieldDescriptor* field = FieldNumber(request, number);
  if (field == nullptr) return nullptr;
  return static_cast<const FieldMask*>(
      &request.GetReflection()->GetMessage(request, field));
}

// The columns named by a mask's paths, each a top-level field.
absl::StatusOr<std::vector<const db::Column*>> MaskColumns(
    const FieldMask& mask, const db::TableSchema& table, absl::string_view mask_name,
    bool writable) {
  const auto invalid = [mask_name](absl::string_view message) {
    return db::InvalidField(mask_name, db::reason::kInvalidFieldMask, message);
  };
  if (mask.paths_size() > kMaxMaskPaths) {
    return invalid(absl::StrCat(mask_name, ": more than the limit of ",
                                kMaxMaskPaths, " paths"));
  }
  std::vector<const db::Column*> columns;
  for (const std::string& path : mask.paths()) {
    const db::Column* column = table.FindColumn(path);
    if (column == nullptr) {
      const FieldDescriptor* field = table.descriptor()->FindFieldByName(path);
      if (field != nullptr) {
        return invalid(absl::StrCat(mask_name, ": field '", path, "' is output only",
                                    writable ? "" : " in detailed views"));
      }
      return invalid(absl::StrCat(mask_name, ": unknown field '", path, "' (",
                                  table.name(), " has no such field)"));
    }
    if (writable && !column->writable()) {
      return invalid(absl::StrCat(mask_name, ": field '", path,
                                  "' is output only and cannot be updated"));
    }
    bool seen = false;
    for (const db::Column* c : columns) seen = seen || c == column;
    if (!seen) columns.push_back(column);
  }
  return columns;
}

}  // namespace

Crud::Crud(const db::Table& table, Executor& executor, absl::Duration default_deadline,
           Rules rules, std::string service, const TokenStore* tokens)
    : table_(table),
      executor_(executor),
      default_deadline_(default_deadline),
      rules_(std::move(rules)),
      service_(std::move(service)),
      tokens_(tokens),
      gets_(std::make_unique<Batcher<PendingGet>>(
          executor, ReadLimits(table.schema()),
          [this](std::vector<PendingGet> gets) { ReadGets(std::move(gets)); })),
      creates_(std::make_unique<Batcher<PendingCreate>>(
          executor, BatchLimits{},
          [this](std::vector<PendingCreate> creates) { InsertCreates(std::move(creates)); })) {}

db::CallLimit Crud::Limit(grpc::CallbackServerContext* context) const {
  const auto deadline = context->deadline();
  absl::Time limit = absl::Now() + default_deadline_;
  if (deadline != std::chrono::system_clock::time_point::max()) {
    limit = std::min(absl::FromChrono(deadline), limit);
  }
  return db::CallLimit(limit, [context] { return context->IsCancelled(); });
}

namespace {

// Why a call that waited for a worker must not start now, or OK.
absl::Status Unstarted(grpc::CallbackServerContext* context, const db::CallLimit& limit) {
  if (context->IsCancelled()) return absl::CancelledError("the client cancelled the call");
  if (absl::Now() >= limit.deadline) {
    return absl::DeadlineExceededError("the deadline passed while the call was queued");
  }
  return absl::OkStatus();
}

// The status to answer with, from the work's: a statement cancelled because
// the client left fails like one cancelled at the deadline; say what
// happened.
absl::Status Settled(grpc::CallbackServerContext* context, absl::Status status) {
  if (!status.ok() && context->IsCancelled()) {
    return absl::CancelledError("the client cancelled the call");
  }
  return status;
}

// The calls of a batch that may still start; the others are answered.
template <typename Pending>
std::vector<Pending*> Startable(std::vector<Pending>& batch) {
  std::vector<Pending*> live;
  for (Pending& pending : batch) {
    absl::Status unstarted = Unstarted(pending.context, pending.limit);
    if (unstarted.ok()) {
      live.push_back(&pending);
    } else {
      pending.reactor->Finish(ToGrpcStatus(unstarted));
    }
  }
  return live;
}

// The limit of one statement run for several calls: it may run until the
// latest of their deadlines and is cancelled only when every caller has
// left; each call still answers by its own deadline and cancellation.
template <typename Pending>
db::CallLimit SharedLimit(const std::vector<Pending*>& live) {
  absl::Time deadline = absl::InfinitePast();
  std::vector<grpc::CallbackServerContext*> contexts;
  for (const Pending* pending : live) {
    deadline = std::max(deadline, pending->limit.deadline);
    contexts.push_back(pending->context);
  }
  return db::CallLimit(deadline, [contexts = std::move(contexts)] {
    for (grpc::CallbackServerContext* context : contexts) {
      if (!context->IsCancelled()) return false;
    }
    return true;
  });
}

}  // namespace

bool Crud::Authorized(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                      const Message& request) const {
  if (tokens_ == nullptr) return true;
  const std::string method = absl::StrCat(
      service_, "/", absl::StripSuffix(request.GetDescriptor()->name(), "Request"));
  const AuthResult auth =
      tokens_->Check(MetadataValue(context->client_metadata(), "authorization"), method);
  if (auth.status.ok()) return true;
  reactor->Finish(auth.status);
  return false;
}

template <typename Work>
grpc::ServerUnaryReactor* Crud::Enqueue(grpc::CallbackServerContext* context,
                                        grpc::ServerUnaryReactor* reactor, Work work) const {
  const bool queued = executor_.Submit(
      [context, reactor, limit = Limit(context), work = std::move(work)]() mutable {
        absl::Status status = Unstarted(context, limit);
        if (status.ok()) status = Settled(context, work(limit));
        reactor->Finish(ToGrpcStatus(status));
      });
  if (!queued) reactor->Finish(ToGrpcStatus(Overloaded()));
  return reactor;
}

template <typename Prepare, typename Run>
grpc::ServerUnaryReactor* Crud::Dispatch(grpc::CallbackServerContext* context,
                                         const Message& request, Prepare prepare,
                                         Run run) const {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Authorized(context, reactor, request)) return reactor;
  auto prepared = prepare();
  if (!prepared.ok()) {
    reactor->Finish(ToGrpcStatus(prepared.status()));
    return reactor;
  }
  return Enqueue(context, reactor,
                 [run = std::move(run), prepared = *std::move(prepared)](
                     const db::CallLimit& limit) mutable {
                   return run(std::move(prepared), limit);
                 });
}

grpc::ServerUnaryReactor* Crud::Create(grpc::CallbackServerContext* context,
                                       const Message& request, Message* response) const {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Authorized(context, reactor, request)) return reactor;
  absl::StatusOr<PreparedCreate> create = PrepareCreate(request);
  if (!create.ok()) {
    reactor->Finish(ToGrpcStatus(create.status()));
    return reactor;
  }
  absl::Status checked = rules_.on_create ? rules_.on_create(*create->resource) : absl::OkStatus();
  db::Params params;
  if (checked.ok()) checked = db::BindWritable(table_.schema(), *create->resource, &params);
  if (!checked.ok()) {
    reactor->Finish(ToGrpcStatus(checked));
    return reactor;
  }
  if (create->regenerate) {
    // Its generated value may clash and be drawn again: alone.
    return Enqueue(context, reactor,
                   [this, response, create = *std::move(create)](
                       const db::CallLimit& limit) mutable {
                     return InsertOne(limit, create, response);
                   });
  }
  PendingCreate pending{context, reactor, *std::move(create), std::move(params), response,
                        Limit(context)};
  if (!creates_->Add(pending)) reactor->Finish(ToGrpcStatus(Overloaded()));
  return reactor;
}

void Crud::InsertCreates(std::vector<PendingCreate> creates) const {
  const std::vector<PendingCreate*> live = Startable(creates);
  if (live.size() > 1) {
    std::vector<db::Table::PendingInsert> rows;
    for (PendingCreate* create : live) {
      rows.push_back({std::move(create->params), create->create.request_id, create->response});
    }
    const absl::Status status = table_.InsertMany(std::move(rows), SharedLimit(live));
    // The database refused the statement (a constraint, a value it would
    // not take: one row's fault, and nothing was written): one by one below,
    // so that each caller gets its own answer. Otherwise the answer is the
    // batch's, the same for all: written, in doubt (never redone), the
    // database unreachable, or the time gone.
    const absl::StatusCode code = status.code();
    if (status.ok() || code == absl::StatusCode::kUnknown ||
        code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kCancelled ||
        code == absl::StatusCode::kDeadlineExceeded) {
      for (PendingCreate* create : live) {
        create->reactor->Finish(ToGrpcStatus(Settled(create->context, status)));
      }
      return;
    }
  }
  // Alone, or in a batch the database refused, writing nothing: one by one,
  // each with its own outcome and explanation.
  for (PendingCreate* create : live) {
    create->reactor->Finish(ToGrpcStatus(Settled(
        create->context, table_.Insert(*create->create.resource, create->create.request_id,
                                       create->limit, create->response))));
  }
}

grpc::ServerUnaryReactor* Crud::Get(grpc::CallbackServerContext* context,
                                    const Message& request, Message* response) const {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Authorized(context, reactor, request)) return reactor;
  absl::StatusOr<std::string> key =
      KeyOf(request, FieldNumber(request, 1), table_.schema().primary_key(), "id");
  if (!key.ok()) {
    reactor->Finish(ToGrpcStatus(key.status()));
    return reactor;
  }
  bool full = false;
  if (const FieldDescriptor* view = FieldNumber(request, 2);
      view != nullptr && view->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
    const int number = request.GetReflection()->GetEnumValue(request, view);
    const auto* value = view->enum_type()->FindValueByNumber(number);
    if (value == nullptr) {
      reactor->Finish(ToGrpcStatus(db::InvalidField(
          view->name(), db::reason::kInvalidField,
          absl::StrCat(view->name(), ": unknown value ", number))));
      return reactor;
    }
    full = value->name() == "FULL";
  }
  if (full) {
    return Enqueue(context, reactor,
                   [this, response, key = *std::move(key)](const db::CallLimit& limit) {
                     return table_.Get(key, true, limit, response);
                   });
  }
  PendingGet get{context, reactor, *std::move(key), response, Limit(context)};
  if (!gets_->Add(get)) {
    reactor->Finish(ToGrpcStatus(Overloaded()));
  }
  return reactor;
}

void Crud::ReadGets(std::vector<PendingGet> gets) const {
  const std::vector<PendingGet*> live = Startable(gets);
  if (live.size() == 1) {
    PendingGet& get = *live[0];
    get.reactor->Finish(ToGrpcStatus(
        Settled(get.context, table_.Get(get.key, false, get.limit, get.response))));
    return;
  }
  if (live.empty()) return;
  std::vector<std::string> keys;
  std::vector<Message*> outs;
  for (PendingGet* get : live) {
    keys.push_back(get->key);
    outs.push_back(get->response);
  }
  std::vector<bool> found;
  const absl::Status status = table_.GetMany(keys, SharedLimit(live), outs, &found);
  for (size_t i = 0; i < live.size(); ++i) {
    absl::Status own = status;
    if (own.ok() && !found[i]) own = table_.NotFound(keys[i]);
    live[i]->reactor->Finish(ToGrpcStatus(Settled(live[i]->context, std::move(own))));
  }
}

grpc::ServerUnaryReactor* Crud::List(grpc::CallbackServerContext* context,
                                     const Message& request, Message* response) const {
  return Dispatch(
      context, request, [&] { return PrepareList(request); },
      [this, response](db::Table::PreparedList list, const db::CallLimit& limit) {
        absl::StatusOr<std::string> next =
            table_.List(std::move(list), limit, response, FieldNumber(*response, 1));
        if (!next.ok()) return next.status();
        response->GetReflection()->SetString(response, FieldNumber(*response, 2),
                                             *std::move(next));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* Crud::Update(grpc::CallbackServerContext* context,
                                       const Message& request, Message* response) const {
  return Dispatch(
      context, request, [&] { return PrepareUpdate(request); },
      [this, response](db::Table::PreparedUpdate update, const db::CallLimit& limit) {
        return table_.Update(std::move(update), limit, response);
      });
}

grpc::ServerUnaryReactor* Crud::Delete(grpc::CallbackServerContext* context,
                                       const Message& request,
                                       google::protobuf::Empty*) const {
  return Dispatch(
      context, request, [&] { return PrepareDelete(request); },
      [this](PreparedDelete del, const db::CallLimit& limit) {
        return table_.Delete(del.key, del.etag, limit);
      });
}

absl::StatusOr<Crud::PreparedCreate> Crud::PrepareCreate(const Message& request) const {
  const FieldDescriptor* resource_field = FieldNumber(request, 1);
  PreparedCreate create;
  create.resource.reset(request.GetReflection()->GetMessage(request, resource_field).New());
  create.resource->CopyFrom(request.GetReflection()->GetMessage(request, resource_field));
  if (const FieldDescriptor* field = FieldNumber(request, 2)) {
    std::string request_id = request.GetReflection()->GetString(request, field);
    if (!request_id.empty()) {
      absl::StatusOr<std::string> uuid = db::CanonicalUuid(request_id, field->name());
      if (!uuid.ok()) return db::AboutField(uuid.status(), field->name());
      create.request_id = *std::move(uuid);
    }
  }
  std::vector<const db::Column*> writable;
  for (const db::Column& column : table_.schema().columns()) {
    if (column.writable()) writable.push_back(&column);
  }
  if (absl::Status s = CheckRequired(*create.resource, writable, resource_field->name());
      !s.ok()) {
    return s;
  }
  const db::Column* generated = rules_.generated_column.empty()
                                    ? nullptr
                                    : table_.schema().FindColumn(rules_.generated_column);
  create.regenerate = generated != nullptr && !IsSet(*create.resource, *generated);
  return create;
}

absl::Status Crud::InsertOne(const db::CallLimit& limit, PreparedCreate& create,
                             Message* response) const {
  const db::Column* generated = table_.schema().FindColumn(rules_.generated_column);
  constexpr int kAttempts = 5;
  absl::Status status;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    if (rules_.on_create) {
      if (absl::Status s = rules_.on_create(*create.resource); !s.ok()) return s;
    }
    status = table_.Insert(*create.resource, create.request_id, limit, response);
    if (status.ok() || !create.regenerate || table_.ViolatedColumn(status) != generated) {
      break;
    }
    create.resource->GetReflection()->ClearField(create.resource.get(), generated->field);
  }
  return status;
}

absl::StatusOr<db::Table::PreparedList> Crud::PrepareList(const Message& request) const {
  const Reflection* r = request.GetReflection();
  const int page_size = r->GetInt32(request, FieldNumber(request, 1));
  if (page_size < 0) {
    return db::InvalidField("page_size", db::reason::kInvalidField,
                            absl::StrCat("page_size: must not be negative, not ", page_size));
  }
  const std::string page_token = r->GetString(request, FieldNumber(request, 2));
  const std::string filter = r->GetString(request, FieldNumber(request, 3));
  const std::string order_by = r->GetString(request, FieldNumber(request, 4));

  db::ListQuery query;
  query.page_size = page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize);
  query.page_token = page_token;
  query.filter = filter;
  query.order_by = order_by;
  if (const FieldMask* mask = MaskIn(request, 5)) {
    absl::StatusOr<std::vector<const db::Column*>> columns =
        MaskColumns(*mask, table_.schema(), "read_mask", false);
    if (!columns.ok()) return columns.status();
    query.read_columns = *std::move(columns);
  }
  return table_.PrepareList(query);
}

absl::StatusOr<db::Table::PreparedUpdate> Crud::PrepareUpdate(const Message& request) const {
  const db::TableSchema& table = table_.schema();
  const FieldDescriptor* resource_field = FieldNumber(request, 1);
  const std::string& path = resource_field->name();
  const Message& resource = request.GetReflection()->GetMessage(request, resource_field);
  absl::StatusOr<std::string> key =
      KeyOf(resource, table.primary_key().field, table.primary_key(),
            absl::StrCat(path, ".", table.primary_key().name));
  if (!key.ok()) return key.status();

  std::vector<const db::Column*> columns;
  const FieldMask* mask = MaskIn(request, 2);
  const bool replace_all =
      mask != nullptr && mask->paths_size() == 1 && mask->paths(0) == "*";
  if (mask != nullptr && mask->paths_size() > 1) {
    for (const std::string& mask_path : mask->paths()) {
      if (mask_path == "*") {
        return db::InvalidField("update_mask", db::reason::kInvalidFieldMask,
                                "update_mask: '*' must be the only path");
      }
    }
  }
  if (replace_all || mask == nullptr || mask->paths_size() == 0) {
    for (const db::Column& column : table.columns()) {
      if (column.writable() && (replace_all || IsSet(resource, column))) {
        columns.push_back(&column);
      }
    }
  } else {
    absl::StatusOr<std::vector<const db::Column*>> masked =
        MaskColumns(*mask, table, "update_mask", true);
    if (!masked.ok()) return masked.status();
    columns = *std::move(masked);
  }
  if (absl::Status s = CheckRequired(resource, columns, path); !s.ok()) {
    return s;
  }
  if (rules_.on_update) {
    if (absl::Status s = rules_.on_update(resource, columns); !s.ok()) return s;
  }
  std::optional<std::string> etag;
  if (const db::Column* etag_column = table.etag()) {
    std::string value = resource.GetReflection()->GetString(resource, etag_column->field);
    if (!value.empty()) etag = std::move(value);
  }
  return table_.PrepareUpdate(*std::move(key), resource, columns, std::move(etag));
}

absl::StatusOr<Crud::PreparedDelete> Crud::PrepareDelete(const Message& request) const {
  absl::StatusOr<std::string> key =
      KeyOf(request, FieldNumber(request, 1), table_.schema().primary_key(), "id");
  if (!key.ok()) return key.status();
  PreparedDelete del;
  del.key = *std::move(key);
  if (const FieldDescriptor* etag_field = FieldNumber(request, 2);
      etag_field != nullptr && etag_field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    std::string value = request.GetReflection()->GetString(request, etag_field);
    if (!value.empty()) {
      if (absl::Status s = db::CheckEtag(value, etag_field->name()); !s.ok()) return s;
      del.etag = std::move(value);
    }
  }
  return del;
}

}  // namespace protomodel::server
