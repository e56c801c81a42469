#include "harness/process.h"

#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "harness/postgres.h"
#include "harness/test_server.h"

namespace protomodel::testing {

Process Spawn(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  Process process;
  process.log = absl::StrCat(::testing::TempDir(), "/server-", getpid(), "-",
                             absl::ToUnixNanos(absl::Now()), ".log");
  process.pid = fork();
  if (process.pid == 0) {
    if (freopen(process.log.c_str(), "w", stderr) == nullptr ||
        freopen(process.log.c_str(), "a", stdout) == nullptr) {
      _exit(126);
    }
    for (const std::string& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(PROTOMODEL_SERVER_BINARY));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return process;
}

Process::Process(Process&& other) noexcept
    : pid(other.pid), log(std::move(other.log)), exited(other.exited) {
  other.pid = -1;
}

Process::~Process() {
  if (pid <= 0 || exited) return;
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

int WaitExit(Process& process) {
  int status = 0;
  waitpid(process.pid, &status, 0);
  process.exited = true;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool WaitServing(const std::string& target, const client::ChannelOptions& options,
                 absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto channel = client::Connect(target, options);
    if (channel.ok() && HealthStatus(*channel, "") == "SERVING") return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t size = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size);
  close(fd);
  return ntohs(addr.sin_port);
}

namespace {

// A key and a certificate signed by the CA in `dir`.
void Issue(const std::string& dir, const std::string& cert, const std::string& key,
           const std::string& subject, const std::string& extensions) {
  const std::string ext = absl::StrCat(cert, ".ext");
  std::ofstream(ext) << extensions << "\n";
  RunCommand(absl::StrCat(
      "openssl req -newkey rsa:2048 -nodes -keyout ", key, " -out ", cert, ".csr -subj '",
      subject, "' 2>&1 && openssl x509 -req -in ", cert, ".csr -CA ", dir, "/ca.crt -CAkey ",
      dir, "/ca.key -CAcreateserial -days 2 -out ", cert, " -extfile ", ext, " 2>&1"));
}

}  // namespace

Certificates MakeCertificates(const std::string& name) {
  Certificates certs;
  certs.dir = absl::StrCat(::testing::TempDir(), "/certs-", name, "-", getpid(), "-",
                           absl::ToUnixNanos(absl::Now()));
  RunCommand(absl::StrCat("mkdir -p ", certs.dir));
  certs.ca = certs.dir + "/ca.crt";
  RunCommand(absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout ",
                          certs.dir, "/ca.key -out ", certs.ca, " -subj '/CN=", name,
                          " test CA' 2>&1"));
  certs.server_cert = certs.dir + "/server.crt";
  certs.server_key = certs.dir + "/server.key";
  IssueServerCertificate(certs, certs.server_cert, certs.server_key, "/CN=localhost");
  certs.client_cert = certs.dir + "/client.crt";
  certs.client_key = certs.dir + "/client.key";
  Issue(certs.dir, certs.client_cert, certs.client_key, "/CN=test-client",
        "extendedKeyUsage=clientAuth");
  return certs;
}

client::ChannelOptions TlsChannelOptions(const Certificates& certs, const std::string& token) {
  client::ChannelOptions options;
  options.tls = true;
  options.ca_file = certs.ca;
  options.token = token;
  return options;
}

client::ChannelOptions WithClientCertificate(client::ChannelOptions options,
                                             const Certificates& from) {
  options.cert_file = from.client_cert;
  options.key_file = from.client_key;
  return options;
}

void IssueServerCertificate(const Certificates& certs, const std::string& cert,
                            const std::string& key, const std::string& subject) {
  Issue(certs.dir, cert, key, subject,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
}

}  // namespace protomodel::testing
