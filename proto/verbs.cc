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
      new std::string[5]{"Create", "Get", "List", "Update", "Delete"};
  return kNames[static_cast<int>(verb)];
}

std::optional<Verb> VerbOf(const MethodDescriptor& method) {
  for (const Verb verb : {Verb::kCreate, Verb::kGet, Verb::kList, Verb::kUpdate, Verb::kDelete}) {
    const std::string& name = VerbName(verb);
    const std::string& method_name = method.name();
    if (method_name.size() > name.size() && method_name.compare(0, name.size(), name) == 0 &&
        std::isupper(static_cast<unsigned char>(method_name[name.size()]))) {
      return verb;
    }
  }
  return std::nullopt;
}

bool IsTable(const Descriptor* message) {
  return message != nullptr && message->options().HasExtension(protomodel::v1::table);
}

const Descriptor* ResourceOf(const MethodDescriptor& method, Verb verb) {
  const Descriptor* found = method.output_type();
  if (verb == Verb::kList) {
    found = nullptr;
    const Descriptor* out = method.output_type();
    for (int i = 0; i < out->field_count() && found == nullptr; ++i) {
      const FieldDescriptor* field = out->field(i);
      if (field->is_repeated() && IsTable(field->message_type())) found = field->message_type();
    }
  } else if (verb == Verb::kDelete) {
    const std::string& package = method.service()->file()->package();
    const std::string name = method.name().substr(VerbName(verb).size());
    found = method.service()->file()->pool()->FindMessageTypeByName(
        package.empty() ? name : package + "." + name);
  }
  return found;
}

}  // namespace protomodel
