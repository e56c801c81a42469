// A live document's unary verbs: Append<R>Update, List<R>Updates, Compact<R>.
#include "server/verbs/document.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "db/errors.h"
#include "db/sql/codec.h"
#include "db/sql/page_token.h"
#include "db/sql/values.h"
#include "server/verbs/checks.h"
#include "server/verbs/pending.h"

namespace protomodel::server {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

constexpr absl::string_view kPageDomain = "protomodel.update_page.v1";

// A List<R>Updates page token: the document, the request's after_seq and
// the seq the next page starts after.
std::string UpdatesPageToken(absl::string_view key, int64_t after, int64_t next) {
  return db::SealToken(kPageDomain, absl::StrCat(key, "\n", after, "\n", next));
}

absl::StatusOr<int64_t> OpenUpdatesPageToken(absl::string_view token, absl::string_view key,
                                             int64_t after) {
  const std::optional<std::string> payload = db::OpenToken(kPageDomain, token);
  std::vector<absl::string_view> parts;
  if (payload.has_value()) parts = absl::StrSplit(*payload, '\n');
  int64_t from = 0;
  int64_t next = 0;
  if (parts.size() != 3 || parts[0] != key || !absl::SimpleAtoi(parts[1], &from) ||
      from != after || !absl::SimpleAtoi(parts[2], &next) || next < after) {
    return db::InvalidField("page_token", db::reason::kInvalidPageToken,
                            "page_token: not a token of this request's pages (the document "
                            "and after_seq must stay as they were)");
  }
  return next;
}

}  // namespace

void FillUpdate(const MethodPlan& plan, absl::string_view key, int64_t seq,
                int64_t created_micros, absl::string_view data, Message* out) {
  const MethodPlan::UpdateMessage& m = plan.update_message;
  const auto* r = out->GetReflection();
  if (m.key->cpp_type() == FieldDescriptor::CPPTYPE_INT64) {
    int64_t id = 0;
    (void)absl::SimpleAtoi(key, &id);  // validated text
    r->SetInt64(out, m.key, id);
  } else {
    r->SetString(out, m.key, std::string(key));
  }
  r->SetInt64(out, m.seq, seq);
  r->SetString(out, m.data, std::string(data));
  if (m.created_at != nullptr) {
    db::SetTimestampMicros(r->MutableMessage(out, m.created_at), created_micros);
  }
}

absl::StatusOr<std::string> DocumentKey(const MethodPlan& plan, const db::TableSchema& table,
                                        const Message& request) {
  return KeyOf(request, plan.id, table.primary_key(), plan.id->name());
}

absl::StatusOr<int64_t> SeqField(const Message& request, const FieldDescriptor* field,
                                 int64_t min) {
  const int64_t value = request.GetReflection()->GetInt64(request, field);
  if (value < min) {
    return db::InvalidField(field->name(), db::reason::kInvalidField,
                            absl::StrCat(field->name(), ": must be at least ", min, ", not ",
                                         value));
  }
  return value;
}

DocumentVerbs::DocumentVerbs(const db::DocumentLog& log, absl::Duration default_deadline,
                             int max_waiting)
    : log_(log),
      default_deadline_(default_deadline),
      appends_(std::make_unique<Batcher<PendingAppend>>(
          BatchLimits{.max_batch = db::DocumentLog::kMaxAppendBatch,
                      .max_queued = static_cast<size_t>(max_waiting)},
          [this](std::vector<PendingAppend> appends, Batcher<PendingAppend>::Finished finished) {
            AppendBatch(std::move(appends), std::move(finished));
          })) {}

db::CallLimit DocumentVerbs::Limit(grpc::CallbackServerContext* context) const {
  return LimitOf(context, default_deadline_);
}

void DocumentVerbs::Append(Call* call) const {
  const MethodPlan& plan = call->plan();
  const Message& request = call->request();
  const auto* r = request.GetReflection();
  absl::StatusOr<std::string> key = DocumentKey(plan, log_.schema(), request);
  if (!key.ok()) return call->Finish(key.status());
  std::string scratch;
  const std::string& data = r->GetStringReference(request, plan.update, &scratch);
  const std::string& path = plan.update->name();
  if (data.empty()) {
    return call->Finish(db::InvalidField(path, db::reason::kRequiredField,
                                         absl::StrCat(path, ": an update holds at least 1 byte")));
  }
  if (absl::Status s = db::CheckBytesSize(data.size(), path); !s.ok()) return call->Finish(s);
  std::string request_id;
  if (plan.request_id != nullptr) {
    const std::string text = r->GetString(request, plan.request_id);
    if (!text.empty()) {
      absl::StatusOr<std::string> uuid = db::CanonicalUuid(text, plan.request_id->name());
      if (!uuid.ok()) return call->Finish(uuid.status());
      request_id = *std::move(uuid);
    }
  }
  PendingAppend pending{call, *std::move(key), &data, std::move(request_id),
                        Limit(call->context())};
  if (!appends_->Add(pending)) call->Finish(Overloaded());
}

namespace {

// Answers an append with the seq it took.
void AnswerAppend(Call* call, const std::string& data,
                  const absl::StatusOr<db::DocumentLog::Appended>& appended) {
  if (appended.ok()) {
    FillUpdate(call->plan(), appended->key, appended->seq, appended->created_micros, data,
               call->response());
  }
  Answer(call, appended.status());
}

}  // namespace

