#ifndef PROTOMODEL_SERVER_VERBS_CHECKS_H_
#define PROTOMODEL_SERVER_VERBS_CHECKS_H_

#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/schema/schema.h"

namespace protomodel::server {

// Checks of request fields that every verb shares, on generated and dynamic
// messages alike. Each error is INVALID_ARGUMENT about the field's path in
// the request ("id", "book.title", "update_mask").

// The primary key in `field` of `message` as validated text: an integer
// > 0, a UUID (lower-cased), or non-empty text; of a repeated `field`, the
// element `index`.
absl::StatusOr<std::string> KeyOf(const google::protobuf::Message& message,
                                  const google::protobuf::FieldDescriptor* field,
                                  const db::Column& pk, absl::string_view path, int index = -1);

// Whether a column's field holds a value: an element for a list or a map,
// presence where the field has it, a non-default value otherwise.
bool IsSet(const google::protobuf::Message& message, const db::Column& column);

// REQUIRED_FIELD for the first of `columns` that is required and not set
// in `resource`, named by its path in the request.
absl::Status CheckRequired(const google::protobuf::Message& resource,
                           const std::vector<const db::Column*>& columns);

// The paths of the google.protobuf.FieldMask in `field` of `message`
// (generated or dynamic).
std::vector<std::string> MaskPaths(const google::protobuf::Message& message,
                                   const google::protobuf::FieldDescriptor* field);

// The columns a mask's paths name, each once; with `writable`, each must
// be one a caller may write. INVALID_FIELD_MASK about `mask_name`.
absl::StatusOr<std::vector<const db::Column*>> MaskColumns(
    const std::vector<std::string>& paths, const db::TableSchema& table,
    absl::string_view mask_name, bool writable);

// The page size a paged request (`field`: its page_size, or nullptr) asks
// for: 50 when unset, at most 1000 (AIP-158); negative is INVALID_ARGUMENT.
absl::StatusOr<int> PageSize(const google::protobuf::Message& request,
                             const google::protobuf::FieldDescriptor* field);

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_CHECKS_H_
