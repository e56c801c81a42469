#include "protomodel/client/resources.h"

#include <algorithm>
#include <optional>

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/field_mask.pb.h>
#include <grpcpp/client_context.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/codegen/rpc_method.h>

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
      }
    }
  }
  return verbs;
}

absl::Status Unsupported(const ServiceDescriptor& service, absl::string_view verb) {
  return absl::UnimplementedError(
      absl::StrCat(service.full_name(), " has no ", verb, " method"));
}

void SetKey(Message* request, const Key& id) {
  const FieldDescriptor* field = request->GetDescriptor()->FindFieldByName("id");
  if (field == nullptr) return;
  const auto* r = request->GetReflection();
  if (const int64_t* number = std::get_if<int64_t>(&id)) {
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_INT64) r->SetInt64(request, field, *number);
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      r->SetString(request, field, absl::StrCat(*number));
    }
  } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    r->SetString(request, field, std::get<std::string>(id));
  }
}

void SetString(Message* message, absl::string_view name, absl::string_view value) {
  const FieldDescriptor* field = message->GetDescriptor()->FindFieldByName(std::string(name));
  if (field != nullptr && !value.empty()) {
    message->GetReflection()->SetString(message, field, std::string(value));
  }
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

absl::Status ResourceClient::Create(const Message& resource, Message* out) const {
  if (create_ == nullptr) return Unsupported(*service_, "Create");
  std::unique_ptr<Message> request = NewRequest(create_);
  const FieldDescriptor* field =
      request->GetDescriptor()->FindFieldByName(LowerSnake(type_->name()));
  request->GetReflection()->MutableMessage(request.get(), field)->CopyFrom(resource);
  SetString(request.get(), "request_id", NewRequestId());
  absl::Duration backoff = absl::Milliseconds(50);
  absl::Status status;
  for (int attempt = 0; attempt < std::max(1, options_.create_attempts); ++attempt) {
    if (attempt > 0) {
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(1));
    }
    status = Call(create_, *request, out);
    if (status.code() != absl::StatusCode::kUnknown) break;
  }
  return status;
}

absl::Status ResourceClient::Get(const Key& id, absl::string_view view, Message* out) const {
  if (get_ == nullptr) return Unsupported(*service_, "Get");
  std::unique_ptr<Message> request = NewRequest(get_);
  SetKey(request.get(), id);
  if (!view.empty()) {
    const FieldDescriptor* field = request->GetDescriptor()->FindFieldByName("view");
    const auto* value = field == nullptr || field->enum_type() == nullptr
                            ? nullptr
                            : field->enum_type()->FindValueByName(std::string(view));
    if (value == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(get_->full_name(), " has no view ", view));
    }
    request->GetReflection()->SetEnum(request.get(), field, value);
  }
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
  const Descriptor* out_type = list_->output_type();
  std::unique_ptr<Message> response(FactoryFor(out_type)->GetPrototype(out_type)->New());
  if (absl::Status s = Call(list_, *request, response.get()); !s.ok()) return s;
  const auto* r = response->GetReflection();
  for (int f = 0; f < out_type->field_count(); ++f) {
    const FieldDescriptor* field = out_type->field(f);
    if (!field->is_repeated() || field->message_type() != type_) continue;
    // Released from the end: put back in the server's order.
    const size_t start = rows->size();
    while (r->FieldSize(*response, field) > 0) {
      rows->emplace_back(r->ReleaseLast(response.get(), field));
    }
    std::reverse(rows->begin() + static_cast<std::ptrdiff_t>(start), rows->end());
  }
  const FieldDescriptor* next = out_type->FindFieldByName("next_page_token");
  return next == nullptr ? std::string() : r->GetString(*response, next);
}

absl::Status ResourceClient::Update(const Message& resource,
                                    const std::vector<std::string>& update_mask,
                                    Message* out) const {
  if (update_ == nullptr) return Unsupported(*service_, "Update");
  std::unique_ptr<Message> request = NewRequest(update_);
  const FieldDescriptor* field =
      request->GetDescriptor()->FindFieldByName(LowerSnake(type_->name()));
  request->GetReflection()->MutableMessage(request.get(), field)->CopyFrom(resource);
  SetMask(request.get(), "update_mask", update_mask);
  return Call(update_, *request, out);
}

absl::Status ResourceClient::Delete(const Key& id, absl::string_view etag) const {
  if (delete_ == nullptr) return Unsupported(*service_, "Delete");
  std::unique_ptr<Message> request = NewRequest(delete_);
  SetKey(request.get(), id);
  SetString(request.get(), "etag", etag);
  const Descriptor* out_type = delete_->output_type();
  std::unique_ptr<Message> response(FactoryFor(out_type)->GetPrototype(out_type)->New());
  return Call(delete_, *request, response.get());
}

}  // namespace protomodel::client
