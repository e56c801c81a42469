#ifndef PROTOMODEL_CLIENT_RESOURCES_H_
#define PROTOMODEL_CLIENT_RESOURCES_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/channel.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "protomodel/client/call.h"

namespace protomodel::client {

// A resource's key: an integer id or a UUID (or other text) key.
using Key = std::variant<int64_t, std::string>;

// What a List asks for (AIP-132, -158, -160, -157).
struct ListOptions {
  std::string filter;
  std::string order_by;
  std::vector<std::string> read_mask;
  int page_size = 0;  // 0: the server's default; List follows pages itself
  std::string page_token;
};

// What a watch asks for (Watch<Rs>).
struct WatchOptions {
  std::string filter;  // List's syntax; "": every resource
  std::vector<std::string> read_mask;
  // An earlier event's resume_token: start just after it; "": from now.
  std::string resume_token;
};

// One message of a watch.
struct WatchEvent {
  // protomodel.v1.ChangeType's values.
  enum class Type { kUnspecified = 0, kAdded = 1, kModified = 2, kRemoved = 3, kSynced = 4 };
  Type type = Type::kUnspecified;
  // The resource (REMOVED: only its id); null for SYNCED.
  std::unique_ptr<google::protobuf::Message> resource;
  std::string resume_token;
  absl::Time commit_time = absl::InfinitePast();  // InfinitePast for SYNCED

  // The resource as the generated type R, or nullptr.
  template <typename R>
  const R* As() const {
    return dynamic_cast<const R*>(resource.get());
  }
};

// One update of a live document (a `<R>Update` message).
struct DocumentUpdate {
  int64_t seq = 0;
  std::string data;  // the update's bytes, opaque (a Yjs update, say)
  absl::Time created_at = absl::InfinitePast();
};

// "ADDED", "MODIFIED", "REMOVED", "SYNCED".
const char* TypeName(WatchEvent::Type type);

// The typed client any resource gets, derived from its descriptor: the
// methods of the service that serves `type` (Create<R>, Get<R>, List<Rs>,
// Update<R>, Delete<R>, found by their names and shapes), called with the
// deadline of `options`. Create sends a fresh request_id, so the channel's
// retries (ChannelOptions) never create twice. Works on any message: the
// generated ones through Resources<R>, a descriptor pool's through this
// class directly. Errors keep the server's details (DetailsOf).
class ResourceClient {
 public:
  // FAILED_PRECONDITION when `type`'s file has no service serving it.
  static absl::StatusOr<ResourceClient> For(const google::protobuf::Descriptor* type,
                                            std::shared_ptr<grpc::ChannelInterface> channel,
                                            CallOptions options = {});

  const google::protobuf::ServiceDescriptor& service() const { return *service_; }

  // Each call fills `out` (a message of the resource's type) or returns the
  // call's error.
  absl::Status Create(const google::protobuf::Message& resource,
                      google::protobuf::Message* out) const;
  // `view` names a value of the request's view enum ("FULL"); "" for none.
  absl::Status Get(const Key& id, absl::string_view view, google::protobuf::Message* out) const;
  // One page; fills `rows` and returns the next page token ("" on the last).
  absl::StatusOr<std::string> ListPage(
      const ListOptions& options,
      std::vector<std::unique_ptr<google::protobuf::Message>>* rows) const;
  absl::Status Update(const google::protobuf::Message& resource,
                      const std::vector<std::string>& update_mask,
                      google::protobuf::Message* out) const;
  absl::Status Delete(const Key& id, absl::string_view etag) const;

