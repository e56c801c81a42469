// Get (alone, in the detailed view, or batched with the Gets queued beside
// it) and List.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "db/errors.h"
#include "server/verbs/checks.h"
#include "server/verbs/crud.h"
#include "server/verbs/pending.h"

namespace protomodel::server {

using google::protobuf::Message;
using google::protobuf::Reflection;

void Crud::Get(Call* call) const {
  const MethodPlan& plan = call->plan();
  const Message& request = call->request();
  absl::StatusOr<std::string> key =
      KeyOf(request, plan.id, table_.schema().primary_key(), plan.id->name());
  if (!key.ok()) return call->Finish(key.status());
  absl::StatusOr<bool> full = FullView(plan, request);
  if (!full.ok()) return call->Finish(full.status());
  if (*full) {
    return table_.Get(*std::move(key), true, Limit(call->context()), call->response(),
                      Finisher(call));
  }
  PendingGet get{call, *std::move(key), Limit(call->context())};
  if (!gets_->Add(get)) call->Finish(Overloaded());
}

absl::StatusOr<std::vector<const db::Column*>> Crud::ReadMask(const MethodPlan& plan,
                                                              const Message& request) const {
  if (plan.read_mask == nullptr) return std::vector<const db::Column*>();
  return MaskColumns(MaskPaths(request, plan.read_mask), table_.schema(),
                     plan.read_mask->name(), false);
}

absl::StatusOr<bool> Crud::FullView(const MethodPlan& plan, const Message& request) const {
  if (plan.view == nullptr) return false;
  const int number = request.GetReflection()->GetEnumValue(request, plan.view);
  const auto* value = plan.view->enum_type()->FindValueByNumber(number);
  if (value == nullptr) {
    return db::InvalidField(plan.view->name(), db::reason::kInvalidField,
                            absl::StrCat(plan.view->name(), ": unknown value ", number));
  }
  return value->name() == "FULL";
}

void Crud::ReadGets(std::vector<PendingGet> gets, Finished finished) const {
  std::vector<PendingGet> live = Startable(std::move(gets));
  if (live.empty()) return std::move(finished)();
  if (live.size() == 1) {
    Call* call = live[0].call;
    return table_.Get(std::move(live[0].key), false, std::move(live[0].limit), call->response(),
                      [call, finished = std::move(finished)](absl::Status status) mutable {
                        std::move(finished)();
                        Answer(call, std::move(status));
                      });
  }
  std::vector<std::string> keys;
  std::vector<Message*> outs;
  std::vector<Call*> calls;
  for (PendingGet& get : live) {
    keys.push_back(get.key);
    outs.push_back(get.call->response());
    calls.push_back(get.call);
  }
  db::CallLimit limit = SharedLimit(live);
  table_.GetMany(std::move(keys), std::move(limit), std::move(outs),
                 [this, live = std::move(live), calls = std::move(calls),
                  finished = std::move(finished)](absl::Status status,
                                                  std::vector<bool> found) mutable {
                   std::move(finished)();
                   for (size_t i = 0; i < calls.size(); ++i) {
                     absl::Status own = status;
                     if (own.ok() && !found[i]) own = table_.NotFound(live[i].key);
                     Answer(calls[i], std::move(own));
                   }
                 });
}

void Crud::List(Call* call) const {
  absl::StatusOr<db::Table::PreparedList> list = PrepareList(*call);
  if (!list.ok()) return call->Finish(list.status());
  table_.List(*std::move(list), Limit(call->context()), call->response(), call->plan().rows,
              [call](absl::StatusOr<std::string> next) {
                if (next.ok()) {
                  Message* response = call->response();
                  response->GetReflection()->SetString(response, call->plan().next_page_token,
                                                       *std::move(next));
                }
                Answer(call, next.status());
              });
}

absl::StatusOr<db::Table::PreparedList> Crud::PrepareList(const Call& call) const {
  const MethodPlan& plan = call.plan();
  const Message& request = call.request();
  const Reflection* r = request.GetReflection();
  const auto text = [&](const google::protobuf::FieldDescriptor* field) {
    return field == nullptr ? std::string() : r->GetString(request, field);
  };
  absl::StatusOr<int> page_size = PageSize(request, plan.page_size);
  if (!page_size.ok()) return page_size.status();
  const std::string page_token = text(plan.page_token);
  const std::string filter = text(plan.filter);
  const std::string order_by = text(plan.order_by);

  db::ListQuery query;
  query.page_size = *page_size;
  query.page_token = page_token;
  query.filter = filter;
  query.order_by = order_by;
  absl::StatusOr<std::vector<const db::Column*>> asked = ReadMask(plan, request);
  if (!asked.ok()) return asked.status();
  query.read_columns = *std::move(asked);
  return table_.PrepareList(query);
}

}  // namespace protomodel::server
