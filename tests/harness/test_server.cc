#include "harness/test_server.h"

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "protomodel/client/channel.h"
#include "db/schema/ddl.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "spdlog/spdlog.h"

namespace protomodel::testing {

TestServer::TestServer(const std::string& database_url,
                       const std::function<void(server::ServerOptions&)>& customize) {
  server::ServerOptions options;
  options.listen = "127.0.0.1:0";
  // In the PgBouncer pass the server goes through it, as deployed behind one.
  options.database_url = ThroughPgBouncer(database_url);
  options.prepared_statements = !PgBouncerPass();
  options.pool_size = 4;
  options.health_interval = absl::Milliseconds(200);
  options.shutdown_grace = absl::Seconds(5);
  options.log_rpcs = false;
  if (customize) customize(options);
  auto server = server::Server::Start(options);
  if (!server.ok()) {
    ADD_FAILURE() << "server did not start: " << server.status();
    std::abort();
  }
  server_ = *std::move(server);
  address_ = absl::StrCat("127.0.0.1:", server_->port());
}

TestServer::~TestServer() {
  server_->Shutdown();
  server_->Wait();
}

std::shared_ptr<grpc::Channel> TestServer::NewChannel() const {
  return client::NewChannel(address_);
}

std::shared_ptr<grpc::Channel> TestServer::NewChannel(
    const client::ChannelOptions& options) const {
  auto channel = client::Connect(address_, options);
  if (!channel.ok()) {
    ADD_FAILURE() << channel.status();
    std::abort();
  }
  return *std::move(channel);
}

bool TestServer::WaitReady(absl::Duration timeout) const {
  return WaitReady(NewChannel(), timeout);
}

bool TestServer::WaitReady(const std::shared_ptr<grpc::Channel>& channel,
                           absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (HealthStatus(channel, "") == "SERVING") return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

SecureServer::SecureServer(const std::string& name, const std::string& tokens_file,
                           const std::function<void(server::ServerOptions&)>& customize)
    : certs_(MakeCertificates(name)) {
  server_ = std::make_unique<TestServer>(database_.url(), [&](server::ServerOptions& options) {
    options.tls.cert_file = certs_.server_cert;
    options.tls.key_file = certs_.server_key;
    options.auth_tokens_file = tokens_file;
    if (customize) customize(options);
  });
  if (!server_->WaitReady(Channel(""))) {
    ADD_FAILURE() << "the TLS server did not become ready";
    std::abort();
  }
}

std::shared_ptr<grpc::Channel> SecureServer::Channel(const std::string& token) const {
  return server_->NewChannel(TlsChannelOptions(certs_, token));
}

void ServeMutualTls(const Certificates& certs, server::ServerOptions& options) {
  options.tls.cert_file = certs.server_cert;
  options.tls.key_file = certs.server_key;
  options.tls.client_ca_file = certs.ca;
}

std::string HealthStatus(const std::shared_ptr<grpc::Channel>& channel,
                         const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return absl::StrCat("error ", status.error_code());
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
}

TestDatabase* ServiceTest::database_ = nullptr;
TestServer* ServiceTest::server_ = nullptr;
std::shared_ptr<grpc::Channel> ServiceTest::channel_;

bool CreateAllSchema() {
  const char* mode = std::getenv("PROTOMODEL_TEST_SCHEMA");
  return mode != nullptr && std::string(mode) == "create_all";
}

void ServiceTest::SetUpTestSuite() {
  spdlog::set_level(spdlog::level::warn);
  database_ = new TestDatabase();
  const bool create_all = CreateAllSchema();
  if (create_all) {
    database_->Exec(db::CreateAllSql(db::ExpectedSchema(**server::ResourceSchema())));
  }
  server_ = new TestServer(database_->url(), [&](server::ServerOptions& options) {
    options.migrate = !create_all;
  });
  ASSERT_TRUE(server_->WaitReady()) << "server never became ready";
  channel_ = server_->NewChannel();
}

void ServiceTest::TearDownTestSuite() {
  channel_.reset();
  delete server_;
  server_ = nullptr;
  delete database_;
  database_ = nullptr;
}

void ServiceTest::SetUp() {
  const std::unique_ptr<db::Schema> schema = *server::ResourceSchema();
  std::vector<std::string> tables;
  for (const auto& table : schema->tables()) {
    tables.push_back(table->quoted_name());
  }
  tables.push_back("\"protomodel_request_ids\"");
  database_->Exec(absl::StrCat("TRUNCATE ", absl::StrJoin(tables, ", "),
                               " RESTART IDENTITY CASCADE"));
}

}  // namespace protomodel::testing
