// protomodel: a command-line client for scripting and operations.
//
//   protomodel [--target=HOST:PORT] RESOURCE VERB [--flag=value ...]
//
// Requests are built through reflection from the generated descriptors, so
// every resource and field of the contract is reachable. Output is JSON on
// stdout; on failure the exit status is the gRPC status code (1-16) and the
// error goes to stderr; usage errors exit 64. `import` and `export` move
// many rows at once, as JSON lines, through the batch and List methods.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/field_mask.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <grpcpp/client_context.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/codegen/rpc_method.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <google/protobuf/struct.pb.h>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/rpc/status.pb.h"
#include "protomodel/v1/options.pb.h"
#include "protomodel/client/call.h"
#include "protomodel/client/channel.h"
#include "protomodel/client/resources.h"
#include "protomodel/verbs.h"
#include "cli/catalog.h"
#include "protomodel/names.h"

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::MethodDescriptor;
using google::protobuf::Reflection;

constexpr int kUsageError = 64;

constexpr char kUsage[] = R"(Usage: protomodel [global flags] RESOURCE VERB [flags]

Resources: %RESOURCES%
Verbs:
  create  --FIELD=VALUE ...                       e.g. books create --title=Dune --tags=classic,desert
  get     --id=ID [--view=full]                   (--view: where the resource has views)
  list    [--filter=F] [--order-by=O] [--page-size=N] [--page-token=T] [--read-mask=a,b] [--all]
  update  --id=ID --FIELD=VALUE ... [--update-mask=a,b] [--etag=E]
          (without --update-mask, exactly the fields given are written;
           --FIELD= with nothing clears an optional field)
  delete  --id=ID [--etag=E]
  import  [FILE] [--batch-size=N]                 JSON lines to new rows; no FILE or -: stdin
  export  [--filter=F] [--order-by=O] [--read-mask=a,b]   every row (or F's) as JSON lines
  watch   [--filter=F] [--read-mask=a,b] [--resume-token=T]   changes as JSON lines, live
Field values: text as is; bytes as text or @FILE to read a file; timestamps in
RFC 3339; durations as 90s; lists as a,b,c or JSON; maps and messages as JSON;
--body='{"json":...}' gives the whole resource instead.

import reads one resource a line, in the JSON get prints (blank lines are
skipped), and checks every line before it sends any: a line that is not the
resource is a usage error naming it, and nothing is written. It creates the
rows in batches of --batch-size (1-1000, default 1000), each all or nothing,
each row with a request_id made from its line's number and text: after a
failure, running the same import again stores every row once (within the
server's request_id retention, at least 24 h). A failed batch is sent again
while it fails UNAVAILABLE, UNKNOWN or DEADLINE_EXCEEDED, a few times. stdout
stays empty; progress (on a terminal) and a summary (rows, batches, seconds,
rows/s), or how many rows were stored before an error, go to stderr.
export writes each row as one JSON object a line on stdout, following every
page; import takes its output back (output-only fields such as id are
ignored on create).

watch prints a line for each change to the rows F selects, SYNCED first and
then at least every 10 s: {"type": "ADDED" | "MODIFIED" | "REMOVED" |
"SYNCED", RESOURCE: the row (REMOVED: only its id), "resume_token",
"commit_time"}, until interrupted. It resumes by itself when the server goes
away; --resume-token starts just after an earlier line's. A token older than
the server's --watch_retention fails OUT_OF_RANGE: export, then watch anew.

`protomodel RESOURCE --help` lists the resource's fields, their types and
each verb's flags.

Global flags (before RESOURCE or after VERB):
  --target=HOST:PORT   server (env PROTOMODEL_TARGET; default localhost:50051)
  --timeout=SECONDS    deadline of each call (default 10)
  --tls [--ca-file=F] [--cert-file=F --key-file=F]
                       TLS, verifying the server with F's CAs (default: the
                       system's); a client certificate for mTLS. A CA or a
                       client certificate alone also means TLS. (env
                       PROTOMODEL_TLS=1, PROTOMODEL_TLS_CA_FILE,
                       PROTOMODEL_CLIENT_CERT_FILE, PROTOMODEL_CLIENT_KEY_FILE)
The service token is read from PROTOMODEL_TOKEN (never a flag: command lines
are visible to every user of the machine).

  protomodel token NAME PATTERN[,PATTERN...]
prints a new random token and its line for the server's --auth_tokens_file,
e.g. protomodel token reporting '*/Get*,*/List*'.

Output is JSON. A failed call prints `protomodel: CODE: message` and then
{"error": {"code", "status", "message", "details"}} (the server's AIP-193
details: reason, field violations, resource, retry delay) to stderr.
Exit status: 0 on success, the gRPC status code (1-16) on a failed call, 64
on a usage error, 74 when export or watch cannot write stdout.
)";

// Flags that may come before RESOURCE or after VERB.
constexpr const char* kGlobalFlags[] = {"target", "timeout", "tls",
                                        "ca-file", "cert-file", "key-file"};

bool IsGlobalFlag(const std::string& flag) {
  for (const char* global : kGlobalFlags) {
    if (flag == global) return true;
  }
  return false;
}

struct UsageError {
  std::string message;
};

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError{absl::StrCat("cannot read ", path)};
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// Appends `path` to a google.protobuf.FieldMask (generated or dynamic).
void AddMaskPath(Message* mask, const std::string& path) {
  mask->GetReflection()->AddString(mask, mask->GetDescriptor()->FindFieldByName("paths"), path);
}

// `text` as a JSON string literal.
std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Sets `field` of `message` from `text` as its JSON value (`["a","b"]`,
// `{"k":"v"}`, `"90s"`, `18446744073709551615`), else as one JSON string
// (`90s`, `FANTASY`), else, for a list, as values between commas
// (`classic,desert`); false when none fits.
bool SetFromJson(Message* message, const FieldDescriptor* field, const std::string& text) {
  std::unique_ptr<Message> holder(message->New());
  auto parse = [&](const std::string& value) {
    holder->Clear();
    return google::protobuf::util::JsonStringToMessage(
               absl::StrCat("{\"", field->name(), "\":", value, "}"), holder.get())
        .ok();
  };
  bool ok = parse(text) || (!field->is_repeated() && parse(JsonString(text)));
  if (!ok && field->is_repeated() && !field->is_map()) {
    std::vector<std::string> raw, quoted;
    for (absl::string_view element : absl::StrSplit(text, ',', absl::SkipEmpty())) {
      raw.emplace_back(absl::StripAsciiWhitespace(element));
      quoted.push_back(JsonString(raw.back()));
    }
    ok = parse(absl::StrCat("[", absl::StrJoin(raw, ","), "]")) ||
         parse(absl::StrCat("[", absl::StrJoin(quoted, ","), "]"));
  }
  if (!ok) return false;
  message->GetReflection()->ClearField(message, field);
  message->GetReflection()->SwapFields(holder.get(), message, {field});
  return true;
}

// Sets `field` of `message` from its command-line text.
void SetField(Message* message, const FieldDescriptor* field, const std::string& flag,
              const std::string& text) {
  const Reflection* r = message->GetReflection();
  auto bad = [&](const char* want) {
    return UsageError{absl::StrCat("--", flag, ": '", text, "' is not ", want)};
  };
  if (text.empty() && field->has_presence() &&
      field->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
    r->ClearField(message, field);
    return;
  }
  // Lists, maps, unsigned integers and messages but Timestamp and FieldMask
  // take the forms JSON gives them.
  const bool relation = field->options().GetExtension(protomodel::v1::column).has_relation();
  const std::string message_type =
      field->message_type() != nullptr ? field->message_type()->full_name() : "";
  if (!relation && (field->is_repeated() || field->cpp_type() == FieldDescriptor::CPPTYPE_UINT32 ||
                    field->cpp_type() == FieldDescriptor::CPPTYPE_UINT64 ||
                    (!message_type.empty() && message_type != "google.protobuf.Timestamp" &&
                     message_type != "google.protobuf.FieldMask"))) {
    if (!SetFromJson(message, field, text)) {
      throw bad(field->is_map() ? "a JSON object" : field->is_repeated()
                                                      ? "a JSON list, or values between commas"
                                                      : "a value as JSON (or grpcurl) writes it");
    }
    return;
  }
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      if (field->type() == FieldDescriptor::TYPE_BYTES && absl::StartsWith(text, "@")) {
        r->SetString(message, field, ReadWholeFile(text.substr(1)));
      } else {
        r->SetString(message, field, text);
      }
      return;
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v;
      if (!absl::SimpleAtoi(text, &v)) throw bad("a 32-bit integer");
      r->SetInt32(message, field, v);
      return;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!absl::SimpleAtoi(text, &v)) throw bad("an integer");
      r->SetInt64(message, field, v);
      return;
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v;
      if (!absl::SimpleAtob(text, &v)) throw bad("true or false");
      r->SetBool(message, field, v);
      return;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double v;
      if (!absl::SimpleAtod(text, &v)) throw bad("a number");
      r->SetDouble(message, field, v);
      return;
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* value =
          field->enum_type()->FindValueByName(absl::AsciiStrToUpper(text));
      if (value == nullptr) throw bad("a known value");
      r->SetEnum(message, field, value);
      return;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      // Generated or dynamic (a server's own protos): by reflection.
      Message* sub = r->MutableMessage(message, field);
      const Descriptor* type = sub->GetDescriptor();
      if (type->full_name() == "google.protobuf.Timestamp") {
        google::protobuf::Timestamp ts;
        if (!google::protobuf::util::TimeUtil::FromString(text, &ts)) {
          throw bad("an RFC 3339 timestamp");
        }
        sub->GetReflection()->SetInt64(sub, type->FindFieldByName("seconds"), ts.seconds());
        sub->GetReflection()->SetInt32(sub, type->FindFieldByName("nanos"), ts.nanos());
        return;
      }
      if (type->full_name() == "google.protobuf.FieldMask") {
        for (absl::string_view path : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
          AddMaskPath(sub, std::string(absl::StripAsciiWhitespace(path)));
        }
        return;
      }
      throw UsageError{absl::StrCat("--", flag, ": is output only")};
    }
    default:
      throw UsageError{absl::StrCat("--", flag, ": this field type is not supported")};
  }
}

