#ifndef PROTOMODEL_VERBS_H_
#define PROTOMODEL_VERBS_H_

#include <optional>
#include <string>

#include <google/protobuf/descriptor.h>

namespace protomodel {

// The contract's verbs, recognised by a method's name: the server plans its
// methods by them, and the clients and the CLI find a resource's methods by
// them, so the three agree on which method is which.
// The batch verbs (AIP-231, 233, 234, 235) are named by the plural, as List
// is, and carry many of their single verb's entries; so is Watch.
enum class Verb {
  kCreate,
  kGet,
  kList,
  kUpdate,
  kDelete,
  kBatchGet,
  kBatchCreate,
  kBatchUpdate,
  kBatchDelete,
  // Server streaming: the changes to the resources a filter matches.
  kWatch,
  // A live document's (a resource with a DOCUMENT_STATE field): named by
  // the resource, "Append<R>Update", "List<R>Updates", "Watch<R>Updates"
  // (server streaming), "Compact<R>".
  kAppendUpdate,
  kListUpdates,
  kWatchUpdates,
  kCompact,
};

// "Create", "Get", ..., "BatchGet", ..., "Append", "ListUpdates",
// "WatchUpdates", "Compact": the document verbs' names are what their
// methods' names start with, "Updates" standing for where the resource's
// name goes ("List<R>Updates").
const std::string& VerbName(Verb verb);

// The verb a method's name starts with, followed by an upper-case letter
// ("GetBook" is Get; "Getaway" is none). "List<R>Updates" and
// "Watch<R>Updates", where <R> is a message beside the service with a live
// document, are ListUpdates and WatchUpdates, not List and Watch; so is
// "Append<R>Update" AppendUpdate only then.
std::optional<Verb> VerbOf(const google::protobuf::MethodDescriptor& method);

// Whether `verb` is one of a live document's (AppendUpdate, ListUpdates,
// WatchUpdates, Compact).
bool IsDocumentVerb(Verb verb);

// The message with the live document that a document verb's method is
// named by ("ListBookUpdates": Book), or nullptr.
const google::protobuf::Descriptor* DocumentOf(const google::protobuf::MethodDescriptor& method,
                                               Verb verb);

// `message` has a field marked DOCUMENT_STATE.
bool HasDocument(const google::protobuf::Descriptor* message);

// The single verb whose entries a batch verb carries (BatchGet: Get); the
// verb itself for the others.
Verb EntryVerb(Verb verb);
bool IsBatch(Verb verb);

// The resource a method of `verb` serves, by its shape: the message it
// returns, the table message its response lists (List, BatchGet,
// BatchCreate, BatchUpdate), the one its name ends in (Delete) or the one
// its entries' request type names (BatchDelete: DeleteBookRequest, Book);
// nullptr when there is none; a document verb's, DocumentOf's. Whether it
// is a table is IsTable's to say.
const google::protobuf::Descriptor* ResourceOf(const google::protobuf::MethodDescriptor& method,
                                               Verb verb);

// `message` has the (protomodel.v1.table) option.
bool IsTable(const google::protobuf::Descriptor* message);

}  // namespace protomodel

#endif  // PROTOMODEL_VERBS_H_
