// TLS and mTLS on the API port, with certificates the test makes: plaintext
// and foreign clients are refused, a rotated certificate is served without
// a restart, and bad files stop the server naming them.
#include "server/transport/tls.h"

#include <cstdio>
#include <fstream>

#include <grpcpp/client_context.h>
#include <grpcpp/security/auth_context.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "harness/process.h"
#include "harness/test_server.h"

namespace protomodel::testing {
namespace {

// The common name of the certificate the server presented on a new
// connection, "" when the call failed.
std::string ServedCommonName(const TestServer& server, const Certificates& certs) {
  auto stub = grpc::health::v1::Health::NewStub(server.NewChannel(TlsChannelOptions(certs)));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  if (!stub->Check(&context, request, &response).ok()) return "";
  const auto names = context.auth_context()->FindPropertyValues("x509_common_name");
  return names.empty() ? "" : std::string(names.front().data(), names.front().size());
}

TEST(TlsTest, ATlsServerRefusesPlaintextAndServesTlsClients) {
  const Certificates certs = MakeCertificates("tls");
  TestDatabase db;
  TestServer server(db.url(), [&](server::ServerOptions& options) {
    options.tls.cert_file = certs.server_cert;
    options.tls.key_file = certs.server_key;
  });
  ASSERT_TRUE(server.WaitReady(server.NewChannel(TlsChannelOptions(certs))));
  EXPECT_EQ(HealthStatus(server.NewChannel(), ""), "error 14") << "plaintext was answered";
  EXPECT_EQ(ServedCommonName(server, certs), "localhost");
}

TEST(TlsTest, MutualTlsRefusesClientsWithoutACertificateOrFromAnotherCa) {
  const Certificates certs = MakeCertificates("mtls");
  const Certificates other = MakeCertificates("other");
  TestDatabase db;
  TestServer server(db.url(),
                    [&](server::ServerOptions& options) { ServeMutualTls(certs, options); });
  const client::ChannelOptions with_cert = WithClientCertificate(TlsChannelOptions(certs), certs);
  ASSERT_TRUE(server.WaitReady(server.NewChannel(with_cert)));

  EXPECT_EQ(HealthStatus(server.NewChannel(TlsChannelOptions(certs)), ""), "error 14")
      << "a client without a certificate was answered";
  const client::ChannelOptions foreign = WithClientCertificate(TlsChannelOptions(certs), other);
  EXPECT_EQ(HealthStatus(server.NewChannel(foreign), ""), "error 14")
      << "a client certificate from another CA was accepted";
  EXPECT_EQ(HealthStatus(server.NewChannel(), ""), "error 14");
  EXPECT_EQ(HealthStatus(server.NewChannel(with_cert), ""), "SERVING");
}

TEST(TlsTest, ARotatedCertificateIsServedWithinTheReloadIntervalWithoutARestart) {
  const Certificates certs = MakeCertificates("rotate");
  TestDatabase db;
  TestServer server(db.url(), [&](server::ServerOptions& options) {
    options.tls.cert_file = certs.server_cert;
    options.tls.key_file = certs.server_key;
    options.tls.reload = absl::Seconds(1);
  });
  ASSERT_TRUE(server.WaitReady(server.NewChannel(TlsChannelOptions(certs))));
  ASSERT_EQ(ServedCommonName(server, certs), "localhost");

  // As cert-manager does: a new key and certificate in place of the old.
  const std::string cert = certs.dir + "/next.crt";
  const std::string key = certs.dir + "/next.key";
  IssueServerCertificate(certs, cert, key, "/CN=rotated");
  ASSERT_EQ(std::rename(key.c_str(), certs.server_key.c_str()), 0);
  ASSERT_EQ(std::rename(cert.c_str(), certs.server_cert.c_str()), 0);
  const absl::Time renamed = absl::Now();
  // Within the 1 s interval, with slack for a loaded machine.
  std::string served;
  while (absl::Now() < renamed + absl::Seconds(10)) {
    served = ServedCommonName(server, certs);
    if (served == "rotated") break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(served, "rotated");
}

// The binary with bad TLS files: it exits non-zero, naming the file.
void ExpectRefusedNaming(const std::vector<std::string>& flags, const std::string& file) {
  std::vector<std::string> args = flags;
  args.push_back("--listen=127.0.0.1:0");
  Process process = Spawn(args, {"DATABASE_URL=postgresql://127.0.0.1:1/none"});
  EXPECT_EQ(WaitExit(process), 1);
  const std::string log = ReadFile(process.log);
  EXPECT_NE(log.find(file), std::string::npos) << log;
}

TEST(TlsStartTest, BadFilesStopTheServerNamingTheFile) {
  const Certificates certs = MakeCertificates("bad");
  const Certificates other = MakeCertificates("bad-other");
  const std::string cert = "--tls_cert_file=" + certs.server_cert;
  const std::string key = "--tls_key_file=" + certs.server_key;
  // A key that is not the certificate's.
  ExpectRefusedNaming({cert, "--tls_key_file=" + other.server_key}, other.server_key);
  // Missing files.
  ExpectRefusedNaming({"--tls_cert_file=/nonexistent/tls.crt", key}, "/nonexistent/tls.crt");
  ExpectRefusedNaming({cert, "--tls_key_file=/nonexistent/tls.key"}, "/nonexistent/tls.key");
  // A certificate file that holds none, a CA that is not PEM.
  ExpectRefusedNaming({"--tls_cert_file=" + certs.server_key, key}, certs.server_key);
  const std::string garbage = certs.dir + "/garbage.crt";
  std::ofstream(garbage) << "not a certificate\n";
  ExpectRefusedNaming({cert, key, "--tls_client_ca_file=" + garbage}, garbage);
  // A key without its certificate.
  ExpectRefusedNaming({key}, "--tls_cert_file");
}

}  // namespace
}  // namespace protomodel::testing