const FieldDescriptor* FieldFor(const Descriptor* message, const std::string& flag) {
  return message->FindFieldByName(absl::StrReplaceAll(flag, {{"-", "_"}}));
}

std::map<std::string, std::string> ParseFlags(const std::vector<std::string>& args) {
  std::map<std::string, std::string> flags;
  for (const std::string& arg : args) {
    if (!absl::StartsWith(arg, "--")) throw UsageError{absl::StrCat("unexpected '", arg, "'")};
    const size_t eq = arg.find('=');
    if (eq == std::string::npos) {
      flags[arg.substr(2)] = "true";  // a bare boolean flag: --all, --tls
    } else {
      flags[arg.substr(2, eq - 2)] = arg.substr(eq + 1);
    }
  }
  return flags;
}

// Fills the request for `verb` from the flags; returns the resource fields
// named, for a default update mask.
std::vector<std::string> BuildRequest(const std::string& verb,
                                      std::map<std::string, std::string> flags,
                                      Message* request) {
  const Descriptor* d = request->GetDescriptor();
  std::vector<std::string> named;
  if (verb == "create" || verb == "update") {
    const FieldDescriptor* resource_field = d->field(0);
    Message* resource = request->GetReflection()->MutableMessage(request, resource_field);
    const Descriptor* rd = resource->GetDescriptor();
    if (auto body = flags.find("body"); body != flags.end()) {
      auto status = google::protobuf::util::JsonStringToMessage(body->second, resource);
      if (!status.ok()) throw UsageError{absl::StrCat("--body: ", status.message().as_string())};
      flags.erase(body);
    }
    for (const auto& [flag, value] : flags) {
      if (verb == "update" && flag == "update-mask") {
        SetField(request, d->FindFieldByName("update_mask"), flag, value);
        continue;
      }
      const FieldDescriptor* field = FieldFor(rd, flag);
      if (field == nullptr) {
        throw UsageError{absl::StrCat("--", flag, ": ", rd->name(), " has no such field")};
      }
      SetField(resource, field, flag, value);
      if (field->name() != "id" && field->name() != "etag") named.push_back(field->name());
    }
    return named;
  }
  for (const auto& [flag, value] : flags) {
    if (flag == "all" && verb == "list") continue;
    const FieldDescriptor* field = FieldFor(d, flag);
    if (field == nullptr) {
      throw UsageError{absl::StrCat("--", flag, ": not a flag of '", verb, "'")};
    }
    SetField(request, field, flag, value);
  }
  return named;
}