  // The batch methods (AIP-231, 233, 234, 235): every entry is done, or
  // none; the rows come back in the entries' order. An error names the
  // entry at fault ("requests[3].book.title", "ids[2]").
  //
  // The rows of `ids` (a repeated id as often as asked), with `view` and
  // `read_mask` as Get and List take them.
  absl::Status BatchGet(const std::vector<Key>& ids, absl::string_view view,
                        const std::vector<std::string>& read_mask,
                        std::vector<std::unique_ptr<google::protobuf::Message>>* rows) const;
  // Creates `resources`, the i-th with request_ids[i] (a UUID; missing or
  // empty: a fresh one), so a batch sent again, by the channel's retries
  // or by a caller resuming, creates nothing twice and returns what the
  // first one created.
  absl::Status BatchCreate(const std::vector<const google::protobuf::Message*>& resources,
                           const std::vector<std::string>& request_ids,
                           std::vector<std::unique_ptr<google::protobuf::Message>>* rows) const;
  struct UpdateEntry {
    const google::protobuf::Message* resource = nullptr;
    std::vector<std::string> update_mask;  // empty: the fields set in `resource`
  };
  absl::Status BatchUpdate(const std::vector<UpdateEntry>& updates,
                           std::vector<std::unique_ptr<google::protobuf::Message>>* rows) const;
  struct DeleteEntry {
    Key id;
    std::string etag;  // empty: unconditional
  };
  absl::Status BatchDelete(const std::vector<DeleteEntry>& deletes) const;

  // Watches the resources `options` filters (Watch<Rs>) on the watch
  // channel (CallOptions::watch_channel), calling `on_event` with each
  // message, SYNCED first, until it returns false (then OK). A watch has no
  // deadline. When the stream ends UNAVAILABLE (a replica draining, a
  // watcher that fell behind, a network break) it resumes by itself from
  // the last resume_token, backing off from 50 ms to 1 s; any other error
  // ends it (OUT_OF_RANGE: list again and watch anew). `on_event` runs at
  // least every 10 s (SYNCED), so it can stop an idle watch.
  absl::Status Watch(const WatchOptions& options,
                     const std::function<bool(WatchEvent& event)>& on_event) const;

  // A live document's verbs (Append<R>Update, List<R>Updates,
  // Watch<R>Updates, Compact<R>). A reader gets the resource, applies its
  // state, then the updates after its compacted_seq (ListUpdates or
  // WatchUpdates); OUT_OF_RANGE from either means read the resource again.
  //
  // Stores `update` as the document's next update and returns its seq. A
  // fresh request_id (or the one given) makes the channel's retries, and
  // those of an UNKNOWN outcome, store it once.
  absl::StatusOr<DocumentUpdate> AppendUpdate(const Key& id, std::string update,
                                              std::string request_id = "") const;
  // One page of the updates after `after_seq`; the next page token ("" on
  // the last).
  absl::StatusOr<std::string> ListUpdatesPage(const Key& id, int64_t after_seq, int page_size,
                                              const std::string& page_token,
                                              std::vector<DocumentUpdate>* updates) const;
  // Every update after `after_seq`, following the pages.
  absl::StatusOr<std::vector<DocumentUpdate>> ListUpdates(const Key& id, int64_t after_seq) const;
  // The updates after `after_seq`, then each one as it commits, in seq
  // order, to `on_update` until it returns false (then OK); on the watch
  // channel, with no deadline, resuming by itself after UNAVAILABLE from
  // the last seq it got. NOT_FOUND when the document is deleted;
  // OUT_OF_RANGE when it was compacted or replaced past the watch.
  absl::Status WatchUpdates(const Key& id, int64_t after_seq,
                            const std::function<bool(DocumentUpdate& update)>& on_update) const;
  // `state` is the document's state merged with its updates up to
  // `through_seq`: it replaces the state, and those updates go. Fills `out`.
  // ABORTED when someone compacted that far first.
  absl::Status Compact(const Key& id, int64_t through_seq, std::string state,
                       google::protobuf::Message* out) const;

