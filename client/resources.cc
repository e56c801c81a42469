#include "protomodel/client/resources.h"

#include <algorithm>
#include <optional>

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/field_mask.pb.h>
#include <grpcpp/client_context.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/codegen/rpc_method.h>
#include <grpcpp/support/sync_stream.h>

#include "protomodel/names.h"
#include "protomodel/verbs.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace protomodel::client {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::MethodDescriptor;
using google::protobuf::ServiceDescriptor;

// The message factory for a descriptor's pool: the generated classes, or
// dynamic messages for a pool built at run time.
google::protobuf::MessageFactory* FactoryFor(const Descriptor* type) {
  if (type->file()->pool() == google::protobuf::DescriptorPool::generated_pool()) {
    return google::protobuf::MessageFactory::generated_factory();
  }
  static auto* dynamic = [] {
    auto* factory = new google::protobuf::DynamicMessageFactory();
    factory->SetDelegateToGeneratedFactory(true);
    return factory;
  }();
  return dynamic;
}

// The first service of `type`'s file that serves it, and its methods by
// verb (protomodel/verbs.h, as the server recognises them).
struct Verbs {
  const ServiceDescriptor* service = nullptr;
  const MethodDescriptor* create = nullptr;
  const MethodDescriptor* get = nullptr;
  const MethodDescriptor* list = nullptr;
  const MethodDescriptor* update = nullptr;
  const MethodDescriptor* remove = nullptr;
  const MethodDescriptor* batch_get = nullptr;
  const MethodDescriptor* batch_create = nullptr;
  const MethodDescriptor* batch_update = nullptr;
  const MethodDescriptor* batch_delete = nullptr;
  const MethodDescriptor* watch = nullptr;
  const MethodDescriptor* append_update = nullptr;
  const MethodDescriptor* list_updates = nullptr;
  const MethodDescriptor* watch_updates = nullptr;
  const MethodDescriptor* compact = nullptr;
};

Verbs FindVerbs(const Descriptor* type) {
  Verbs verbs;
  const auto* file = type->file();
  for (int s = 0; s < file->service_count() && verbs.service == nullptr; ++s) {
    const ServiceDescriptor* service = file->service(s);
    for (int m = 0; m < service->method_count(); ++m) {
      const MethodDescriptor* method = service->method(m);
      const std::optional<Verb> verb = VerbOf(*method);
      if (!verb.has_value() || ResourceOf(*method, *verb) != type) continue;
      verbs.service = service;
      switch (*verb) {
        case Verb::kCreate: verbs.create = method; break;
        case Verb::kGet: verbs.get = method; break;
        case Verb::kList: verbs.list = method; break;
        case Verb::kUpdate: verbs.update = method; break;
        case Verb::kDelete: verbs.remove = method; break;
        case Verb::kBatchGet: verbs.batch_get = method; break;
        case Verb::kBatchCreate: verbs.batch_create = method; break;
        case Verb::kBatchUpdate: verbs.batch_update = method; break;
        case Verb::kBatchDelete: verbs.batch_delete = method; break;
        case Verb::kWatch: verbs.watch = method; break;
        case Verb::kAppendUpdate: verbs.append_update = method; break;
        case Verb::kListUpdates: verbs.list_updates = method; break;
        case Verb::kWatchUpdates: verbs.watch_updates = method; break;
        case Verb::kCompact: verbs.compact = method; break;
      }
    }
  }
  return verbs;
}

absl::Status Unsupported(const ServiceDescriptor& service, absl::string_view verb) {
  return absl::UnimplementedError(
      absl::StrCat(service.full_name(), " has no ", verb, " method"));
}

// Sets `id` in the key field `name` (or adds it, when repeated).
void SetKey(Message* request, const Key& id, const std::string& name = "id") {
  const FieldDescriptor* field = request->GetDescriptor()->FindFieldByName(name);
  if (field == nullptr) return;
  const auto* r = request->GetReflection();
  const bool repeated = field->is_repeated();
  if (const int64_t* number = std::get_if<int64_t>(&id)) {
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_INT64) {
      repeated ? r->AddInt64(request, field, *number) : r->SetInt64(request, field, *number);
    }
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      repeated ? r->AddString(request, field, absl::StrCat(*number))
               : r->SetString(request, field, absl::StrCat(*number));
    }
  } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    repeated ? r->AddString(request, field, std::get<std::string>(id))
             : r->SetString(request, field, std::get<std::string>(id));
  }
}

