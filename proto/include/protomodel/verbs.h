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
};

// "Create", "Get", ..., "BatchGet", ...
const std::string& VerbName(Verb verb);

// The verb a method's name starts with, followed by an upper-case letter
// ("GetBook" is Get; "Getaway" is none).
std::optional<Verb> VerbOf(const google::protobuf::MethodDescriptor& method);

// The single verb whose entries a batch verb carries (BatchGet: Get); the
// verb itself for the others.
Verb EntryVerb(Verb verb);
bool IsBatch(Verb verb);

// The resource a method of `verb` serves, by its shape: the message it
// returns, the table message its response lists (List, BatchGet,
// BatchCreate, BatchUpdate), the one its name ends in (Delete) or the one
// its entries' request type names (BatchDelete: DeleteBookRequest, Book);
// nullptr when there is none. Whether it is a table is
// IsTable's to say.
const google::protobuf::Descriptor* ResourceOf(const google::protobuf::MethodDescriptor& method,
                                               Verb verb);

// `message` has the (protomodel.v1.table) option.
bool IsTable(const google::protobuf::Descriptor* message);

}  // namespace protomodel

#endif  // PROTOMODEL_VERBS_H_
