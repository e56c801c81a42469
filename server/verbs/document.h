#ifndef PROTOMODEL_SERVER_VERBS_DOCUMENT_H_
#define PROTOMODEL_SERVER_VERBS_DOCUMENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "db/documents.h"
#include "server/verbs/batcher.h"
#include "server/verbs/call.h"

namespace protomodel::server {

// Fills `out`, a `<R>Update` of `plan` (MethodPlan::update_message), with
// one update of the document `key` (validated key text).
void FillUpdate(const MethodPlan& plan, absl::string_view key, int64_t seq,
                int64_t created_micros, absl::string_view data, google::protobuf::Message* out);

// The request's document key (`<r>_id`) and its `field` (after_seq,
// through_seq) checked to be at least `min`: INVALID_ARGUMENT naming the
// field otherwise.
absl::StatusOr<std::string> DocumentKey(const MethodPlan& plan, const db::TableSchema& table,
                                        const google::protobuf::Message& request);
absl::StatusOr<int64_t> SeqField(const google::protobuf::Message& request,
                                 const google::protobuf::FieldDescriptor* field, int64_t min);

// The unary verbs of a live document (Append<R>Update, List<R>Updates,
// Compact<R>) over one table, as Crud serves the standard ones: checked on
// gRPC's thread, one statement on the pipeline, finished when the database
// answers. Watch<R>Updates is WatchHub's.
//
// Appends that arrive while earlier ones are under way go together, in one
// statement (db::DocumentLog::AppendMany), as creates do (see Crud).
class DocumentVerbs final {
 public:
  // At most `max_waiting` appends wait for a batch.
  DocumentVerbs(const db::DocumentLog& log, absl::Duration default_deadline, int max_waiting);

  void Append(Call* call) const;
  // Appends waiting for their batch.
  int waiting() const { return static_cast<int>(appends_->waiting()); }
  void ListUpdates(Call* call) const;
  void Compact(Call* call) const;

 private:
  // An append checked and waiting for its batch.
  struct PendingAppend {
    Call* call;
    std::string key;
    const std::string* data;  // the request's
    std::string request_id;
    db::CallLimit limit;
    size_t bytes() const { return data->size(); }
  };

  db::CallLimit Limit(grpc::CallbackServerContext* context) const;
  // Stores a batch of appends, in one statement when there are several.
  void AppendBatch(std::vector<PendingAppend> appends,
                   Batcher<PendingAppend>::Finished finished) const;
  // One append on its own statement.
  void AppendOne(PendingAppend append) const;

  const db::DocumentLog& log_;
  const absl::Duration default_deadline_;
  std::unique_ptr<Batcher<PendingAppend>> appends_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_DOCUMENT_H_
