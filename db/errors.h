#ifndef PROTOMODEL_DB_ERRORS_H_
#define PROTOMODEL_DB_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace protomodel::db {

// What an error is about, carried on an absl::Status as payloads, so that
// the server can send it as AIP-193 details (google.rpc.ErrorInfo,
// BadRequest, ResourceInfo, RetryInfo) without the layers below knowing
// gRPC. Every function returns its argument with the payload set; OK stays
// OK.

// Stable reasons (google.rpc.ErrorInfo.reason). A status without one takes
// its code's default (DefaultReason).
namespace reason {
inline constexpr absl::string_view kRequiredField = "REQUIRED_FIELD";
inline constexpr absl::string_view kInvalidField = "INVALID_FIELD";
inline constexpr absl::string_view kFieldTooLarge = "FIELD_TOO_LARGE";
inline constexpr absl::string_view kInvalidFilter = "INVALID_FILTER";
inline constexpr absl::string_view kInvalidOrderBy = "INVALID_ORDER_BY";
inline constexpr absl::string_view kInvalidPageToken = "INVALID_PAGE_TOKEN";
inline constexpr absl::string_view kInvalidResumeToken = "INVALID_RESUME_TOKEN";
inline constexpr absl::string_view kInvalidFieldMask = "INVALID_FIELD_MASK";
inline constexpr absl::string_view kReferenceNotFound = "REFERENCE_NOT_FOUND";
inline constexpr absl::string_view kStillReferenced = "RESOURCE_STILL_REFERENCED";
inline constexpr absl::string_view kEtagMismatch = "ETAG_MISMATCH";
// Live documents: a replace while updates wait needs the etag; after_seq
// below compacted_seq (the updates are merged: reload); a seq past the
// document's update_seq; a compaction someone else made first.
inline constexpr absl::string_view kEtagRequired = "ETAG_REQUIRED";
inline constexpr absl::string_view kDocumentCompacted = "DOCUMENT_COMPACTED";
inline constexpr absl::string_view kSeqAhead = "SEQ_AHEAD_OF_DOCUMENT";
inline constexpr absl::string_view kAlreadyCompacted = "ALREADY_COMPACTED";
inline constexpr absl::string_view kTokenMissing = "TOKEN_MISSING";
inline constexpr absl::string_view kTokenUnknown = "TOKEN_UNKNOWN";
}  // namespace reason

// INVALID_ARGUMENT about the request field at `path` ("book.title",
// "filter"), with `reason` and `message`.
absl::Status InvalidField(absl::string_view path, absl::string_view reason,
                          absl::string_view message);

// `status`, about the request field at `path`; a path already set stays
// (the innermost layer knows the field best).
absl::Status AboutField(absl::Status status, absl::string_view path);
// `status` with `reason`, replacing any.
absl::Status WithReason(absl::Status status, absl::string_view reason);
// `status`, about the resource `name` ("7", "email=a@b.c") of the message
// type `type` ("library.v1.Book").
absl::Status AboutResource(absl::Status status, absl::string_view type,
                           absl::string_view name);
// `status` with the delay after which a retry may succeed.
absl::Status WithRetryDelay(absl::Status status, absl::Duration delay);
// `status` as the error of the entry `entry` ("requests[3]", "ids[2]") of
// a request holding many: its field path becomes "requests[3].book.title"
// (or the entry alone), and so does the start of its message.
absl::Status UnderField(absl::Status status, absl::string_view entry);

// The reason set on `status`, or its code's default.
std::string ErrorReason(const absl::Status& status);
// The reason each code has when none is set ("DATABASE_UNAVAILABLE" for
// UNAVAILABLE, ...).
absl::string_view DefaultReason(absl::StatusCode code);
// The field path set on `status`, or "".
std::string ErrorField(const absl::Status& status);
// The resource set on `status`: its type and name, or "".
std::string ErrorResourceType(const absl::Status& status);
std::string ErrorResourceName(const absl::Status& status);
// The retry delay set on `status`, or its code's default: 1 s for
// UNAVAILABLE, 200 ms for RESOURCE_EXHAUSTED, zero otherwise.
absl::Duration ErrorRetryDelay(const absl::Status& status);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_ERRORS_H_