std::string ToJson(const Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

// A failed call: `protomodel: NOT_FOUND: hero 9 not found`, then the error
// as JSON with the server's details; the exit status is the code.
int Fail(const grpc::Status& status) {
  const std::string code =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  std::cerr << "protomodel: " << code << ": " << status.error_message() << "\n";
  google::rpc::Status rpc;
  if (status.error_details().empty() || !rpc.ParseFromString(status.error_details())) {
    rpc.set_code(status.error_code());
    rpc.set_message(status.error_message());
  }
  // google.rpc.Status as JSON (typed details included), with the code's
  // name beside its number, under "error".
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  google::protobuf::Value error;
  if (!google::protobuf::util::MessageToJsonString(rpc, &json, options).ok() ||
      !google::protobuf::util::JsonStringToMessage(json, error.mutable_struct_value()).ok()) {
    error.mutable_struct_value()->Clear();
  }
  (*error.mutable_struct_value()->mutable_fields())["status"].set_string_value(code);
  google::protobuf::Struct wrapper;
  (*wrapper.mutable_fields())["error"] = std::move(error);
  json.clear();
  (void)google::protobuf::util::MessageToJsonString(wrapper, &json);
  std::cerr << json << "\n";
  return status.error_code();
}

// The proto type of `field` as the help shows it.
std::string TypeName(const FieldDescriptor* field) {
  std::string type = field->message_type() != nullptr ? field->message_type()->name()
                     : field->enum_type() != nullptr  ? field->enum_type()->name()
                                                      : field->type_name();
  if (field->is_map()) {
    return absl::StrCat("map<", TypeName(field->message_type()->map_key()), ", ",
                        TypeName(field->message_type()->map_value()), ">");
  }
  if (field->is_repeated()) type = absl::StrCat("repeated ", type);
  return type;
}

// What a field's options say, in words.
// A verb as the CLI names it: "create", ..., "watch", and a live
// document's "append-update", "list-updates", "watch-updates", "compact".
std::string CliVerb(protomodel::Verb verb) {
  switch (verb) {
    case protomodel::Verb::kAppendUpdate: return "append-update";
    case protomodel::Verb::kListUpdates: return "list-updates";
    case protomodel::Verb::kWatchUpdates: return "watch-updates";
    case protomodel::Verb::kCompact: return "compact";
    default: return absl::AsciiStrToLower(protomodel::VerbName(verb));
  }
}

std::string FieldNotes(const FieldDescriptor* field) {
  const protomodel::v1::ColumnOptions& column =
      field->options().GetExtension(protomodel::v1::column);
  std::vector<std::string> notes;
  if (column.primary_key()) notes.push_back("the id");
  if (column.output_only() || column.generated() != protomodel::v1::KEY_GENERATION_UNSPECIFIED ||
      column.server_default() != protomodel::v1::SERVER_DEFAULT_UNSPECIFIED ||
      column.has_relation() || column.document() == protomodel::v1::DOCUMENT_UPDATE_SEQ ||
      column.document() == protomodel::v1::DOCUMENT_COMPACTED_SEQ) {
    notes.push_back("output only");
  }
  if (column.required()) notes.push_back("required");
  if (field->has_optional_keyword()) notes.push_back("optional");
  if (column.unique()) notes.push_back("unique");
  if (column.has_foreign_key()) notes.push_back(absl::StrCat("a ", column.foreign_key().table()));
  if (field->type() == FieldDescriptor::TYPE_BYTES) notes.push_back("@FILE reads a file");
  if (field->is_map()) {
    notes.push_back("JSON");
  } else if (field->is_repeated() && !column.has_relation()) {
    notes.push_back("a,b,c or JSON");
  } else if (field->message_type() != nullptr && !column.has_relation() &&
             field->message_type()->full_name() == "google.protobuf.Duration") {
    notes.push_back("e.g. 90s");
  }
  return absl::StrJoin(notes, ", ");
}

std::string FlagName(const FieldDescriptor* field) {
  return absl::StrReplaceAll(field->name(), {{"_", "-"}});
}

// The flags of one verb's request, beyond the resource's own fields.
std::string VerbFlags(const MethodDescriptor* method, const std::string& verb) {
  const Descriptor* request = method->input_type();
  std::vector<std::string> flags;
  for (int i = 0; i < request->field_count(); ++i) {
    const FieldDescriptor* field = request->field(i);
    if (field->message_type() != nullptr &&
        field->message_type() == method->output_type()) {
      flags.push_back(verb == "update" ? "--id=ID --FIELD=VALUE ..." : "--FIELD=VALUE ...");
      continue;
    }
    if (field->name() == "request_id") continue;  // the CLI makes one
    std::string flag = absl::StrCat("--", FlagName(field), "=");
    if (field->enum_type() != nullptr) {
      std::vector<std::string> values;
      for (int v = 1; v < field->enum_type()->value_count(); ++v) {
        values.push_back(absl::AsciiStrToLower(field->enum_type()->value(v)->name()));
      }
      absl::StrAppend(&flag, absl::StrJoin(values, "|"));
    } else {
      absl::StrAppend(&flag, absl::AsciiStrToUpper(field->name()));
    }
    // The key, and a document verb's <r>_id (its first field), are needed.
    const bool needed = (field->name() == "id" && (verb == "get" || verb == "delete")) ||
                        (i == 0 && absl::EndsWith(field->name(), "_id") &&
                         (absl::StrContains(verb, "update") || verb == "compact"));
    flags.push_back(needed ? flag : absl::StrCat("[", flag, "]"));
  }
  if (verb == "list" || verb == "list-updates") flags.push_back("[--all]");
  return absl::StrJoin(flags, " ");
}

// `protomodel RESOURCE --help`: the resource's fields and each verb's flags.
void ResourceHelp(const std::string& plural, const google::protobuf::ServiceDescriptor* service) {
  const Descriptor* resource = nullptr;
  for (int m = 0; m < service->method_count(); ++m) {
    if (absl::StartsWith(service->method(m)->name(), "Get")) {
      resource = service->method(m)->output_type();
    }
  }
  std::cout << "Usage: protomodel [global flags] " << plural << " VERB [flags]\n\n"
            << plural << " are " << resource->full_name() << ", served by "
            << service->full_name() << ".\n\nFields (--FLAG, type, notes):\n";
  for (int i = 0; i < resource->field_count(); ++i) {
    const FieldDescriptor* field = resource->field(i);
    const std::string notes = FieldNotes(field);
    std::cout << absl::StrFormat("  --%-16s %-18s %s\n", FlagName(field), TypeName(field),
                                 notes);
  }
  std::cout << "\nVerbs:\n";
  for (int m = 0; m < service->method_count(); ++m) {
    const MethodDescriptor* method = service->method(m);
    const std::optional<protomodel::Verb> known = protomodel::VerbOf(*method);
    // The batches are called through import (and a script's own client).
    if (known.has_value() && protomodel::IsBatch(*known)) continue;
    const std::string verb = known.has_value() ? CliVerb(*known) : method->name();
    std::cout << absl::StrFormat("  %-7s %s\n", verb, VerbFlags(method, verb));
  }
  // The CLI's own verbs, over BatchCreate and List.
  bool batch_create = false, list = false;
  for (int m = 0; m < service->method_count(); ++m) {
    const std::optional<protomodel::Verb> verb = protomodel::VerbOf(*service->method(m));
    batch_create = batch_create || verb == protomodel::Verb::kBatchCreate;
    list = list || verb == protomodel::Verb::kList;
  }
  if (batch_create) {
    std::cout << absl::StrFormat("  %-7s %s\n", "import",
                                 "[FILE] [--batch-size=N]  (JSON lines; no FILE or -: stdin)");
  }
  if (list) {
    std::cout << absl::StrFormat("  %-7s %s\n", "export",
                                 "[--filter=FILTER] [--order-by=ORDER_BY] [--read-mask=READ_MASK]"
                                 "  (JSON lines on stdout)");
  }
  std::cout << "\nSee protomodel --help for global flags, values and exit codes.\n";
}

// `protomodel token NAME PATTERNS`: 256 random bits, URL-safe base64, and the
// tokens-file line holding only their SHA-256.
int NewToken(const std::vector<std::string>& args, size_t at) {
  if (args.size() != at + 2) throw UsageError{"token: want NAME and PATTERN[,PATTERN...]"};
  const std::string& name = args[at];
  const std::string& patterns = args[at + 1];
  bool ok = !name.empty() && name.size() <= 128;
  for (char c : name) {
    ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                c == '.' || c == '@');
  }
  if (!ok) throw UsageError{"token: NAME must be 1-128 of letters, digits, '-', '_', '.', '@'"};
  for (absl::string_view pattern : absl::StrSplit(patterns, ',')) {
    bool good = !pattern.empty();
    for (char c : pattern) {
      good = good && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                      c == '/' || c == '*' || c == '_' || c == '-' || c == ':');
    }
    if (!good) {
      throw UsageError{"token: a PATTERN is a glob over package.Service/Method: letters, "
                       "digits, '.', '/', '_', '-' and '*', optionally ending in :read or "
                       ":write"};
    }
  }
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    std::cerr << "protomodel: no random bytes from OpenSSL\n";
    return 1;
  }
  std::string token = absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  const std::string hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
  std::cout << "{\"name\":\"" << name << "\",\"token\":\"" << token << "\",\"line\":\""
            << name << " " << hex << " " << patterns << "\"}\n";
  return 0;
}

