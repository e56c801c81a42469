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

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "grimoire/v1/grimoire.pb.h"
#include "heroes/v1/heroes.pb.h"
#include "protomodel/client/call.h"
#include "protomodel/client/channel.h"

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::MethodDescriptor;
using google::protobuf::Reflection;

constexpr int kUsageError = 64;

constexpr char kUsage[] = R"(Usage: protomodel [global flags] RESOURCE VERB [flags]

Resources: heroes, teams, users, classes, conversations
Verbs:
  create  --FIELD=VALUE ...                       e.g. heroes create --name=Deadpond --secret-name="Dive Wilson"
  get     --id=ID [--view=full]
  list    [--filter=F] [--order-by=O] [--page-size=N] [--page-token=T] [--read-mask=a,b] [--all]
  update  --id=ID --FIELD=VALUE ... [--update-mask=a,b] [--etag=E]
          (without --update-mask, exactly the fields given are written;
           --FIELD= with nothing clears an optional field)
  delete  --id=ID [--etag=E]
Field values: text as is; bytes as text or @FILE to read a file; timestamps in
RFC 3339; --body='{"json":...}' gives the whole resource instead.

Global flags (before RESOURCE):
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

Output is JSON. Exit status: 0 on success, the gRPC status code (1-16) on a
failed call, 64 on a usage error.
)";

struct UsageError {
  std::string message;
};

struct ResourceInfo {
  const char* plural;
  const char* service;
};

