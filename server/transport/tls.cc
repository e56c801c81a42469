#include "server/transport/tls.h"

#include <cstdio>

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"

namespace protomodel::server {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

absl::Status Bad(const char* flag, const std::string& path, absl::string_view why) {
  ERR_clear_error();
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, ": ", why));
}

absl::StatusOr<Bio> Open(const char* flag, const std::string& path) {
  Bio bio(BIO_new_file(path.c_str(), "r"));
  if (bio == nullptr) return Bad(flag, path, "cannot be read");
  return bio;
}

// The first certificate of a PEM file; none is an error.
absl::StatusOr<Cert> ReadCerts(const char* flag, const std::string& path) {
  absl::StatusOr<Bio> bio = Open(flag, path);
  if (!bio.ok()) return bio.status();
  Cert first{PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr)};
  if (first == nullptr) return Bad(flag, path, "holds no PEM certificate");
  return first;
}

}  // namespace

bool TlsEnabled(const TlsOptions& options) {
  return !options.cert_file.empty() || !options.key_file.empty() ||
         !options.client_ca_file.empty();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TlsServerCredentials(
    const TlsOptions& options) {
  if (options.cert_file.empty() || options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both --tls_cert_file and --tls_key_file (--tls_client_ca_file "
        "adds client certificates to them)");
  }
  if (options.reload < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--tls_reload_seconds must be at least 1");
  }
  absl::StatusOr<Cert> cert = ReadCerts("--tls_cert_file", options.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<Bio> key_bio = Open("--tls_key_file", options.key_file);
  if (!key_bio.ok()) return key_bio.status();
  Key key(PEM_read_bio_PrivateKey(key_bio->get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return Bad("--tls_key_file", options.key_file,
               "holds no PEM private key (or one with a passphrase)");
  }
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    return Bad("--tls_key_file", options.key_file,
               absl::StrCat("does not match the certificate in ", options.cert_file));
  }
  if (!options.client_ca_file.empty()) {
    absl::StatusOr<Cert> ca = ReadCerts("--tls_client_ca_file", options.client_ca_file);
    if (!ca.ok()) return ca.status();
  }

  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      options.key_file, options.cert_file, options.client_ca_file,
      static_cast<unsigned int>(absl::ToInt64Seconds(options.reload)));
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  if (options.client_ca_file.empty()) {
    tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    tls.watch_root_certs();
    tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(tls);
}

}  // namespace protomodel::server
