#ifndef PROTOMODEL_SERVER_VERBS_PLAN_H_
#define PROTOMODEL_SERVER_VERBS_PLAN_H_

#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/schema/schema.h"
#include "protomodel/verbs.h"

namespace protomodel::server {

// The contract's verbs (protomodel/verbs.h), each one implementation for
// every resource. Who may call a verb: tokens grant `read` or `write` besides method globs.
enum class VerbClass { kRead, kWrite };
VerbClass ClassOf(Verb verb);

// One method of a served service, recognised once at start-up: its verb,
// its resource's table, and the request and response fields each part of
// the call reads or writes (nullptr where the shape leaves one out).
struct MethodPlan {
  const google::protobuf::MethodDescriptor* method = nullptr;
  Verb verb = Verb::kGet;
  const db::TableSchema* table = nullptr;
  std::string full_name;  // "library.v1.BookService/GetBook", for tokens, metrics, logs
  std::string path;       // "/library.v1.BookService/GetBook", gRPC's

  // A batch verb: its entries, `ids` (BatchGet) or `requests` (the others).
  // The fields below that a batch entry holds (the resource, its
  // `request_id`, `update_mask`, `id`, `etag`) are then the entry's.
  const google::protobuf::FieldDescriptor* entries = nullptr;
  // Create, Update: the resource (`book`); Create: `request_id`.
  const google::protobuf::FieldDescriptor* resource = nullptr;
  const google::protobuf::FieldDescriptor* request_id = nullptr;
  // Get, Delete: `id`; Get, BatchGet: `view`; Delete: `etag`.
  const google::protobuf::FieldDescriptor* id = nullptr;
  const google::protobuf::FieldDescriptor* view = nullptr;
  const google::protobuf::FieldDescriptor* etag = nullptr;
  // List: the request's paging, filter, order and mask (BatchGet too), and
  // the response's rows (BatchGet, BatchCreate, BatchUpdate too) and next
  // token.
  const google::protobuf::FieldDescriptor* page_size = nullptr;
  const google::protobuf::FieldDescriptor* page_token = nullptr;
  const google::protobuf::FieldDescriptor* filter = nullptr;
  const google::protobuf::FieldDescriptor* order_by = nullptr;
  const google::protobuf::FieldDescriptor* read_mask = nullptr;
  const google::protobuf::FieldDescriptor* rows = nullptr;
  const google::protobuf::FieldDescriptor* next_page_token = nullptr;
  // Update: `update_mask`.
  const google::protobuf::FieldDescriptor* update_mask = nullptr;
  // Watch (besides `filter` and `read_mask`): the request's `resume_token`;
  // each streamed message's `type` (protomodel.v1.ChangeType), resource,
  // `resume_token` and `commit_time`.
  const google::protobuf::FieldDescriptor* resume_token = nullptr;
  const google::protobuf::FieldDescriptor* change_type = nullptr;
  const google::protobuf::FieldDescriptor* changed = nullptr;
  const google::protobuf::FieldDescriptor* event_token = nullptr;
  const google::protobuf::FieldDescriptor* commit_time = nullptr;
  // The document verbs. `id` is the request's `<r>_id`; Append has
  // `request_id`, ListUpdates `page_size`, `page_token`, `rows` (`updates`)
  // and `next_page_token`. Besides: Append's `update`, ListUpdates' and
  // WatchUpdates' `after_seq`, Compact's `through_seq` and the document's
  // state (named as the resource's field is).
  const google::protobuf::FieldDescriptor* update = nullptr;
  const google::protobuf::FieldDescriptor* after_seq = nullptr;
  const google::protobuf::FieldDescriptor* through_seq = nullptr;
  const google::protobuf::FieldDescriptor* state = nullptr;
  // The fields of the `<R>Update` message the document verbs answer with
  // (Append), list (ListUpdates) or stream (WatchUpdates).
  struct UpdateMessage {
    const google::protobuf::FieldDescriptor* key = nullptr;   // `<r>_id`
    const google::protobuf::FieldDescriptor* seq = nullptr;
    const google::protobuf::FieldDescriptor* data = nullptr;  // `update`
    const google::protobuf::FieldDescriptor* created_at = nullptr;
  } update_message;
};

// The plan of every method of `service`, each resource's table taken from
// `schema`. A method that is not one of the verbs, or whose request or
// response does not have the verb's shape, is INVALID_ARGUMENT naming the
// method and the field that does not fit.
absl::StatusOr<std::vector<MethodPlan>> PlanService(
    const google::protobuf::ServiceDescriptor& service, const db::Schema& schema);

// The table messages the methods of `services` serve, each once, in the
// order first met.
std::vector<const google::protobuf::Descriptor*> ServedMessages(
    const std::vector<const google::protobuf::ServiceDescriptor*>& services);

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_PLAN_H_
