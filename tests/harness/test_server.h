#ifndef PROTOMODEL_TESTS_HARNESS_TEST_SERVER_H_
#define PROTOMODEL_TESTS_HARNESS_TEST_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <gtest/gtest.h>

#include "harness/postgres.h"
#include "harness/process.h"
#include "protomodel/client/channel.h"
#include "server/transport/server.h"

// Expects a grpc::Status to carry `code` (a grpc::StatusCode name), showing
// its message when it does not. `status` is evaluated once (it is often a
// call), and more may be streamed in: EXPECT_CODE(s, OK) << "why".
#define EXPECT_CODE(status, code)                                               \
  switch (0)                                                                    \
  case 0:                                                                       \
  default:                                                                      \
    if (const ::grpc::Status expect_code_status_ = (status); false) {           \
    } else                                                                      \
      EXPECT_EQ(expect_code_status_.error_code(), ::grpc::StatusCode::code)     \
          << expect_code_status_.error_message()

// EXPECT_CODE, stopping the test when it fails.
#define ASSERT_CODE(status, code)                                               \
  switch (0)                                                                    \
  case 0:                                                                       \
  default:                                                                      \
    if (const ::grpc::Status assert_code_status_ = (status); false) {           \
    } else                                                                      \
      ASSERT_EQ(assert_code_status_.error_code(), ::grpc::StatusCode::code)     \
          << assert_code_status_.error_message()

namespace protomodel::testing {

// The real server, started in-process on a free loopback port, reached
// through a real channel.
class TestServer {
 public:
  explicit TestServer(const std::string& database_url,
                      const std::function<void(server::ServerOptions&)>& customize = {});
  ~TestServer();

  server::Server& server() { return *server_; }
  const std::string& address() const { return address_; }
  // A new channel to the server, with the 64 MiB message limit.
  std::shared_ptr<grpc::Channel> NewChannel() const;
  // A new channel with `options` (TLS, a token); the test fails if it cannot
  // be made.
  std::shared_ptr<grpc::Channel> NewChannel(const client::ChannelOptions& options) const;
  // Waits until readiness reports SERVING (or `timeout` passes), asking
  // through `channel` (by default a plaintext one).
  bool WaitReady(absl::Duration timeout = absl::Seconds(30)) const;
  bool WaitReady(const std::shared_ptr<grpc::Channel>& channel,
                 absl::Duration timeout = absl::Seconds(30)) const;

 private:
  std::unique_ptr<server::Server> server_;
  std::string address_;
};

// A TestServer on TLS, with certificates made for it and `tokens_file`, on a
// database of its own; ready when constructed.
class SecureServer {
 public:
  SecureServer(const std::string& name, const std::string& tokens_file,
               const std::function<void(server::ServerOptions&)>& customize = {});

  TestServer& server() { return *server_; }
  TestDatabase& database() { return database_; }
  // A TLS channel sending `token` ("": none).
  std::shared_ptr<grpc::Channel> Channel(const std::string& token) const;

 private:
  const Certificates certs_;
  TestDatabase database_;
  std::unique_ptr<TestServer> server_;
};

// Serves `certs`' server certificate and requires client certificates from
// its CA (mTLS).
void ServeMutualTls(const Certificates& certs, server::ServerOptions& options);

// The health status of `service` as the server reports it, e.g. "SERVING".
std::string HealthStatus(const std::shared_ptr<grpc::Channel>& channel,
                         const std::string& service);

// True when PROTOMODEL_TEST_SCHEMA=create_all: service suites then build
// their database with `schema sql` instead of the migrations.
bool CreateAllSchema();

// A suite with one database and one server for all its tests; every test
// starts with every table empty and identities reset.
class ServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  static TestDatabase& database() { return *database_; }
  static TestServer& test_server() { return *server_; }
  static std::shared_ptr<grpc::Channel> channel() { return channel_; }

 private:
  static TestDatabase* database_;
  static TestServer* server_;
  static std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace protomodel::testing

#endif  // PROTOMODEL_TESTS_HARNESS_TEST_SERVER_H_