constexpr ResourceInfo kResources[] = {
    {"heroes", "heroes.v1.HeroService"},
    {"teams", "heroes.v1.TeamService"},
    {"users", "grimoire.v1.UserService"},
    {"classes", "grimoire.v1.ClassService"},
    {"conversations", "grimoire.v1.ConversationService"},
};

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError{absl::StrCat("cannot read ", path)};
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// Sets `field` of `message` from its command-line text.
void SetField(Message* message, const FieldDescriptor* field, const std::string& flag,
              const std::string& text) {
  const Reflection* r = message->GetReflection();
  auto bad = [&](const char* want) {
    return UsageError{absl::StrCat("--", flag, ": '", text, "' is not ", want)};
  };
  if (field->is_repeated()) throw UsageError{absl::StrCat("--", flag, ": cannot be set")};
  if (text.empty() && field->has_presence() &&
      field->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
    r->ClearField(message, field);
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
      Message* sub = r->MutableMessage(message, field);
      if (auto* ts = dynamic_cast<google::protobuf::Timestamp*>(sub)) {
        if (!google::protobuf::util::TimeUtil::FromString(text, ts)) {
          throw bad("an RFC 3339 timestamp");
        }
        return;
      }
      if (auto* mask = dynamic_cast<google::protobuf::FieldMask*>(sub)) {
        for (absl::string_view path : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
          mask->add_paths(std::string(absl::StripAsciiWhitespace(path)));
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

int Fail(const grpc::Status& status) {
  std::cerr << "protomodel: " << status.error_code() << " " << status.error_message() << "\n";
  return status.error_code();
}

std::string ToJson(const Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
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
                      c == '/' || c == '*' || c == '_' || c == '-');
    }
    if (!good) {
      throw UsageError{"token: a PATTERN is a glob over package.Service/Method: letters, "
                       "digits, '.', '/', '_', '-' and '*'"};
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

int Run(int argc, char** argv) {
  // Naming the messages links their files into the generated pool, where the
  // services are looked up by name.
  (void)heroes::v1::Hero::descriptor();
  (void)grimoire::v1::User::descriptor();
  std::vector<std::string> args(argv + 1, argv + argc);
  // --help anywhere, `protomodel heroes list --help` included.
  if (std::find(args.begin(), args.end(), "--help") != args.end()) {
    std::cout << kUsage;
    return 0;
  }
  std::map<std::string, std::string> global;
  size_t i = 0;
  for (; i < args.size() && absl::StartsWith(args[i], "--"); ++i) {
    auto parsed = ParseFlags({args[i]});
    global.insert(parsed.begin(), parsed.end());
  }
  if (i < args.size() && args[i] == "token") return NewToken(args, i + 1);
  if (args.size() < i + 2) throw UsageError{"want RESOURCE and VERB"};
  const std::string resource = args[i];
  const std::string verb = args[i + 1];
  std::map<std::string, std::string> flags =
      ParseFlags(std::vector<std::string>(args.begin() + static_cast<long>(i) + 2, args.end()));

  const ResourceInfo* info = nullptr;
  for (const ResourceInfo& r : kResources) {
    if (resource == r.plural) info = &r;
  }
  if (info == nullptr) throw UsageError{absl::StrCat("unknown resource '", resource, "'")};
  const auto* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(info->service);
  const MethodDescriptor* method = nullptr;
  for (int m = 0; m < service->method_count(); ++m) {
    std::string prefix = verb;
    if (!prefix.empty()) prefix[0] = absl::ascii_toupper(prefix[0]);
    if (absl::StartsWith(service->method(m)->name(), prefix) && verb == absl::AsciiStrToLower(verb)) {
      method = service->method(m);
    }
  }
  if (method == nullptr) throw UsageError{absl::StrCat("unknown verb '", verb, "'")};

  google::protobuf::DynamicMessageFactory factory;
  std::unique_ptr<Message> request(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(method->input_type())->New());
  std::unique_ptr<Message> response(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(method->output_type())->New());
  const bool all = flags.count("all") > 0;
  std::vector<std::string> named = BuildRequest(verb, flags, request.get());
  if (verb == "update" && flags.count("update-mask") == 0) {
    auto* mask = static_cast<google::protobuf::FieldMask*>(request->GetReflection()->MutableMessage(
        request.get(), request->GetDescriptor()->FindFieldByName("update_mask")));
    for (const std::string& name : named) mask->add_paths(name);
    if (named.empty()) throw UsageError{"update: give at least one field to write"};
  }
  if (verb == "create") {
    // A fresh request_id per logical create: the channel's retries on
    // UNAVAILABLE then never create twice.
    if (const FieldDescriptor* id = request->GetDescriptor()->FindFieldByName("request_id")) {
      request->GetReflection()->SetString(request.get(), id, protomodel::client::NewRequestId());
    }
  }

  protomodel::client::ChannelOptions options;
  options.tls = global.count("tls") > 0;
  options.ca_file = global["ca-file"];
  options.cert_file = global["cert-file"];
  options.key_file = global["key-file"];
  options = protomodel::client::WithEnvironment(std::move(options));
  std::string target = global["target"];
  if (target.empty()) {
    const char* env = std::getenv("PROTOMODEL_TARGET");
    target = env != nullptr && *env != '\0' ? env : "localhost:50051";
  }
  double timeout = 10;
  if (global.count("timeout") && !absl::SimpleAtod(global["timeout"], &timeout)) {
    throw UsageError{"--timeout: want seconds"};
  }
  for (const auto& [flag, value] : global) {
    if (flag != "target" && flag != "timeout" && flag != "tls" && flag != "ca-file" &&
        flag != "cert-file" && flag != "key-file") {
      throw UsageError{absl::StrCat("unknown global flag --", flag)};
    }
  }
  auto channel = protomodel::client::Connect(target, options);
  if (!channel.ok()) throw UsageError{std::string(channel.status().message())};

  const std::string path = absl::StrCat("/", service->full_name(), "/", method->name());
  grpc::internal::RpcMethod rpc(path.c_str(), grpc::internal::RpcMethod::NORMAL_RPC);
  const FieldDescriptor* token_field = request->GetDescriptor()->FindFieldByName("page_token");
  std::unique_ptr<Message> merged(response->New());
  for (;;) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000)));
    response->Clear();
    grpc::Status status = grpc::internal::BlockingUnaryCall(channel->get(), rpc, &context,
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