 private:
  ResourceClient() = default;
  // Calls `method` with `request`, filling `response`.
  absl::Status Call(const google::protobuf::MethodDescriptor* method,
                    const google::protobuf::Message& request,
                    google::protobuf::Message* response) const;
  // Reads the server stream of `method` with no deadline on the watch
  // channel: the request `fill` makes (anew on each attempt), each message
  // to `on_message` until it returns false; after UNAVAILABLE it starts
  // again, backing off from 50 ms to 1 s.
  absl::Status Stream(const google::protobuf::MethodDescriptor* method,
                      const std::function<void(google::protobuf::Message* request)>& fill,
                      const std::function<bool(google::protobuf::Message& response)>& on_message)
      const;
  // The document verbs' key field, "<r>_id".
  std::string DocumentKeyName() const;
    // Call, again while the outcome is UNKNOWN (requests with request_ids).
  absl::Status CallRetryingUnknown(const google::protobuf::MethodDescriptor* method,
                                   const google::protobuf::Message& request,
                                   google::protobuf::Message* response) const;
  // A new, empty request or response of `method`.
  std::unique_ptr<google::protobuf::Message> NewRequest(
      const google::protobuf::MethodDescriptor* method) const;
  std::unique_ptr<google::protobuf::Message> NewResponse(
      const google::protobuf::MethodDescriptor* method) const;
  // Fills a Create or Update request (a call's, or a batch entry).
  void FillCreate(google::protobuf::Message* request, const google::protobuf::Message& resource,
                  const std::string& request_id) const;
  void FillUpdate(google::protobuf::Message* request, const google::protobuf::Message& resource,
                  const std::vector<std::string>& update_mask) const;

  std::shared_ptr<grpc::ChannelInterface> channel_;
  CallOptions options_;
  const google::protobuf::Descriptor* type_ = nullptr;
  const google::protobuf::ServiceDescriptor* service_ = nullptr;
  const google::protobuf::MethodDescriptor* create_ = nullptr;
  const google::protobuf::MethodDescriptor* get_ = nullptr;
  const google::protobuf::MethodDescriptor* list_ = nullptr;
  const google::protobuf::MethodDescriptor* update_ = nullptr;
  const google::protobuf::MethodDescriptor* delete_ = nullptr;
  const google::protobuf::MethodDescriptor* batch_get_ = nullptr;
  const google::protobuf::MethodDescriptor* batch_create_ = nullptr;
  const google::protobuf::MethodDescriptor* batch_update_ = nullptr;
  const google::protobuf::MethodDescriptor* batch_delete_ = nullptr;
  const google::protobuf::MethodDescriptor* watch_ = nullptr;
  const google::protobuf::MethodDescriptor* append_update_ = nullptr;
  const google::protobuf::MethodDescriptor* list_updates_ = nullptr;
  const google::protobuf::MethodDescriptor* watch_updates_ = nullptr;
  const google::protobuf::MethodDescriptor* compact_ = nullptr;
};

// ResourceClient for a generated message type R:
//   auto books = Resources<library::v1::Book>::For(channel);
//   absl::StatusOr<library::v1::Book> book = books->Create(dune);
//   absl::StatusOr<std::vector<library::v1::Book>> all = books->ListAll(options);
template <typename R>
class Resources {
 public:
  static absl::StatusOr<Resources> For(std::shared_ptr<grpc::ChannelInterface> channel,
                                       CallOptions options = {}) {
    absl::StatusOr<ResourceClient> client =
        ResourceClient::For(R::descriptor(), std::move(channel), options);
    if (!client.ok()) return client.status();
    return Resources(*std::move(client));
  }

  absl::StatusOr<R> Create(const R& resource) const {
    R out;
    if (absl::Status s = client_.Create(resource, &out); !s.ok()) return s;
    return out;
  }
  absl::StatusOr<R> Get(const Key& id, absl::string_view view = "") const {
    R out;
    if (absl::Status s = client_.Get(id, view, &out); !s.ok()) return s;
    return out;
  }
  // Every row the options select, following the pages.
  absl::StatusOr<std::vector<R>> ListAll(ListOptions options = {}) const {
    std::vector<R> all;
    do {
      std::vector<std::unique_ptr<google::protobuf::Message>> rows;
      absl::StatusOr<std::string> next = client_.ListPage(options, &rows);
      if (!next.ok()) return next.status();
      for (auto& row : rows) all.push_back(std::move(static_cast<R&>(*row)));
      options.page_token = *std::move(next);
    } while (!options.page_token.empty());
    return all;
  }
  // Writes the fields in `update_mask`; empty: every field set in `resource`.
  absl::StatusOr<R> Update(const R& resource,
                           const std::vector<std::string>& update_mask = {}) const {
    R out;
    if (absl::Status s = client_.Update(resource, update_mask, &out); !s.ok()) return s;
    return out;
  }
  absl::Status Delete(const Key& id, absl::string_view etag = "") const {
    return client_.Delete(id, etag);
  }