// Sets the request's `view` to the value named `view` (none when empty).
absl::Status SetView(Message* request, absl::string_view view) {
  if (view.empty()) return absl::OkStatus();
  const FieldDescriptor* field = request->GetDescriptor()->FindFieldByName("view");
  const auto* value = field == nullptr || field->enum_type() == nullptr
                          ? nullptr
                          : field->enum_type()->FindValueByName(std::string(view));
  if (value == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(request->GetDescriptor()->full_name(), " has no view ", view));
  }
  request->GetReflection()->SetEnum(request, field, value);
  return absl::OkStatus();
}

// Moves the rows of `type` in `response` to the end of `rows`, in order.
void TakeRows(Message* response, const Descriptor* type,
              std::vector<std::unique_ptr<Message>>* rows) {
  const Descriptor* out_type = response->GetDescriptor();
  const auto* r = response->GetReflection();
  for (int f = 0; f < out_type->field_count(); ++f) {
    const FieldDescriptor* field = out_type->field(f);
    if (!field->is_repeated() || field->message_type() != type) continue;
    // Released from the end: put back in the server's order.
    const size_t start = rows->size();
    while (r->FieldSize(*response, field) > 0) {
      rows->emplace_back(r->ReleaseLast(response, field));
    }
    std::reverse(rows->begin() + static_cast<std::ptrdiff_t>(start), rows->end());
  }
}

// The entries field of a batch request, and a new entry in it.
Message* AddEntry(Message* request) {
  const FieldDescriptor* field = request->GetDescriptor()->FindFieldByName("requests");
  return request->GetReflection()->AddMessage(request, field);
}

void SetString(Message* message, absl::string_view name, absl::string_view value) {
  const FieldDescriptor* field = message->GetDescriptor()->FindFieldByName(std::string(name));
  if (field != nullptr && !value.empty()) {
    message->GetReflection()->SetString(message, field, std::string(value));
  }
}

// A google.protobuf.Timestamp's time.
absl::Time TimeOf(const Message& time) {
  const auto* d = time.GetDescriptor();
  return absl::FromUnixSeconds(time.GetReflection()->GetInt64(time, d->field(0))) +
         absl::Nanoseconds(time.GetReflection()->GetInt32(time, d->field(1)));
}

// A <R>Update message's seq, bytes and time.
DocumentUpdate UpdateOf(const Message& message) {
  const Descriptor* d = message.GetDescriptor();
  const auto* r = message.GetReflection();
  DocumentUpdate update;
  update.seq = r->GetInt64(message, d->FindFieldByName("seq"));
  update.data = r->GetString(message, d->FindFieldByName("update"));
  const FieldDescriptor* time = d->FindFieldByName("created_at");
  if (time != nullptr && r->HasField(message, time)) {
    update.created_at = TimeOf(r->GetMessage(message, time));
  }
  return update;
}

void SetMask(Message* message, absl::string_view name, const std::vector<std::string>& paths) {
  const FieldDescriptor* field = message->GetDescriptor()->FindFieldByName(std::string(name));
  if (field == nullptr || paths.empty()) return;
  Message* mask = message->GetReflection()->MutableMessage(message, field);
  const FieldDescriptor* repeated = mask->GetDescriptor()->FindFieldByName("paths");
  for (const std::string& path : paths) {
    mask->GetReflection()->AddString(mask, repeated, path);
  }
}

}  // namespace

