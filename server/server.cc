#include "server/server.h"

#include <chrono>

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "db/migrations.h"
#include "grpc/health/v1/health.pb.h"
#include "server/resources.h"
#include "server/logging.h"
#include "spdlog/spdlog.h"

namespace protomodel::server {

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options) {
  if (options.database_url.empty()) {
    return absl::InvalidArgumentError(
        "--database_url (or DATABASE_URL) is required");
  }
  if (options.schema_check != "warn" && options.schema_check != "strict" &&
      options.schema_check != "off") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--schema_check: '", options.schema_check, "' is not warn, strict or off"));
  }
  if (options.max_concurrent_streams < 1) {
    return absl::InvalidArgumentError("--max_concurrent_streams must be at least 1");
  }
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError("--pool_size must be at least 1");
  }
  std::unique_ptr<Server> server(new Server());
  server->options_ = options;

  const std::vector<Resource> resources = Resources(options.resources);
  absl::StatusOr<std::unique_ptr<db::Schema>> schema = ResourceSchema();
  if (!schema.ok()) return schema.status();
  server->schema_ = *std::move(schema);

  db::PoolOptions pool_options;
  pool_options.url = options.database_url;
  pool_options.size = options.pool_size;
  pool_options.max_waiting = options.max_waiting;
  pool_options.prepared_statements = options.prepared_statements;
  if (options.prepared_statements) {
    pool_options.max_statement_seconds = options.max_statement_seconds;
  } else if (options.max_statement_seconds > 0) {
    spdlog::warn(
        "prepared_statements=false: statement_timeout is not set per connection "
        "(PgBouncer refuses startup options); set it on the role instead: "
        "ALTER ROLE <user> SET statement_timeout = '{}s'. Deadlines still cancel "
        "statements.",
        options.max_statement_seconds);
  }
  server->pool_ = std::make_unique<db::Pool>(pool_options);
  // One worker per connection: each can hold one while the rest queue.
  server->executor_ = std::make_unique<Executor>(options.pool_size, options.max_waiting);

  // Reflection clients (grpcurl, buf curl) describe grpc.health.v1.Health
  // only when its descriptor is in the generated pool; naming it here keeps
  // the linker from dropping it.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(),
                           &server->port_);
  if (options.max_connection_age > absl::ZeroDuration()) {
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_MS,
        static_cast<int>(absl::ToInt64Milliseconds(options.max_connection_age)));
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
        static_cast<int>(absl::ToInt64Milliseconds(options.max_connection_age_grace)));
  }
  if (options.keepalive > absl::ZeroDuration()) {
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                               static_cast<int>(absl::ToInt64Milliseconds(options.keepalive)));
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    // Clients may ping as often as every 10 s without being cut off.
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  }
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             options.max_concurrent_streams);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  if (options.log_rpcs) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(MakeRpcLogInterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }

  std::vector<std::string> service_names;
  for (const Resource& resource : resources) {
    const db::TableSchema* table = server->schema_->Find(resource.message);
    server->tables_.push_back(
        std::make_unique<db::Table>(*server->schema_, *table, *server->pool_));
    server->cruds_.push_back(std::make_unique<Crud>(
        *server->tables_.back(), *server->executor_, options.default_deadline,
        resource.rules));
    server->services_.push_back(resource.make_service(*server->cruds_.back()));
    builder.RegisterService(server->services_.back().get());
    service_names.push_back(resource.service_name);
  }

  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen));
  }
  HealthOptions health_options;
  health_options.database_url = options.database_url;
  health_options.interval = options.health_interval;
  health_options.migrate = options.migrate;
  health_options.schema_check = options.schema_check;
  health_options.schema = server->schema_.get();
  server->health_ = std::make_unique<DatabaseHealth>(
      health_options, server->server_->GetHealthCheckService(), service_names);
  server->health_->Start();
  return server;
}

Server::~Server() {
  Shutdown();
  Wait();
}

void Server::Shutdown() {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  health_->Stop();
  server_->GetHealthCheckService()->Shutdown();
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(options_.shutdown_grace));
}

void Server::Wait() {
  if (server_ != nullptr) server_->Wait();
}

absl::StatusOr<std::unique_ptr<db::Schema>> ResourceSchema() {
  std::vector<const google::protobuf::Descriptor*> messages;
  for (const Resource& resource : Resources()) messages.push_back(resource.message);
  return db::Schema::Build(messages);
}

absl::StatusOr<std::vector<std::string>> Migrate(const std::string& database_url) {
  auto conn = db::Connect(database_url, 10);
  if (!conn.ok()) return conn.status();
  return db::ApplyMigrations(**conn, db::EmbeddedMigrations());
}

}  // namespace protomodel::server