  // See ResourceClient::Watch; event.As<R>() is the resource.
  absl::Status Watch(const WatchOptions& options,
                     const std::function<bool(WatchEvent& event)>& on_event) const {
    return client_.Watch(options, on_event);
  }

  // A live document's verbs: see ResourceClient.
  absl::StatusOr<DocumentUpdate> AppendUpdate(const Key& id, std::string update,
                                              std::string request_id = "") const {
    return client_.AppendUpdate(id, std::move(update), std::move(request_id));
  }
  absl::StatusOr<std::vector<DocumentUpdate>> ListUpdates(const Key& id,
                                                          int64_t after_seq) const {
    return client_.ListUpdates(id, after_seq);
  }
  absl::Status WatchUpdates(const Key& id, int64_t after_seq,
                            const std::function<bool(DocumentUpdate& update)>& on_update) const {
    return client_.WatchUpdates(id, after_seq, on_update);
  }
  absl::StatusOr<R> Compact(const Key& id, int64_t through_seq, std::string state) const {
    R out;
    if (absl::Status s = client_.Compact(id, through_seq, std::move(state), &out); !s.ok()) {
      return s;
    }
    return out;
  }

  // The batch methods: see ResourceClient.
  absl::StatusOr<std::vector<R>> BatchGet(const std::vector<Key>& ids,
                                          absl::string_view view = "",
                                          const std::vector<std::string>& read_mask = {}) const {
    std::vector<std::unique_ptr<google::protobuf::Message>> rows;
    if (absl::Status s = client_.BatchGet(ids, view, read_mask, &rows); !s.ok()) return s;
    return Typed(std::move(rows));
  }
  absl::StatusOr<std::vector<R>> BatchCreate(const std::vector<R>& resources,
                                             const std::vector<std::string>& request_ids = {}) const {
    std::vector<const google::protobuf::Message*> in;
    for (const R& resource : resources) in.push_back(&resource);
    std::vector<std::unique_ptr<google::protobuf::Message>> rows;
    if (absl::Status s = client_.BatchCreate(in, request_ids, &rows); !s.ok()) return s;
    return Typed(std::move(rows));
  }
  // Writes each resource's fields in `update_mask` (empty: those set).
  absl::StatusOr<std::vector<R>> BatchUpdate(const std::vector<R>& resources,
                                             const std::vector<std::string>& update_mask = {}) const {
    std::vector<ResourceClient::UpdateEntry> in;
    for (const R& resource : resources) in.push_back({&resource, update_mask});
    std::vector<std::unique_ptr<google::protobuf::Message>> rows;
    if (absl::Status s = client_.BatchUpdate(in, &rows); !s.ok()) return s;
    return Typed(std::move(rows));
  }
  absl::Status BatchDelete(const std::vector<Key>& ids) const {
    std::vector<ResourceClient::DeleteEntry> in;
    for (const Key& id : ids) in.push_back({id, ""});
    return client_.BatchDelete(in);
  }

  const ResourceClient& untyped() const { return client_; }

 private:
  explicit Resources(ResourceClient client) : client_(std::move(client)) {}
  static std::vector<R> Typed(std::vector<std::unique_ptr<google::protobuf::Message>> rows) {
    std::vector<R> typed;
    for (auto& row : rows) typed.push_back(std::move(static_cast<R&>(*row)));
    return typed;
  }
  ResourceClient client_;
};

}  // namespace protomodel::client

#endif  // PROTOMODEL_CLIENT_RESOURCES_H_