absl::StatusOr<ResourceClient> ResourceClient::For(const Descriptor* type,
                                                   std::shared_ptr<grpc::ChannelInterface> channel,
                                                   CallOptions options) {
  const Verbs verbs = FindVerbs(type);
  if (verbs.service == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no service in ", type->file()->name(), " serves ", type->full_name(),
        " (a Create, Get, List, Update or Delete method for it)"));
  }
  ResourceClient client;
  client.channel_ = std::move(channel);
  client.options_ = options;
  client.type_ = type;
  client.service_ = verbs.service;
  client.create_ = verbs.create;
  client.get_ = verbs.get;
  client.list_ = verbs.list;
  client.update_ = verbs.update;
  client.delete_ = verbs.remove;
  client.batch_get_ = verbs.batch_get;
  client.batch_create_ = verbs.batch_create;
  client.batch_update_ = verbs.batch_update;
  client.batch_delete_ = verbs.batch_delete;
  client.watch_ = verbs.watch;
  client.append_update_ = verbs.append_update;
  client.list_updates_ = verbs.list_updates;
  client.watch_updates_ = verbs.watch_updates;
  client.compact_ = verbs.compact;
  return client;
}

std::unique_ptr<Message> ResourceClient::NewRequest(const MethodDescriptor* method) const {
  return std::unique_ptr<Message>(
      FactoryFor(method->input_type())->GetPrototype(method->input_type())->New());
}

absl::Status ResourceClient::Call(const MethodDescriptor* method, const Message& request,
                                  Message* response) const {
  const std::string path = absl::StrCat("/", service_->full_name(), "/", method->name());
  grpc::internal::RpcMethod rpc(path.c_str(), grpc::internal::RpcMethod::NORMAL_RPC);
  std::unique_ptr<grpc::ClientContext> context = internal::NewContext(options_);
  return FromGrpc(grpc::internal::BlockingUnaryCall<Message, Message>(
      channel_.get(), rpc, context.get(), request, response));
}

void ResourceClient::FillCreate(Message* request, const Message& resource,
                                const std::string& request_id) const {
  const FieldDescriptor* field =
      request->GetDescriptor()->FindFieldByName(LowerSnake(type_->name()));
  request->GetReflection()->MutableMessage(request, field)->CopyFrom(resource);
  SetString(request, "request_id", request_id.empty() ? NewRequestId() : request_id);
}

void ResourceClient::FillUpdate(Message* request, const Message& resource,
                                const std::vector<std::string>& update_mask) const {
  const FieldDescriptor* field =
      request->GetDescriptor()->FindFieldByName(LowerSnake(type_->name()));
  request->GetReflection()->MutableMessage(request, field)->CopyFrom(resource);
  SetMask(request, "update_mask", update_mask);
}

absl::Status ResourceClient::CallRetryingUnknown(const MethodDescriptor* method,
                                                 const Message& request,
                                                 Message* response) const {
  absl::Duration backoff = absl::Milliseconds(50);
  absl::Status status;
  for (int attempt = 0; attempt < std::max(1, options_.create_attempts); ++attempt) {
    if (attempt > 0) {
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(1));
    }
    status = Call(method, request, response);
    if (status.code() != absl::StatusCode::kUnknown) break;
  }
  return status;
}

std::unique_ptr<Message> ResourceClient::NewResponse(const MethodDescriptor* method) const {
  const Descriptor* out_type = method->output_type();
  return std::unique_ptr<Message>(FactoryFor(out_type)->GetPrototype(out_type)->New());
}

absl::Status ResourceClient::Create(const Message& resource, Message* out) const {
  if (create_ == nullptr) return Unsupported(*service_, "Create");
  std::unique_ptr<Message> request = NewRequest(create_);
  FillCreate(request.get(), resource, "");
  return CallRetryingUnknown(create_, *request, out);
}

absl::Status ResourceClient::Get(const Key& id, absl::string_view view, Message* out) const {
  if (get_ == nullptr) return Unsupported(*service_, "Get");
  std::unique_ptr<Message> request = NewRequest(get_);
  SetKey(request.get(), id);
  if (absl::Status s = SetView(request.get(), view); !s.ok()) return s;
  return Call(get_, *request, out);
}

