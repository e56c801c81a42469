#include "protomodel/client/channel.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/client_interceptor.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace protomodel::client {
namespace {

// Each service and its create method.
std::string RetryPolicy(int max_attempts, absl::string_view codes) {
  return absl::StrCat(
      "\"retryPolicy\":{\"maxAttempts\":", max_attempts,
      ",\"initialBackoff\":\"0.05s\",\"maxBackoff\":\"1s\",\"backoffMultiplier\":2,"
      "\"retryableStatusCodes\":[", codes, "]}");
}

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, ": cannot be read"));
  }
  return content.str();
}

// Adds `authorization: Bearer <token>` to every call.
class TokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit TokenInterceptor(const std::string& header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", header_);
    }
    methods->Proceed();
  }

 private:
  const std::string& header_;
};

class TokenInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(const std::string& token)
      : header_(absl::StrCat("Bearer ", token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new TokenInterceptor(header_);
  }

 private:
  const std::string header_;
};

void FromEnvironment(const char* name, std::string& field) {
  const char* value = std::getenv(name);
  if (field.empty() && value != nullptr) field = value;
}

}  // namespace

ChannelOptions WithEnvironment(ChannelOptions options) {
  FromEnvironment("PROTOMODEL_TOKEN", options.token);
  FromEnvironment("PROTOMODEL_TLS_CA_FILE", options.ca_file);
  FromEnvironment("PROTOMODEL_CLIENT_CERT_FILE", options.cert_file);
  FromEnvironment("PROTOMODEL_CLIENT_KEY_FILE", options.key_file);
  const char* tls = std::getenv("PROTOMODEL_TLS");
  if (tls != nullptr && (std::string(tls) == "1" || std::string(tls) == "true")) {
    options.tls = true;
  }
  return options;
}

std::string RetryServiceConfig(int max_attempts) {
  // Every method retries UNAVAILABLE (nothing was written): `{}` names them
  // all, whatever protos the server serves. Creates also retry the
  // in-doubt UNKNOWN, with the same request_id (ResourceClient::Create).
  // Reflection (how the CLI learns a server's protos) fails fast instead:
  // a more specific name wins.
  return absl::StrCat(
      "{\"methodConfig\":[{\"name\":[{}],", RetryPolicy(max_attempts, "\"UNAVAILABLE\""),
      "},{\"name\":[{\"service\":\"grpc.reflection.v1.ServerReflection\"},"
      "{\"service\":\"grpc.reflection.v1alpha.ServerReflection\"}]}]}");
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const std::string& target,
                                                       const ChannelOptions& options) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  if (options.retry_unavailable) {
    args.SetServiceConfigJSON(RetryServiceConfig(options.max_attempts));
  }
  for (const auto& [key, value] : options.extra_arguments) args.SetInt(key, value);
  if (options.own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs both its certificate file and its key file");
  }
  if (options.tls || !options.ca_file.empty() || !options.cert_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) {
      auto ca = ReadFile(options.ca_file, "TLS CA file");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *std::move(ca);
    }
    if (!options.cert_file.empty()) {
      auto cert = ReadFile(options.cert_file, "TLS certificate file");
      if (!cert.ok()) return cert.status();
      auto key = ReadFile(options.key_file, "TLS key file");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    credentials = grpc::SslCredentials(ssl);
  }
  if (options.token.empty()) return grpc::CreateCustomChannel(target, credentials, args);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::make_unique<TokenInterceptorFactory>(options.token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      target, credentials, args, std::move(interceptors));
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& target) {
  // Plaintext, no files: Connect() cannot fail.
  return *Connect(target, ChannelOptions{});
}

}  // namespace protomodel::client