// import and export: JSON lines in batches and pages of up to 1000 rows, the
// contract's largest batch and page.
constexpr int kMaxBatch = 1000;
// Attempts at one batch or page while it fails transiently.
constexpr int kTransferAttempts = 5;
// Exit status when export cannot write stdout (sysexits' EX_IOERR).
constexpr int kOutputError = 74;

// Whether a call that failed with `code` may be sent again as it was: for a
// batch of creates, its request_ids make one that did commit answer with
// its rows and create nothing twice.
bool Transient(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kUnknown ||
         code == absl::StatusCode::kDeadlineExceeded;
}

// `call` until it succeeds, fails for good, or has failed transiently
// kTransferAttempts times; the backoff lets a restarting server come back.
absl::Status WithRetries(const std::function<absl::Status()>& call) {
  absl::Duration backoff = absl::Milliseconds(250);
  for (int attempt = 1;; ++attempt) {
    absl::Status status = call();
    if (status.ok() || !Transient(status.code()) || attempt == kTransferAttempts) return status;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(4));
  }
}

// The client library's error back as gRPC's, details included, for Fail.
grpc::Status ToGrpc(const absl::Status& status) {
  const auto details = status.GetPayload(protomodel::client::kRpcStatusUrl);
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()),
                      details.has_value() ? std::string(*details) : std::string());
}