absl::StatusOr<std::string> ResourceClient::ListPage(
    const ListOptions& options, std::vector<std::unique_ptr<Message>>* rows) const {
  if (list_ == nullptr) return Unsupported(*service_, "List");
  std::unique_ptr<Message> request = NewRequest(list_);
  SetString(request.get(), "filter", options.filter);
  SetString(request.get(), "order_by", options.order_by);
  SetString(request.get(), "page_token", options.page_token);
  SetMask(request.get(), "read_mask", options.read_mask);
  if (const FieldDescriptor* size = list_->input_type()->FindFieldByName("page_size")) {
    request->GetReflection()->SetInt32(request.get(), size, options.page_size);
  }
  std::unique_ptr<Message> response = NewResponse(list_);
  if (absl::Status s = Call(list_, *request, response.get()); !s.ok()) return s;
  TakeRows(response.get(), type_, rows);
  const FieldDescriptor* next = list_->output_type()->FindFieldByName("next_page_token");
  return next == nullptr ? std::string() : response->GetReflection()->GetString(*response, next);
}

absl::Status ResourceClient::Update(const Message& resource,
                                    const std::vector<std::string>& update_mask,
                                    Message* out) const {
  if (update_ == nullptr) return Unsupported(*service_, "Update");
  std::unique_ptr<Message> request = NewRequest(update_);
  FillUpdate(request.get(), resource, update_mask);
  return Call(update_, *request, out);
}

absl::Status ResourceClient::Delete(const Key& id, absl::string_view etag) const {
  if (delete_ == nullptr) return Unsupported(*service_, "Delete");
  std::unique_ptr<Message> request = NewRequest(delete_);
  SetKey(request.get(), id);
  SetString(request.get(), "etag", etag);
  return Call(delete_, *request, NewResponse(delete_).get());
}

absl::Status ResourceClient::BatchGet(const std::vector<Key>& ids, absl::string_view view,
                                      const std::vector<std::string>& read_mask,
                                      std::vector<std::unique_ptr<Message>>* rows) const {
  if (batch_get_ == nullptr) return Unsupported(*service_, "BatchGet");
  std::unique_ptr<Message> request = NewRequest(batch_get_);
  for (const Key& id : ids) SetKey(request.get(), id, "ids");
  if (absl::Status s = SetView(request.get(), view); !s.ok()) return s;
  SetMask(request.get(), "read_mask", read_mask);
  std::unique_ptr<Message> response = NewResponse(batch_get_);
  if (absl::Status s = Call(batch_get_, *request, response.get()); !s.ok()) return s;
  TakeRows(response.get(), type_, rows);
  return absl::OkStatus();
}

absl::Status ResourceClient::BatchCreate(const std::vector<const Message*>& resources,
                                         const std::vector<std::string>& request_ids,
                                         std::vector<std::unique_ptr<Message>>* rows) const {
  if (batch_create_ == nullptr) return Unsupported(*service_, "BatchCreate");
  std::unique_ptr<Message> request = NewRequest(batch_create_);
  for (size_t i = 0; i < resources.size(); ++i) {
    FillCreate(AddEntry(request.get()), *resources[i],
               i < request_ids.size() ? request_ids[i] : std::string());
  }
  std::unique_ptr<Message> response = NewResponse(batch_create_);
  absl::Status s = CallRetryingUnknown(batch_create_, *request, response.get());
  if (!s.ok()) return s;
  TakeRows(response.get(), type_, rows);
  return absl::OkStatus();
}

absl::Status ResourceClient::BatchUpdate(const std::vector<UpdateEntry>& updates,
                                         std::vector<std::unique_ptr<Message>>* rows) const {
  if (batch_update_ == nullptr) return Unsupported(*service_, "BatchUpdate");
  std::unique_ptr<Message> request = NewRequest(batch_update_);
  for (const UpdateEntry& update : updates) {
    FillUpdate(AddEntry(request.get()), *update.resource, update.update_mask);
  }
  std::unique_ptr<Message> response = NewResponse(batch_update_);
  if (absl::Status s = Call(batch_update_, *request, response.get()); !s.ok()) return s;
  TakeRows(response.get(), type_, rows);
  return absl::OkStatus();
}