void DocumentVerbs::AppendOne(PendingAppend append) const {
  Call* call = append.call;
  const std::string* data = append.data;
  log_.Append(std::move(append.key), *data, std::move(append.request_id), std::move(append.limit),
              [call, data](absl::StatusOr<db::DocumentLog::Appended> appended) {
                AnswerAppend(call, *data, appended);
              });
}

void DocumentVerbs::AppendBatch(std::vector<PendingAppend> appends,
                                Batcher<PendingAppend>::Finished finished) const {
  std::vector<PendingAppend> live = Startable(std::move(appends));
  if (live.empty()) return std::move(finished)();
  if (live.size() == 1) {
    Call* call = live[0].call;
    const std::string* data = live[0].data;
    return log_.Append(std::move(live[0].key), *data, std::move(live[0].request_id),
                       std::move(live[0].limit),
                       [call, data, finished = std::move(finished)](
                           absl::StatusOr<db::DocumentLog::Appended> appended) mutable {
                         std::move(finished)();
                         AnswerAppend(call, *data, appended);
                       });
  }
  std::vector<db::DocumentLog::PendingAppend> rows;
  for (const PendingAppend& append : live) {
    rows.push_back({append.key, *append.data, append.request_id});
  }
  db::CallLimit limit = SharedLimit(live);
  log_.AppendMany(
      std::move(rows), std::move(limit),
      [this, live = std::move(live), finished = std::move(finished)](
          absl::StatusOr<std::vector<absl::StatusOr<db::DocumentLog::Appended>>> each) mutable {
        std::move(finished)();
        if (each.ok()) {
          for (size_t i = 0; i < live.size(); ++i) {
            AnswerAppend(live[i].call, *live[i].data, (*each)[i]);
          }
          return;
        }
        // Nothing was written. In doubt, unreachable or out of time: the same
        // answer for all. Refused (a request_id recorded before, a deadlock
        // with another replica's batch): each on its own statement.
        const absl::StatusCode code = each.status().code();
        if (code == absl::StatusCode::kUnknown || code == absl::StatusCode::kUnavailable ||
            code == absl::StatusCode::kCancelled || code == absl::StatusCode::kDeadlineExceeded) {
          for (PendingAppend& append : live) Answer(append.call, each.status());
          return;
        }
        for (PendingAppend& append : live) AppendOne(std::move(append));
      });
}

void DocumentVerbs::ListUpdates(Call* call) const {
  const MethodPlan& plan = call->plan();
  const Message& request = call->request();
  const auto* r = request.GetReflection();
  absl::StatusOr<std::string> key = DocumentKey(plan, log_.schema(), request);
  if (!key.ok()) return call->Finish(key.status());
  absl::StatusOr<int64_t> after = SeqField(request, plan.after_seq, 0);
  if (!after.ok()) return call->Finish(after.status());
  absl::StatusOr<int> page_size = PageSize(request, plan.page_size);
  if (!page_size.ok()) return call->Finish(page_size.status());
  int64_t from = *after;
  const std::string token = plan.page_token != nullptr ? r->GetString(request, plan.page_token) : "";
  if (!token.empty()) {
    absl::StatusOr<int64_t> next = OpenUpdatesPageToken(token, *key, *after);
    if (!next.ok()) return call->Finish(next.status());
    from = *next;
  }
  const std::string document = *key;
  log_.ReadUpdates(
      *std::move(key), from, *page_size, db::kMaxListBytes, Limit(call->context()),
      [this, call, document, after = *after, from](absl::StatusOr<db::DocumentLog::Page> page) {
        if (!page.ok()) return Answer(call, page.status());
        if (absl::Status s =
                log_.CheckAfter(document, from, page->update_seq, page->compacted_seq,
                                call->plan().after_seq->name());
            !s.ok()) {
          return Answer(call, s);
        }
        const MethodPlan& called = call->plan();
        Message* response = call->response();
        const auto* out = response->GetReflection();
        for (const db::DocumentLog::Entry& entry : page->updates) {
          FillUpdate(called, document, entry.seq, entry.created_micros, entry.data,
                     out->AddMessage(response, called.rows));
        }
        const int64_t last = page->updates.empty() ? from : page->updates.back().seq;
        if (last < page->update_seq) {
          out->SetString(response, called.next_page_token,
                         UpdatesPageToken(document, after, last));
        }
        Answer(call, absl::OkStatus());
      });
}

void DocumentVerbs::Compact(Call* call) const {
  const MethodPlan& plan = call->plan();
  const Message& request = call->request();
  absl::StatusOr<std::string> key = DocumentKey(plan, log_.schema(), request);
  if (!key.ok()) return call->Finish(key.status());
  absl::StatusOr<int64_t> through = SeqField(request, plan.through_seq, 1);
  if (!through.ok()) return call->Finish(through.status());
  std::string scratch;
  const std::string& state = request.GetReflection()->GetStringReference(request, plan.state,
                                                                          &scratch);
  if (absl::Status s = db::CheckBytesSize(state.size(), plan.state->name()); !s.ok()) {
    return call->Finish(s);
  }
  log_.Compact(*std::move(key), *through, state, Limit(call->context()), call->response(),
               [call](absl::Status status) { Answer(call, std::move(status)); });
}

}  // namespace protomodel::server