protomodel::client::CallOptions TransferCallOptions(double timeout) {
  protomodel::client::CallOptions options;
  options.deadline = absl::Milliseconds(static_cast<int64_t>(timeout * 1000));
  // WithRetries sends a batch again, UNKNOWN included: one budget.
  options.create_attempts = 1;
  return options;
}

// One row of an import: its line's number (from 1, blank lines counted) and
// exact text.
struct InputLine {
  int64_t number = 0;
  std::string text;
};

// The request_id of the row on line `number` reading `text`, for resources
// of `type`: a version-4-shaped UUID from SHA-256 of the three, the same on
// every run, so an import run again after a failure sends the rows that did
// commit with the ids they committed under, and the server creates them
// once. (A random id, or a hash seeded per process, would create them twice.)
std::string RowRequestId(const std::string& type, int64_t number, const std::string& text) {
  return protomodel::client::RequestIdOf(absl::StrCat(type, "\n", number, "\n", text));
}

// Parses one line into `row` (cleared first).
bool ParseRow(const std::string& text, Message* row, std::string* error) {
  row->Clear();
  const auto status = google::protobuf::util::JsonStringToMessage(text, row);
  if (!status.ok()) *error = status.message().as_string();
  return status.ok();
}

// The rows of `path` ("" or "-": stdin), every line parsed as `prototype`'s
// type before anything is sent: a bad line is a usage error, and nothing is
// written. Only the text is kept, to hold a large file in less memory.
std::vector<InputLine> ReadRows(const std::string& path, const Message& prototype) {
  const bool from_stdin = path.empty() || path == "-";
  std::ifstream file;
  if (!from_stdin) {
    file.open(path, std::ios::binary);
    if (!file) throw UsageError{absl::StrCat("import: cannot read ", path)};
  }
  std::istream& in = from_stdin ? std::cin : file;
  const std::string source = from_stdin ? "stdin" : path;
  std::unique_ptr<Message> row(prototype.New());
  std::vector<InputLine> rows;
  std::string text, error;
  for (int64_t number = 1; std::getline(in, text); ++number) {
    if (absl::StripAsciiWhitespace(text).empty()) continue;
    if (!ParseRow(text, row.get(), &error)) {
      throw UsageError{absl::StrCat("import: line ", number, " of ", source, " is not a ",
                                    prototype.GetDescriptor()->full_name(), " in JSON (", error,
                                    "); nothing was sent")};
    }
    rows.push_back({number, std::move(text)});
  }
  if (in.bad()) throw UsageError{absl::StrCat("import: cannot read ", source)};
  return rows;
}

// The line of the entry a batch's error names ("requests[3].hero.name"),
// or 0 when it names none.
int64_t LineAtFault(const absl::Status& status, const std::vector<InputLine>& rows, size_t from,
                    size_t to) {
  std::vector<std::string> places;
  for (const auto& violation : protomodel::client::DetailsOf(status).field_violations) {
    places.push_back(violation.first);
  }
  places.emplace_back(status.message());
  for (const std::string& place : places) {
    const std::string entries = "requests[";
    const size_t at = place.find(entries);
    if (at == std::string::npos) continue;
    const size_t start = at + entries.size();
    const size_t end = place.find(']', start);
    size_t index = 0;
    if (end != std::string::npos && absl::SimpleAtoi(place.substr(start, end - start), &index) &&
        from + index < to) {
      return rows[from + index].number;
    }
  }
  return 0;
}

