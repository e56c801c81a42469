#include "server/verbs/plan.h"

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "protomodel/names.h"
#include "protomodel/v1/options.pb.h"

namespace protomodel::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::MethodDescriptor;

// google.protobuf.FieldMask as the pool of `message` knows it.
const Descriptor* FieldMaskType(const Descriptor& message) {
  return message.file()->pool()->FindMessageTypeByName("google.protobuf.FieldMask");
}

#define PLAN_FIELD(target, expr)            \
  do {                                      \
    auto field = (expr);                    \
    if (!field.ok()) return field.status(); \
    plan_.target = *field;                  \
  } while (false)

// Checks one method's request and response against its verb's shape and
// fills the plan's fields. Errors name the method and the field.
class Planner {
 public:
  Planner(const MethodDescriptor& method, MethodPlan& plan) : method_(method), plan_(plan) {}

  absl::Status Misfit(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("method ", plan_.full_name, " does not fit the ", VerbName(plan_.verb),
                     " verb: ", what));
  }

  // The request field `name` of `type` (and message type `message`),
  // recorded as expected; nullptr when absent and not `required`.
  absl::StatusOr<const FieldDescriptor*> Field(const Descriptor* in, absl::string_view name,
                                               FieldDescriptor::Type type, bool required,
                                               const Descriptor* message = nullptr,
                                               bool repeated = false) {
    expected_.push_back(std::string(name));
    const FieldDescriptor* field = in->FindFieldByName(std::string(name));
    if (field == nullptr) {
      if (!required) return nullptr;
      return Misfit(absl::StrCat(in->full_name(), " has no field '", name, "'"));
    }
    const bool fits = field->type() == type && field->is_repeated() == repeated &&
                      (message == nullptr || field->message_type() == message);
    if (!fits) {
      return Misfit(absl::StrCat("field ", field->full_name(), " must be ",
                                 repeated ? "repeated " : "",
                                 message != nullptr ? message->full_name()
                                                    : FieldDescriptor::TypeName(type)));
    }
    return field;
  }

  // Every field of `in` is one the verb reads.
  absl::Status NothingElse(const Descriptor* in) {
    for (int i = 0; i < in->field_count(); ++i) {
      if (std::find(expected_.begin(), expected_.end(), in->field(i)->name()) == expected_.end()) {
        return Misfit(absl::StrCat("field ", in->field(i)->full_name(),
                                   " is not one of the verb's (",
                                   absl::StrJoin(expected_, ", "), ")"));
      }
    }
    expected_.clear();
    return absl::OkStatus();
  }

  // The key field `id`, of the primary key's type.
  absl::StatusOr<const FieldDescriptor*> Key(const Descriptor* in) {
    const FieldDescriptor* pk = plan_.table->primary_key().field;
    return Field(in, "id", pk->type(), true);
  }

  absl::Status Plan() {
    const Descriptor* in = method_.input_type();
    const Descriptor* out = method_.output_type();
    const Descriptor* resource = plan_.table->descriptor();
    if (plan_.verb == Verb::kWatch) return PlanWatch(in, out);
    if (IsDocumentVerb(plan_.verb)) return PlanDocument(in, out);
    if (!IsBatch(plan_.verb)) {
      if (absl::Status s = PlanRequest(in, plan_.verb); !s.ok()) return s;
      if (plan_.verb == Verb::kList) return PlanRows(out, true);
      if (plan_.verb == Verb::kDelete) return ReturnsEmpty(out);
      if (out != resource) {
        return Misfit(absl::StrCat("it must return ", resource->full_name(), ", not ",
                                   out->full_name()));
      }
      return absl::OkStatus();
    }
    if (plan_.verb == Verb::kBatchGet) {
      // The entries are the keys themselves.
      PLAN_FIELD(entries, Field(in, "ids", plan_.table->primary_key().field->type(), true,
                                nullptr, true));
      if (absl::Status s = PlanView(in); !s.ok()) return s;
      PLAN_FIELD(read_mask, Field(in, "read_mask", FieldDescriptor::TYPE_MESSAGE, false,
                                  FieldMaskType(*in)));
      if (absl::Status s = NothingElse(in); !s.ok()) return s;
      return PlanRows(out, false);
    }
    // The entries are the single verb's requests, planned as its own are.
    PLAN_FIELD(entries, Field(in, "requests", FieldDescriptor::TYPE_MESSAGE, true, nullptr, true));
    if (absl::Status s = NothingElse(in); !s.ok()) return s;
    if (absl::Status s = PlanRequest(plan_.entries->message_type(), EntryVerb(plan_.verb));
        !s.ok()) {
      return s;
    }
    if (plan_.verb == Verb::kBatchDelete) return ReturnsEmpty(out);
    return PlanRows(out, false);
  }

 private:
  // A live document's verb: its request, and the `<R>Update` messages it
  // answers with (Compact: the resource).
  absl::Status PlanDocument(const Descriptor* in, const Descriptor* out) {
    const Descriptor* resource = plan_.table->descriptor();
    const std::string key_name = absl::StrCat(LowerSnake(resource->name()), "_id");
    PLAN_FIELD(id, Field(in, key_name, plan_.table->primary_key().field->type(), true));
    switch (plan_.verb) {
      case Verb::kAppendUpdate:
        PLAN_FIELD(update, Field(in, "update", FieldDescriptor::TYPE_BYTES, true));
        PLAN_FIELD(request_id, Field(in, "request_id", FieldDescriptor::TYPE_STRING, false));
        break;
      case Verb::kListUpdates:
        PLAN_FIELD(after_seq, Field(in, "after_seq", FieldDescriptor::TYPE_INT64, true));
        PLAN_FIELD(page_size, Field(in, "page_size", FieldDescriptor::TYPE_INT32, false));
        PLAN_FIELD(page_token, Field(in, "page_token", FieldDescriptor::TYPE_STRING, false));
        break;
      case Verb::kWatchUpdates:
        PLAN_FIELD(after_seq, Field(in, "after_seq", FieldDescriptor::TYPE_INT64, true));
        break;
      default:  // Compact
        PLAN_FIELD(through_seq, Field(in, "through_seq", FieldDescriptor::TYPE_INT64, true));
        PLAN_FIELD(state, Field(in, plan_.table->document()->state->name,
                                FieldDescriptor::TYPE_BYTES, true));
        break;
    }
    if (absl::Status s = NothingElse(in); !s.ok()) return s;
    if (plan_.verb == Verb::kCompact) {
      if (out != resource) {
        return Misfit(absl::StrCat("it must return ", resource->full_name(), ", not ",
                                   out->full_name()));
      }
      return absl::OkStatus();
    }
    // <R>Update, beside the resource.
    const std::string update_name = absl::StrCat(resource->full_name(), "Update");
    const Descriptor* update = resource->file()->pool()->FindMessageTypeByName(update_name);
    if (update == nullptr) return Misfit(absl::StrCat("there is no message ", update_name));
    if (plan_.verb == Verb::kListUpdates) {
      PLAN_FIELD(rows, Field(out, "updates", FieldDescriptor::TYPE_MESSAGE, true, update, true));
      PLAN_FIELD(next_page_token,
                 Field(out, "next_page_token", FieldDescriptor::TYPE_STRING, true));
      if (absl::Status s = NothingElse(out); !s.ok()) return s;
    } else if (out != update) {
      return Misfit(absl::StrCat("it must ", plan_.verb == Verb::kWatchUpdates ? "stream " : "return ",
                                 update_name, ", not ", out->full_name()));
    }
    PLAN_FIELD(update_message.key,
               Field(update, key_name, plan_.table->primary_key().field->type(), true));
    PLAN_FIELD(update_message.seq, Field(update, "seq", FieldDescriptor::TYPE_INT64, true));
    PLAN_FIELD(update_message.data, Field(update, "update", FieldDescriptor::TYPE_BYTES, true));
    PLAN_FIELD(update_message.created_at,
               Field(update, "created_at", FieldDescriptor::TYPE_MESSAGE, false,
                     update->file()->pool()->FindMessageTypeByName("google.protobuf.Timestamp")));
    return NothingElse(update);
  }

  // A watch's request, and the message it streams.
  absl::Status PlanWatch(const Descriptor* in, const Descriptor* out) {
    PLAN_FIELD(filter, Field(in, "filter", FieldDescriptor::TYPE_STRING, false));
    PLAN_FIELD(resume_token, Field(in, "resume_token", FieldDescriptor::TYPE_STRING, false));
    PLAN_FIELD(read_mask, Field(in, "read_mask", FieldDescriptor::TYPE_MESSAGE, false,
                                FieldMaskType(*in)));
    if (absl::Status s = NothingElse(in); !s.ok()) return s;
    const Descriptor* resource = plan_.table->descriptor();
    PLAN_FIELD(change_type, Field(out, "type", FieldDescriptor::TYPE_ENUM, true));
    if (plan_.change_type->enum_type()->full_name() != "protomodel.v1.ChangeType") {
      return Misfit(absl::StrCat("field ", plan_.change_type->full_name(),
                                 " must be protomodel.v1.ChangeType"));
    }
    PLAN_FIELD(changed, Field(out, LowerSnake(resource->name()), FieldDescriptor::TYPE_MESSAGE,
                              true, resource));
    PLAN_FIELD(event_token, Field(out, "resume_token", FieldDescriptor::TYPE_STRING, true));
    PLAN_FIELD(commit_time,
               Field(out, "commit_time", FieldDescriptor::TYPE_MESSAGE, false,
                     out->file()->pool()->FindMessageTypeByName("google.protobuf.Timestamp")));
    return NothingElse(out);
  }

  // The fields of a request of the single verb `verb` (a call's, or a
  // batch entry's), all of them.
  absl::Status PlanRequest(const Descriptor* in, Verb verb) {
    const Descriptor* resource = plan_.table->descriptor();
    const std::string singular = LowerSnake(resource->name());
    switch (verb) {
      case Verb::kCreate:
        PLAN_FIELD(resource, Field(in, singular, FieldDescriptor::TYPE_MESSAGE, true, resource));
        PLAN_FIELD(request_id, Field(in, "request_id", FieldDescriptor::TYPE_STRING, false));
        break;
      case Verb::kGet:
        PLAN_FIELD(id, Key(in));
        if (absl::Status s = PlanView(in); !s.ok()) return s;
        break;
      case Verb::kList:
        PLAN_FIELD(page_size, Field(in, "page_size", FieldDescriptor::TYPE_INT32, false));
        PLAN_FIELD(page_token, Field(in, "page_token", FieldDescriptor::TYPE_STRING, false));
        PLAN_FIELD(filter, Field(in, "filter", FieldDescriptor::TYPE_STRING, false));
        PLAN_FIELD(order_by, Field(in, "order_by", FieldDescriptor::TYPE_STRING, false));
        PLAN_FIELD(read_mask, Field(in, "read_mask", FieldDescriptor::TYPE_MESSAGE, false,
                                    FieldMaskType(*in)));
        break;
      case Verb::kUpdate:
        PLAN_FIELD(resource, Field(in, singular, FieldDescriptor::TYPE_MESSAGE, true, resource));
        PLAN_FIELD(update_mask,
                   Field(in, "update_mask", FieldDescriptor::TYPE_MESSAGE, true,
                         FieldMaskType(*in)));
        break;
      case Verb::kDelete:
        PLAN_FIELD(id, Key(in));
        PLAN_FIELD(etag, Field(in, "etag", FieldDescriptor::TYPE_STRING, false));
        break;
      default:
        break;
    }
    return NothingElse(in);
  }

  // The optional `view` enum, which must have a FULL value.
  absl::Status PlanView(const Descriptor* in) {
    PLAN_FIELD(view, Field(in, "view", FieldDescriptor::TYPE_ENUM, false));
    if (plan_.view != nullptr && plan_.view->enum_type()->FindValueByName("FULL") == nullptr) {
      return Misfit(absl::StrCat("enum ", plan_.view->enum_type()->full_name(),
                                 " of field view has no value FULL"));
    }
    return absl::OkStatus();
  }

  // The response's rows, named by the plural the method's name ends in,
  // and (List) the next page's token: nothing else.
  absl::Status PlanRows(const Descriptor* out, bool paged) {
    const std::string plural = LowerSnake(method_.name().substr(VerbName(plan_.verb).size()));
    PLAN_FIELD(rows, Field(out, plural, FieldDescriptor::TYPE_MESSAGE, true,
                           plan_.table->descriptor(), true));
    if (paged) {
      PLAN_FIELD(next_page_token,
                 Field(out, "next_page_token", FieldDescriptor::TYPE_STRING, true));
    }
    return NothingElse(out);
  }

  absl::Status ReturnsEmpty(const Descriptor* out) const {
    if (out->full_name() != "google.protobuf.Empty") {
      return Misfit(absl::StrCat("it must return google.protobuf.Empty, not ",
                                 out->full_name()));
    }
    return absl::OkStatus();
  }

  const MethodDescriptor& method_;
  MethodPlan& plan_;
  std::vector<std::string> expected_;
};

