#ifndef PROTOMODEL_TESTS_HARNESS_PROCESS_H_
#define PROTOMODEL_TESTS_HARNESS_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "protomodel/client/channel.h"

namespace protomodel::testing {

// The server binary, run as a user runs it, its stdout and stderr in `log`.
// A process not yet waited for is killed when this goes (a failed assertion
// that returns early leaves no server behind).
struct Process {
  Process() = default;
  Process(Process&& other) noexcept;
  Process& operator=(Process&&) = delete;
  ~Process();

  pid_t pid = -1;
  std::string log;
  bool exited = false;
};

// Starts protomodel-server with `args`, `env` ("NAME=value") added to the
// test's environment.
Process Spawn(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

// Waits for the process to exit: its exit code, or 128 + the signal.
int WaitExit(Process& process);

// A whole file ("" when it cannot be read).
std::string ReadFile(const std::string& path);

// Waits until the server at `target` reports SERVING, asking on a new
// channel each time (a channel made before the server listened would wait
// out its reconnect backoff).
bool WaitServing(const std::string& target, const client::ChannelOptions& options = {},
                 absl::Duration timeout = absl::Seconds(20));

// A loopback TCP port free at the time of the call.
int FreePort();

// A CA, a certificate for the server (localhost, 127.0.0.1) and one for a
// client, made with openssl in a fresh directory.
struct Certificates {
  std::string dir;
  std::string ca;  // ca.crt
  std::string server_cert, server_key;
  std::string client_cert, client_key;
};
Certificates MakeCertificates(const std::string& name);
// Channel options trusting `certs`' CA, sending `token` when not empty.
client::ChannelOptions TlsChannelOptions(const Certificates& certs,
                                         const std::string& token = "");
// `options` presenting the client certificate of `from` (mTLS).
client::ChannelOptions WithClientCertificate(client::ChannelOptions options,
                                             const Certificates& from);
// Another certificate and key for the server from the same CA, at `cert`
// and `key` (for rotation).
void IssueServerCertificate(const Certificates& certs, const std::string& cert,
                            const std::string& key, const std::string& subject);

}  // namespace protomodel::testing

#endif  // PROTOMODEL_TESTS_HARNESS_PROCESS_H_