// `protomodel RESOURCES import [FILE]`: the file's rows through BatchCreate.
int Import(const protomodel::cli::CatalogResource& resource,
           google::protobuf::MessageFactory& factory,
           const std::shared_ptr<grpc::Channel>& channel,
           const std::map<std::string, std::string>& flags, const std::string& path,
           double timeout) {
  int batch_size = kMaxBatch;
  for (const auto& [flag, value] : flags) {
    if (flag != "batch-size") {
      throw UsageError{absl::StrCat("--", flag, ": not a flag of 'import'")};
    }
    if (!absl::SimpleAtoi(value, &batch_size) || batch_size < 1 || batch_size > kMaxBatch) {
      throw UsageError{absl::StrCat("--batch-size: want 1 to ", kMaxBatch, ", not '", value, "'")};
    }
  }
  const Message* prototype = factory.GetPrototype(resource.message);
  const std::vector<InputLine> rows = ReadRows(path, *prototype);
  absl::StatusOr<protomodel::client::ResourceClient> client =
      protomodel::client::ResourceClient::For(resource.message, channel,
                                              TransferCallOptions(timeout));
  if (!client.ok()) return Fail(ToGrpc(client.status()));

  const std::string& type = resource.message->full_name();
  const bool progress = isatty(STDERR_FILENO) == 1;
  const absl::Time start = absl::Now();
  auto seconds = [&] { return std::max(absl::ToDoubleSeconds(absl::Now() - start), 1e-6); };
  size_t stored = 0;
  int batches = 0;
  std::string error;
  for (size_t from = 0; from < rows.size(); from += static_cast<size_t>(batch_size)) {
    const size_t to = std::min(rows.size(), from + static_cast<size_t>(batch_size));
    std::vector<std::unique_ptr<Message>> batch;
    std::vector<const Message*> entries;
    std::vector<std::string> request_ids;
    for (size_t r = from; r < to; ++r) {
      batch.emplace_back(prototype->New());
      (void)ParseRow(rows[r].text, batch.back().get(), &error);  // parsed once already
      entries.push_back(batch.back().get());
      request_ids.push_back(RowRequestId(type, rows[r].number, rows[r].text));
    }
    std::vector<std::unique_ptr<Message>> created;
    const absl::Status status = WithRetries([&] {
      created.clear();
      return client->BatchCreate(entries, request_ids, &created);
    });
    if (!status.ok()) {
      if (progress && batches > 0) std::cerr << "\n";  // past the progress line
      const int64_t line = LineAtFault(status, rows, from, to);
      // The batch that failed in doubt (its answer lost) may have committed
      // too: the count is what is known stored.
      std::cerr << "protomodel: " << resource.plural << " import: stopped at the batch of lines "
                << rows[from].number << "-" << rows[to - 1].number
                << (line > 0 ? absl::StrCat(" (at line ", line, ")") : "") << "; " << stored
                << " of " << rows.size() << " " << resource.plural << " were stored before it"
                << (Transient(status.code()) ? ", and it may have been too" : "")
                << ". Running the same import again stores each row once.\n";
      return Fail(ToGrpc(status));
    }
    stored += to - from;
    ++batches;
    if (progress) {
      // "\x1b[K" clears what a longer line before left (a rate that fell).
      std::cerr << absl::StrFormat("\r %d/%d %s (%.0f/s)\x1b[K", stored, rows.size(),
                                   resource.plural, static_cast<double>(stored) / seconds())
                << std::flush;
    }
  }
  if (progress && batches > 0) std::cerr << "\n";
  const double elapsed = seconds();
  std::cerr << absl::StrFormat(
      "protomodel: %s import: %d %s stored in %d batches, %.2f s, %.0f rows/s\n",
      resource.plural, stored, resource.plural, batches, elapsed,
      static_cast<double>(stored) / elapsed);
  return 0;
}

// A --read-mask flag's paths: a,b,c.
std::vector<std::string> MaskFlag(absl::string_view value) {
  std::vector<std::string> paths;
  for (absl::string_view path : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
    paths.emplace_back(absl::StripAsciiWhitespace(path));
  }
  return paths;
}

// `protomodel RESOURCES export`: every row the filter selects, one compact
// JSON object a line, page after page.
int Export(const protomodel::cli::CatalogResource& resource,
           const std::shared_ptr<grpc::Channel>& channel,
           const std::map<std::string, std::string>& flags, double timeout) {
  protomodel::client::ListOptions options;
  options.page_size = kMaxBatch;
  for (const auto& [flag, value] : flags) {
    if (flag == "filter") {
      options.filter = value;
    } else if (flag == "order-by") {
      options.order_by = value;
    } else if (flag == "read-mask") {
      options.read_mask = MaskFlag(value);
    } else {
      throw UsageError{absl::StrCat("--", flag, ": not a flag of 'export'")};
    }
  }
  absl::StatusOr<protomodel::client::ResourceClient> client =
      protomodel::client::ResourceClient::For(resource.message, channel,
                                              TransferCallOptions(timeout));
  if (!client.ok()) return Fail(ToGrpc(client.status()));
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  std::string json;
  do {
    std::vector<std::unique_ptr<Message>> rows;
    absl::StatusOr<std::string> next;
    const absl::Status status = WithRetries([&] {
      rows.clear();
      next = client->ListPage(options, &rows);
      return next.status();
    });
    if (!status.ok()) return Fail(ToGrpc(status));
    for (const std::unique_ptr<Message>& row : rows) {
      json.clear();
      (void)google::protobuf::util::MessageToJsonString(*row, &json, print);
      std::cout << json << "\n";
    }
    if (!std::cout) break;  // no reader left: asking for more pages is wasted
    options.page_token = *std::move(next);
  } while (!options.page_token.empty());
  if (!std::cout.flush()) {
    std::cerr << "protomodel: " << resource.plural << " export: cannot write stdout\n";
    return kOutputError;
  }
  return 0;
}