absl::Status ResourceClient::BatchDelete(const std::vector<DeleteEntry>& deletes) const {
  if (batch_delete_ == nullptr) return Unsupported(*service_, "BatchDelete");
  std::unique_ptr<Message> request = NewRequest(batch_delete_);
  for (const DeleteEntry& del : deletes) {
    Message* entry = AddEntry(request.get());
    SetKey(entry, del.id);
    SetString(entry, "etag", del.etag);
  }
  return Call(batch_delete_, *request, NewResponse(batch_delete_).get());
}

const char* TypeName(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::kAdded: return "ADDED";
    case WatchEvent::Type::kModified: return "MODIFIED";
    case WatchEvent::Type::kRemoved: return "REMOVED";
    case WatchEvent::Type::kSynced: return "SYNCED";
    default: return "UNSPECIFIED";
  }
}

absl::Status ResourceClient::Stream(const MethodDescriptor* method,
                                    const std::function<void(Message* request)>& fill,
                                    const std::function<bool(Message& response)>& on_message) const {
  const std::string path = absl::StrCat("/", service_->full_name(), "/", method->name());
  const grpc::internal::RpcMethod rpc(path.c_str(),
                                      grpc::internal::RpcMethod::SERVER_STREAMING);
  const std::shared_ptr<grpc::ChannelInterface> channel =
      options_.watch_channel != nullptr ? options_.watch_channel : channel_;
  absl::Duration backoff = absl::Milliseconds(50);
  while (true) {
    std::unique_ptr<Message> request = NewRequest(method);
    fill(request.get());
    grpc::ClientContext context;  // no deadline: a watch lasts
    std::unique_ptr<grpc::ClientReader<Message>> reader(
        grpc::internal::ClientReaderFactory<Message>::Create(channel.get(), rpc, &context,
                                                             *request));
    std::unique_ptr<Message> response = NewResponse(method);
    bool stopped = false;
    while (!stopped && reader->Read(response.get())) {
      backoff = absl::Milliseconds(50);
      if (!on_message(*response)) {
        stopped = true;
        context.TryCancel();
      }
      response->Clear();
    }
    const grpc::Status status = reader->Finish();
    if (stopped) return absl::OkStatus();
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) {
      return status.ok() ? absl::UnavailableError("the server ended the watch") : FromGrpc(status);
    }
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(1));
  }
}

absl::Status ResourceClient::Watch(const WatchOptions& options,
                                   const std::function<bool(WatchEvent& event)>& on_event) const {
  if (watch_ == nullptr) return Unsupported(*service_, "Watch");
  const Descriptor* out_type = watch_->output_type();
  const FieldDescriptor* type_field = out_type->FindFieldByName("type");
  const FieldDescriptor* resource_field = out_type->FindFieldByName(LowerSnake(type_->name()));
  const FieldDescriptor* token_field = out_type->FindFieldByName("resume_token");
  const FieldDescriptor* time_field = out_type->FindFieldByName("commit_time");
  std::string token = options.resume_token;
  return Stream(
      watch_,
      [&](Message* request) {
        SetString(request, "filter", options.filter);
        SetString(request, "resume_token", token);
        SetMask(request, "read_mask", options.read_mask);
      },
      [&](Message& response) {
        const auto* r = response.GetReflection();
        WatchEvent event;
        event.type = static_cast<WatchEvent::Type>(r->GetEnumValue(response, type_field));
        event.resume_token = r->GetString(response, token_field);
        if (resource_field != nullptr && r->HasField(response, resource_field)) {
          event.resource.reset(r->ReleaseMessage(&response, resource_field));
        }
        if (time_field != nullptr && r->HasField(response, time_field)) {
          event.commit_time = TimeOf(r->GetMessage(response, time_field));
        }
        token = event.resume_token;
        return on_event(event);
      });
}

// The live document's verbs.

std::string ResourceClient::DocumentKeyName() const {
  return absl::StrCat(LowerSnake(type_->name()), "_id");
}