#undef PLAN_FIELD

}  // namespace

VerbClass ClassOf(Verb verb) {
  return verb == Verb::kGet || verb == Verb::kList || verb == Verb::kBatchGet ||
                 verb == Verb::kWatch || verb == Verb::kListUpdates ||
                 verb == Verb::kWatchUpdates
             ? VerbClass::kRead
             : VerbClass::kWrite;
}

absl::StatusOr<std::vector<MethodPlan>> PlanService(
    const google::protobuf::ServiceDescriptor& service, const db::Schema& schema) {
  std::vector<MethodPlan> plans;
  for (int m = 0; m < service.method_count(); ++m) {
    const MethodDescriptor& method = *service.method(m);
    MethodPlan plan;
    plan.method = &method;
    plan.full_name = absl::StrCat(service.full_name(), "/", method.name());
    plan.path = absl::StrCat("/", plan.full_name);
    const std::optional<Verb> verb = VerbOf(method);
    if (!verb.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "method ", plan.full_name, " is not one of the verbs (Create, Get, Update, Delete "
          "followed by the resource's name; List, BatchGet, BatchCreate, BatchUpdate, "
          "BatchDelete, Watch followed by its plural; for a resource with a live document "
          "Append<R>Update, List<R>Updates, Watch<R>Updates, Compact<R>)"));
    }
    plan.verb = *verb;
    if (plan.verb == Verb::kWatch || plan.verb == Verb::kWatchUpdates) {
      if (method.client_streaming() || !method.server_streaming()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "method ", plan.full_name, " must stream its responses (returns (stream ...)) "
            "and take one request"));
      }
    } else if (method.client_streaming() || method.server_streaming()) {
      return absl::InvalidArgumentError(
          absl::StrCat("method ", plan.full_name, " must be unary, not streaming"));
    }
    const Descriptor* resource = ResourceOf(method, plan.verb);
    if (!IsTable(resource)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "method ", plan.full_name, " does not fit the ", VerbName(plan.verb),
          " verb: it names no message with the (protomodel.v1.table) option",
          resource != nullptr ? absl::StrCat(" (", resource->full_name(), " has none)") : ""));
    }
    plan.table = schema.Find(resource);
    if (plan.table == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("method ", plan.full_name, ": ", resource->full_name(), " has no table"));
    }
    if (plan.verb != Verb::kList && plan.verb != Verb::kWatch && !IsBatch(plan.verb) &&
        !IsDocumentVerb(plan.verb) &&
        method.name() != absl::StrCat(VerbName(plan.verb), resource->name())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "method ", plan.full_name, " does not fit the ", VerbName(plan.verb), " verb: want ",
          VerbName(plan.verb), resource->name(), " for ", resource->full_name()));
    }
    if (absl::Status s = Planner(method, plan).Plan(); !s.ok()) return s;
    plans.push_back(std::move(plan));
  }
  return plans;
}

std::vector<const Descriptor*> ServedMessages(
    const std::vector<const google::protobuf::ServiceDescriptor*>& services) {
  std::vector<const Descriptor*> messages;
  for (const auto* service : services) {
    for (int m = 0; m < service->method_count(); ++m) {
      const MethodDescriptor& method = *service->method(m);
      const std::optional<Verb> verb = VerbOf(method);
      if (!verb.has_value()) continue;
      const Descriptor* resource = ResourceOf(method, *verb);
      if (IsTable(resource) &&
          std::find(messages.begin(), messages.end(), resource) == messages.end()) {
        messages.push_back(resource);
      }
    }
  }
  return messages;
}

}  // namespace protomodel::server
