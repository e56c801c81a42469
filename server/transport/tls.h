#ifndef PROTOMODEL_SERVER_TRANSPORT_TLS_H_
#define PROTOMODEL_SERVER_TRANSPORT_TLS_H_

#include <memory>
#include <string>

#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace protomodel::server {

struct TlsOptions {
  // PEM certificate chain and its private key: both or neither.
  std::string cert_file;
  std::string key_file;
  // PEM CA bundle: clients must present a certificate it signed (mTLS).
  std::string client_ca_file;
  // How often the files are re-read, so a rotated certificate is served
  // without a restart.
  absl::Duration reload = absl::Seconds(60);
};

// Whether `options` asks for TLS at all.
bool TlsEnabled(const TlsOptions& options);

// Checks the files now (readable, PEM, the key matching the certificate, the
// CA holding certificates), errors naming the file at fault, then returns
// credentials whose files gRPC's file watcher re-reads every `reload`.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TlsServerCredentials(
    const TlsOptions& options);

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_TRANSPORT_TLS_H_