absl::StatusOr<DocumentUpdate> ResourceClient::AppendUpdate(const Key& id, std::string update,
                                                            std::string request_id) const {
  if (append_update_ == nullptr) return Unsupported(*service_, "Append<R>Update");
  std::unique_ptr<Message> request = NewRequest(append_update_);
  SetKey(request.get(), id, DocumentKeyName());
  const auto* r = request->GetReflection();
  r->SetString(request.get(), request->GetDescriptor()->FindFieldByName("update"),
               std::move(update));
  SetString(request.get(), "request_id", request_id.empty() ? NewRequestId() : request_id);
  std::unique_ptr<Message> response = NewResponse(append_update_);
  if (absl::Status s = CallRetryingUnknown(append_update_, *request, response.get()); !s.ok()) {
    return s;
  }
  return UpdateOf(*response);
}

absl::StatusOr<std::string> ResourceClient::ListUpdatesPage(
    const Key& id, int64_t after_seq, int page_size, const std::string& page_token,
    std::vector<DocumentUpdate>* updates) const {
  if (list_updates_ == nullptr) return Unsupported(*service_, "List<R>Updates");
  std::unique_ptr<Message> request = NewRequest(list_updates_);
  SetKey(request.get(), id, DocumentKeyName());
  const Descriptor* in = request->GetDescriptor();
  request->GetReflection()->SetInt64(request.get(), in->FindFieldByName("after_seq"), after_seq);
  if (page_size > 0) {
    request->GetReflection()->SetInt32(request.get(), in->FindFieldByName("page_size"),
                                       page_size);
  }
  SetString(request.get(), "page_token", page_token);
  std::unique_ptr<Message> response = NewResponse(list_updates_);
  if (absl::Status s = Call(list_updates_, *request, response.get()); !s.ok()) return s;
  const auto* r = response->GetReflection();
  const Descriptor* out = response->GetDescriptor();
  const FieldDescriptor* rows = out->FindFieldByName("updates");
  for (int i = 0; i < r->FieldSize(*response, rows); ++i) {
    updates->push_back(UpdateOf(r->GetRepeatedMessage(*response, rows, i)));
  }
  return r->GetString(*response, out->FindFieldByName("next_page_token"));
}

absl::StatusOr<std::vector<DocumentUpdate>> ResourceClient::ListUpdates(const Key& id,
                                                                        int64_t after_seq) const {
  std::vector<DocumentUpdate> updates;
  std::string token;
  do {
    absl::StatusOr<std::string> next = ListUpdatesPage(id, after_seq, 0, token, &updates);
    if (!next.ok()) return next.status();
    token = *std::move(next);
  } while (!token.empty());
  return updates;
}

absl::Status ResourceClient::WatchUpdates(
    const Key& id, int64_t after_seq,
    const std::function<bool(DocumentUpdate& update)>& on_update) const {
  if (watch_updates_ == nullptr) return Unsupported(*service_, "Watch<R>Updates");
  int64_t after = after_seq;
  return Stream(
      watch_updates_,
      [&](Message* request) {
        SetKey(request, id, DocumentKeyName());
        request->GetReflection()->SetInt64(
            request, request->GetDescriptor()->FindFieldByName("after_seq"), after);
      },
      [&](Message& response) {
        DocumentUpdate update = UpdateOf(response);
        after = update.seq;
        return on_update(update);
      });
}

absl::Status ResourceClient::Compact(const Key& id, int64_t through_seq, std::string state,
                                     Message* out) const {
  if (compact_ == nullptr) return Unsupported(*service_, "Compact<R>");
  std::unique_ptr<Message> request = NewRequest(compact_);
  SetKey(request.get(), id, DocumentKeyName());
  const Descriptor* in = request->GetDescriptor();
  const auto* r = request->GetReflection();
  r->SetInt64(request.get(), in->FindFieldByName("through_seq"), through_seq);
  // The state travels in the field after <r>_id and through_seq: named as
  // the resource's is.
  for (int i = 0; i < in->field_count(); ++i) {
    if (in->field(i)->type() == FieldDescriptor::TYPE_BYTES) {
      r->SetString(request.get(), in->field(i), std::move(state));
      break;
    }
  }
  return Call(compact_, *request, out);
}

}  // namespace protomodel::client
