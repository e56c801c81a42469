#include "protomodel/verbs.h"

#include <cctype>
#include <string>

#include "protomodel/v1/options.pb.h"

namespace protomodel {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::MethodDescriptor;

const std::string& VerbName(Verb verb) {
  // In Verb's order; never destroyed, so usable until the process ends.
  static const std::string* const kNames =
      new std::string[14]{"Create",          "Get",         "List",        "Update",
                          "Delete",          "BatchGet",    "BatchCreate", "BatchUpdate",
                          "BatchDelete",     "Watch",       "Append<R>Update",
                          "List<R>Updates", "Watch<R>Updates", "Compact<R>"};
  return kNames[static_cast<int>(verb)];
}

bool IsBatch(Verb verb) { return verb >= Verb::kBatchGet && verb <= Verb::kBatchDelete; }

bool IsDocumentVerb(Verb verb) { return verb >= Verb::kAppendUpdate && verb <= Verb::kCompact; }

bool HasDocument(const Descriptor* message) {
  if (!IsTable(message)) return false;
  for (int i = 0; i < message->field_count(); ++i) {
    const auto& options = message->field(i)->options();
    if (options.HasExtension(protomodel::v1::column) &&
        options.GetExtension(protomodel::v1::column).document() == protomodel::v1::DOCUMENT_STATE) {
      return true;
    }
  }
  return false;
}

Verb EntryVerb(Verb verb) {
  switch (verb) {
    case Verb::kBatchGet: return Verb::kGet;
    case Verb::kBatchCreate: return Verb::kCreate;
    case Verb::kBatchUpdate: return Verb::kUpdate;
    case Verb::kBatchDelete: return Verb::kDelete;
    default: return verb;
  }
}

namespace {

const Descriptor* MessageBeside(const google::protobuf::FileDescriptor& file,
                                const std::string& name);

// The document verbs, each the prefix and suffix around the resource's name.
struct DocumentName {
  Verb verb;
  const char* prefix;
  const char* suffix;
};
constexpr DocumentName kDocumentNames[] = {{Verb::kAppendUpdate, "Append", "Update"},
                                           {Verb::kListUpdates, "List", "Updates"},
                                           {Verb::kWatchUpdates, "Watch", "Updates"},
                                           {Verb::kCompact, "Compact", ""}};

// The message with a live document that `method`'s name holds between
// `name`'s prefix and suffix, or nullptr.
const Descriptor* DocumentNamed(const MethodDescriptor& method, const DocumentName& name) {
  const std::string& method_name = method.name();
  const size_t prefix = std::char_traits<char>::length(name.prefix);
  const size_t suffix = std::char_traits<char>::length(name.suffix);
  if (method_name.size() <= prefix + suffix ||
      method_name.compare(0, prefix, name.prefix) != 0 ||
      method_name.compare(method_name.size() - suffix, suffix, name.suffix) != 0) {
    return nullptr;
  }
  const Descriptor* message = MessageBeside(
      *method.service()->file(), method_name.substr(prefix, method_name.size() - prefix - suffix));
  return HasDocument(message) ? message : nullptr;
}

}  // namespace

const Descriptor* DocumentOf(const MethodDescriptor& method, Verb verb) {
  for (const DocumentName& name : kDocumentNames) {
    if (name.verb == verb) return DocumentNamed(method, name);
  }
  return nullptr;
}

std::optional<Verb> VerbOf(const MethodDescriptor& method) {
  // A live document's verbs first: "ListBookUpdates" is not List's when
  // Book has a document.
  for (const DocumentName& name : kDocumentNames) {
    if (DocumentNamed(method, name) != nullptr) return name.verb;
  }
  // The batch verbs next: "BatchGetBooks" is not Get's.
  for (const Verb verb : {Verb::kBatchGet, Verb::kBatchCreate, Verb::kBatchUpdate,
                          Verb::kBatchDelete, Verb::kCreate, Verb::kGet, Verb::kList,
                          Verb::kUpdate, Verb::kDelete, Verb::kWatch}) {
    const std::string& name = VerbName(verb);
    const std::string& method_name = method.name();
    if (method_name.size() > name.size() && method_name.compare(0, name.size(), name) == 0 &&
        std::isupper(static_cast<unsigned char>(method_name[name.size()]))) {
      return verb;
    }
  }
  return std::nullopt;
}

namespace {

// The message `name` in the package of `file`, or nullptr.
const Descriptor* MessageBeside(const google::protobuf::FileDescriptor& file,
                                const std::string& name) {
  const std::string& package = file.package();
  return file.pool()->FindMessageTypeByName(package.empty() ? name : package + "." + name);
}

}  // namespace

bool IsTable(const Descriptor* message) {
  return message != nullptr && message->options().HasExtension(protomodel::v1::table);
}

const Descriptor* ResourceOf(const MethodDescriptor& method, Verb verb) {
  if (IsDocumentVerb(verb)) return DocumentOf(method, verb);
  const Descriptor* found = method.output_type();
  if (verb == Verb::kList || verb == Verb::kBatchGet || verb == Verb::kBatchCreate ||
      verb == Verb::kBatchUpdate) {
    found = nullptr;
    const Descriptor* out = method.output_type();
    for (int i = 0; i < out->field_count() && found == nullptr; ++i) {
      const FieldDescriptor* field = out->field(i);
      if (field->is_repeated() && IsTable(field->message_type())) found = field->message_type();
    }
  } else if (verb == Verb::kWatch) {
    found = nullptr;
    const Descriptor* out = method.output_type();
    for (int i = 0; i < out->field_count() && found == nullptr; ++i) {
      const FieldDescriptor* field = out->field(i);
      if (!field->is_repeated() && IsTable(field->message_type())) found = field->message_type();
    }
  } else if (verb == Verb::kDelete) {
    found = MessageBeside(*method.service()->file(),
                          method.name().substr(VerbName(verb).size()));
  } else if (verb == Verb::kBatchDelete) {
    // The entries' type, DeleteBookRequest, names the resource.
    found = nullptr;
    const Descriptor* in = method.input_type();
    const FieldDescriptor* entries = in->FindFieldByName("requests");
    if (entries == nullptr || entries->message_type() == nullptr) return nullptr;
    const Descriptor* entry = entries->message_type();
    const std::string& prefix = VerbName(Verb::kDelete);
    const std::string suffix = "Request";
    const std::string& name = entry->name();
    if (name.size() <= prefix.size() + suffix.size() ||
        name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      return nullptr;
    }
    const size_t length = name.size() - prefix.size() - suffix.size();
    found = MessageBeside(*entry->file(), name.substr(prefix.size(), length));
  }
  return found;
}

}  // namespace protomodel
