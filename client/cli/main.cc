// protomodel: a command-line client for scripting and operations.
//
//   protomodel [--target=HOST:PORT] RESOURCE VERB [--flag=value ...]
//
// Requests are built through reflection from the generated descriptors, so
// every resource and field of the contract is reachable. Output is JSON on
// stdout; on failure the exit status is the gRPC status code (1-16) and the
// error goes to stderr; usage errors exit 64.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
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
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "google/rpc/status.pb.h"
#include "protomodel/v1/options.pb.h"
#include "protomodel/client/call.h"
#include "protomodel/client/channel.h"
#include "cli/catalog.h"

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
Field values: text as is; bytes as text or @FILE to read a file; timestamps in
RFC 3339; durations as 90s; lists as a,b,c or JSON; maps and messages as JSON;
--body='{"json":...}' gives the whole resource instead.

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
on a usage error.
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
std::string FieldNotes(const FieldDescriptor* field) {
  const protomodel::v1::ColumnOptions& column =
      field->options().GetExtension(protomodel::v1::column);
  std::vector<std::string> notes;
  if (column.primary_key()) notes.push_back("the id");
  if (column.output_only() || column.generated() != protomodel::v1::KEY_GENERATION_UNSPECIFIED ||
      column.server_default() != protomodel::v1::SERVER_DEFAULT_UNSPECIFIED ||
      column.has_relation()) {
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
    const bool needed = field->name() == "id" && (verb == "get" || verb == "delete");
    flags.push_back(needed ? flag : absl::StrCat("[", flag, "]"));
  }
  if (verb == "list") flags.push_back("[--all]");
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
    std::string verb = method->name();
    for (const char* known : {"Create", "Get", "List", "Update", "Delete"}) {
      if (absl::StartsWith(verb, known)) verb = absl::AsciiStrToLower(known);
    }
    std::cout << absl::StrFormat("  %-7s %s\n", verb, VerbFlags(method, verb));
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
  std::map<std::string, std::string> flags;
  if (args.size() > i + 2) {
    for (auto& [flag, value] : ParseFlags(
             std::vector<std::string>(args.begin() + static_cast<long>(i) + 2, args.end()))) {
      (IsGlobalFlag(flag) ? global : flags)[flag] = value;
    }
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
  const auto* service = found->service;
  const MethodDescriptor* method = nullptr;
  for (int m = 0; m < service->method_count(); ++m) {
    std::string prefix = verb;
    if (!prefix.empty()) prefix[0] = absl::ascii_toupper(prefix[0]);
    if (absl::StartsWith(service->method(m)->name(), prefix) && verb == absl::AsciiStrToLower(verb)) {
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
  if (verb == "create") {
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