// `protomodel RESOURCES watch`: each change as one compact JSON object a
// line, flushed as it comes, until interrupted or the watch fails.
// Watch<R>Updates: a JSON line per update of the document, the backlog
// after --after-seq first, until interrupted.
int WatchUpdates(const protomodel::cli::CatalogResource& resource,
                 const std::shared_ptr<grpc::Channel>& channel,
                 const std::map<std::string, std::string>& flags) {
  const std::string key_flag =
      absl::StrReplaceAll(protomodel::LowerSnake(resource.message->name()), {{"_", "-"}}) + "-id";
  std::string id;
  int64_t after = 0;
  for (const auto& [flag, value] : flags) {
    if (flag == key_flag) {
      id = value;
    } else if (flag != "after-seq" || !absl::SimpleAtoi(value, &after)) {
      throw UsageError{absl::StrCat("--", flag, ": not a flag of 'watch-updates'",
                                    flag == "after-seq" ? " (want a number)" : "")};
    }
  }
  if (id.empty()) throw UsageError{absl::StrCat("watch-updates: --", key_flag, " is required")};
  absl::StatusOr<protomodel::client::ResourceClient> client =
      protomodel::client::ResourceClient::For(resource.message, channel);
  if (!client.ok()) return Fail(ToGrpc(client.status()));
  // The key's type is the primary key's: an integer id, or text (a UUID).
  protomodel::client::Key key = id;
  for (int i = 0; i < resource.message->field_count(); ++i) {
    const FieldDescriptor* field = resource.message->field(i);
    if (!field->options().GetExtension(protomodel::v1::column).primary_key() ||
        field->cpp_type() != FieldDescriptor::CPPTYPE_INT64) {
      continue;
    }
    int64_t number = 0;
    if (!absl::SimpleAtoi(id, &number)) {
      throw UsageError{absl::StrCat("--", key_flag, ": '", id, "' is not an integer")};
    }
    key = number;
  }
  bool written = true;
  const absl::Status status =
      client->WatchUpdates(key, after, [&](protomodel::client::DocumentUpdate& update) {
        std::cout << absl::StrCat(
                         "{\"seq\":\"", update.seq, "\",\"update\":\"",
                         absl::Base64Escape(update.data), "\",\"created_at\":\"",
                         absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", update.created_at,
                                          absl::UTCTimeZone()),
                         "\"}\n")
                  << std::flush;
        written = static_cast<bool>(std::cout);
        return written;
      });
  if (!written) {
    std::cerr << "protomodel: " << resource.plural << " watch-updates: cannot write stdout\n";
    return kOutputError;
  }
  return Fail(ToGrpc(status));
}

int WatchChanges(const protomodel::cli::CatalogResource& resource,
                 const std::shared_ptr<grpc::Channel>& channel,
                 const std::map<std::string, std::string>& flags) {
  protomodel::client::WatchOptions options;
  for (const auto& [flag, value] : flags) {
    if (flag == "filter") {
      options.filter = value;
    } else if (flag == "resume-token") {
      options.resume_token = value;
    } else if (flag == "read-mask") {
      options.read_mask = MaskFlag(value);
    } else {
      throw UsageError{absl::StrCat("--", flag, ": not a flag of 'watch'")};
    }
  }
  absl::StatusOr<protomodel::client::ResourceClient> client =
      protomodel::client::ResourceClient::For(resource.message, channel);
  if (!client.ok()) return Fail(ToGrpc(client.status()));
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  const std::string field = protomodel::LowerSnake(resource.message->name());
  bool written = true;
  const absl::Status status = client->Watch(options, [&](protomodel::client::WatchEvent& event) {
    std::string line = absl::StrCat("{\"type\":\"", protomodel::client::TypeName(event.type), "\"");
    if (event.resource != nullptr) {
      std::string json;
      (void)google::protobuf::util::MessageToJsonString(*event.resource, &json, print);
      absl::StrAppend(&line, ",\"", field, "\":", json);
    }
    absl::StrAppend(&line, ",\"resume_token\":\"", event.resume_token, "\"");
    if (event.commit_time != absl::InfinitePast()) {
      absl::StrAppend(&line, ",\"commit_time\":\"",
                      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", event.commit_time,
                                       absl::UTCTimeZone()),
                      "\"");
    }
    std::cout << line << "}\n" << std::flush;
    written = static_cast<bool>(std::cout);
    return written;
  });
  if (!written) {
    std::cerr << "protomodel: " << resource.plural << " watch: cannot write stdout\n";
    return kOutputError;
  }
  return Fail(ToGrpc(status));
}

// The channel to the server the global flags name; sets `target`.
std::shared_ptr<grpc::Channel> ConnectTo(std::map<std::string, std::string>& global,
                                         std::string* target) {
  for (const auto& [flag, value] : global) {
    if (!IsGlobalFlag(flag)) throw UsageError{absl::StrCat("unknown global flag --", flag)};
  }
  protomodel::client::ChannelOptions options;
  options.tls = global.count("tls") > 0;
  options.ca_file = global["ca-file"];
  options.cert_file = global["cert-file"];
  options.key_file = global["key-file"];
  options = protomodel::client::WithEnvironment(std::move(options));
  *target = global["target"];
  if (target->empty()) {
    const char* env = std::getenv("PROTOMODEL_TARGET");
    *target = env != nullptr && *env != '\0' ? env : "localhost:50051";
  }
  auto channel = protomodel::client::Connect(*target, options);
  if (!channel.ok()) throw UsageError{std::string(channel.status().message())};
  return *std::move(channel);
}

int Run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const bool help = std::find(args.begin(), args.end(), "--help") != args.end();
  args.erase(std::remove(args.begin(), args.end(), "--help"), args.end());
  std::map<std::string, std::string> global;
  size_t i = 0;
  for (; i < args.size() && absl::StartsWith(args[i], "--"); ++i) {
    auto parsed = ParseFlags({args[i]});
    global.insert(parsed.begin(), parsed.end());
  }
  if (!help && i < args.size() && args[i] == "token") return NewToken(args, i + 1);
  if (!help && args.size() < i + 2) throw UsageError{"want RESOURCE and VERB"};
  const std::string resource = i < args.size() ? args[i] : "";
  const std::string verb = i + 1 < args.size() ? args[i + 1] : "";
  std::vector<std::string> rest;
  if (args.size() > i + 2) rest.assign(args.begin() + static_cast<long>(i) + 2, args.end());
  // import's FILE: the one argument of a verb that is not a flag ("-" too).
  std::string file;
  if (verb == "import") {
    for (auto it = rest.begin(); it != rest.end();) {
      if (absl::StartsWith(*it, "--")) {
        ++it;
        continue;
      }
      if (!file.empty()) throw UsageError{"import: want one FILE at most"};
      file = *it;
      it = rest.erase(it);
    }
  }
  std::map<std::string, std::string> flags;
  for (auto& [flag, value] : ParseFlags(rest)) {
    (IsGlobalFlag(flag) ? global : flags)[flag] = value;
  }
  double timeout = 10;
  if (global.count("timeout") && !absl::SimpleAtod(global["timeout"], &timeout)) {
    throw UsageError{"--timeout: want seconds"};
  }
  std::string target;
  const std::shared_ptr<grpc::Channel> channel = ConnectTo(global, &target);

  // What the server serves, through its reflection. When it cannot be
  // asked, help and usage errors use the built-in protos, and a call fails
  // as the server does.
  absl::StatusOr<std::unique_ptr<protomodel::cli::Catalog>> catalog =
      protomodel::cli::Catalog::FromServer(channel, absl::Seconds(std::min(timeout, 5.0)));
  const absl::Status discovered = catalog.status();
  if (!catalog.ok()) catalog = protomodel::cli::Catalog::BuiltIn();
  if (!catalog.ok()) throw UsageError{std::string(catalog.status().message())};
  const protomodel::cli::CatalogResource* found = (*catalog)->Find(resource);
  // --help anywhere: about the resource when one is named.
  if (help) {
    if (found != nullptr) {
      ResourceHelp(found->plural, found->service);
    } else {
      std::cout << absl::StrReplaceAll(kUsage, {{"%RESOURCES%", (*catalog)->Names()}});
      if (!discovered.ok()) {
        std::cout << "\n(the built-in resources: no server answered at " << target << ")\n";
      }
    }
    return 0;
  }
  if (found == nullptr) {
    throw UsageError{absl::StrCat("unknown resource '", resource, "' (", (*catalog)->Names(),
                                  ")")};
  }
  if (verb == "import") {
    return Import(*found, (*catalog)->factory(), channel, flags, file, timeout);
  }
  if (verb == "export") return Export(*found, channel, flags, timeout);
  if (verb == "watch") return WatchChanges(*found, channel, flags);
  if (verb == "watch-updates") return WatchUpdates(*found, channel, flags);
  const auto* service = found->service;
  const MethodDescriptor* method = nullptr;
  for (int m = 0; m < service->method_count(); ++m) {
    const std::optional<protomodel::Verb> known = protomodel::VerbOf(*service->method(m));
    if (known.has_value() && !protomodel::IsBatch(*known) && CliVerb(*known) == verb) {
      method = service->method(m);
    }
  }
  if (method == nullptr) throw UsageError{absl::StrCat("unknown verb '", verb, "'")};

  google::protobuf::MessageFactory& factory = (*catalog)->factory();
  std::unique_ptr<Message> request(factory.GetPrototype(method->input_type())->New());
  std::unique_ptr<Message> response(factory.GetPrototype(method->output_type())->New());
  const bool all = flags.count("all") > 0;
  std::vector<std::string> named = BuildRequest(verb, flags, request.get());
  if ((verb == "get" || verb == "delete" || verb == "update") && flags.count("id") == 0) {
    throw UsageError{absl::StrCat(verb, ": --id is required")};
  }
  if (verb == "update" && flags.count("update-mask") == 0) {
    Message* mask = request->GetReflection()->MutableMessage(
        request.get(), request->GetDescriptor()->FindFieldByName("update_mask"));
    for (const std::string& name : named) AddMaskPath(mask, name);
    if (named.empty()) throw UsageError{"update: give at least one field to write"};
  }
  if (verb == "create" || verb == "append-update") {
    // A fresh request_id per logical create: the channel's retries on
    // UNAVAILABLE then never create twice.
    if (const FieldDescriptor* id = request->GetDescriptor()->FindFieldByName("request_id")) {
      request->GetReflection()->SetString(request.get(), id, protomodel::client::NewRequestId());
    }
  }

  const std::string path = absl::StrCat("/", service->full_name(), "/", method->name());
  grpc::internal::RpcMethod rpc(path.c_str(), grpc::internal::RpcMethod::NORMAL_RPC);
  const FieldDescriptor* token_field = request->GetDescriptor()->FindFieldByName("page_token");
  std::unique_ptr<Message> merged(response->New());
  for (;;) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000)));
    response->Clear();
    grpc::Status status = grpc::internal::BlockingUnaryCall(channel.get(), rpc, &context,
                                                            *request, response.get());
    if (!status.ok()) return Fail(status);
    if (!all) {
      std::cout << ToJson(*response);
      return 0;
    }
    const FieldDescriptor* next = response->GetDescriptor()->FindFieldByName("next_page_token");
    const std::string token = response->GetReflection()->GetString(*response, next);
    response->GetReflection()->ClearField(response.get(), next);
    merged->MergeFrom(*response);
    if (token.empty()) break;
    request->GetReflection()->SetString(request.get(), token_field, token);
  }
  std::cout << ToJson(*merged);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "protomodel: " << e.message << "\n(see protomodel --help)\n";
    return kUsageError;
  }
}
