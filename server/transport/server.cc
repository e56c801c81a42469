#include "server/transport/server.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <grpc/grpc.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "db/schema/migrations.h"
#include "grpc/health/v1/health.pb.h"
#include "server/transport/reflection.h"
#include "server/verbs/plan.h"
#include "server/verbs/random.h"
#include "server/verbs/service.h"
#include "server/transport/logging.h"
#include "server/transport/observe.h"
#include "spdlog/spdlog.h"

namespace protomodel::server {
namespace {

// Why `address` (host:port) cannot be listened on, learned by binding it
// as gRPC would: "address in use" when another process holds the port.
std::string ListenError(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return "not host:port";
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (const int e = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints,
                                &found);
      e != 0) {
    return gai_strerror(e);
  }
  std::string why;
  for (addrinfo* a = found; a != nullptr && why.empty(); a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0) {
      why = errno == EADDRINUSE ? "address in use (another process listens on that port)"
                                : std::strerror(errno);
    }
    close(fd);
  }
  freeaddrinfo(found);
  return why.empty() ? "gRPC could not bind it" : why;
}

void SetInterceptors(grpc::ServerBuilder& builder, const ObserveOptions& observe) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(MakeCallObserverFactory(observe));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
}

}  // namespace

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
  if (options.max_watches < 0) {
    return absl::InvalidArgumentError("--max_watches must not be negative");
  }
  if (options.watch_retention < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--watch_retention must be at least 1s");
  }
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError("--pool_size must be at least 1");
  }
  if (options.pipeline_connections < 1) {
    return absl::InvalidArgumentError("--pipeline_connections must be at least 1");
  }
  std::unique_ptr<Server> server(new Server());
  server->options_ = options;
  server->metrics_ = std::make_unique<Metrics>();
  Metrics* const metrics = server->metrics_.get();

  // Credentials first: a bad certificate or tokens file stops the server
  // before anything else starts.
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      server->OpenCredentials();
  if (!credentials.ok()) return credentials.status();
  const bool plaintext_tokens = !TlsEnabled(options.tls) && server->tokens_ != nullptr;

  // What is served, and each method's plan: a method that fits no verb
  // stops the server here, naming it.
  absl::StatusOr<std::unique_ptr<ServedProtos>> protos =
      options.descriptor_set.empty() ? ServedProtos::BuiltIn()
                                     : ServedProtos::FromFile(options.descriptor_set);
  if (!protos.ok()) return protos.status();
  server->protos_ = *std::move(protos);
  absl::StatusOr<std::unique_ptr<db::Schema>> schema = SchemaOf(*server->protos_);
  if (!schema.ok()) return schema.status();
  server->schema_ = *std::move(schema);
  std::vector<std::vector<MethodPlan>> plans;
  for (const auto* service : server->protos_->services()) {
    absl::StatusOr<std::vector<MethodPlan>> planned = PlanService(*service, *server->schema_);
    if (!planned.ok()) return planned.status();
    for (const MethodPlan& plan : *planned) server->service_methods_.insert(plan.full_name);
    plans.push_back(*std::move(planned));
  }
  std::vector<db::MigrationFile> user_migrations;
  if (options.migrate) {
    absl::StatusOr<std::vector<db::MigrationFile>> read = UserMigrations(options.migrations_dir);
    if (!read.ok()) return read.status();
    user_migrations = *std::move(read);
  }

  db::PoolOptions pool_options;
  pool_options.url = options.database_url;
  pool_options.size = options.pool_size;
  pool_options.max_waiting = options.max_waiting;
  pool_options.prepared_statements = options.prepared_statements;
  pool_options.observe = [metrics](absl::string_view op, absl::Duration held) {
    metrics->ObserveQuery(op, held);
  };
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
  db::PipelineOptions pipeline_options;
  pipeline_options.url = options.database_url;
  pipeline_options.connections = options.pipeline_connections;
  pipeline_options.max_in_flight = options.max_waiting;
  pipeline_options.prepared_statements = options.prepared_statements;
  pipeline_options.max_statement_seconds = pool_options.max_statement_seconds;
  pipeline_options.observe = pool_options.observe;
  server->pipeline_ = std::make_unique<db::Pipeline>(pipeline_options);
  metrics->WatchDatabase(server->pipeline_.get(), server->pool_.get());
  // One worker per pool connection: each can hold one while the rest queue.
  server->executor_ = std::make_unique<Executor>(options.pool_size, options.max_waiting);

  // Reflection clients (grpcurl, buf curl) describe grpc.health.v1.Health
  // only when its descriptor is in the generated pool; naming it here keeps
  // the linker from dropping it.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, *credentials, &server->port_);
  // gRPC turns SO_REUSEPORT on by default: a second server on the same port
  // would start and the kernel would split connections between the two.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
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
  ObserveOptions observe;
  observe.metrics = metrics;
  observe.tokens = server->tokens_.get();
  observe.log_calls = options.log_rpcs;
  SetInterceptors(builder, observe);

  // One Table and one Crud per table, shared by every method on it.
  for (const auto& table : server->schema_->tables()) {
    server->tables_.push_back(std::make_unique<db::Table>(
        *server->schema_, *table, *server->pool_, *server->pipeline_,
        [executor = server->executor_.get()](absl::AnyInvocable<void() &&> work) {
          executor->Post(std::move(work));
        }));
    server->cruds_.push_back(std::make_unique<Crud>(
        *server->tables_.back(), options.default_deadline, options.max_waiting,
        options.random_text ? options.random_text : RandomText));
    const bool live = table->document() != nullptr;
    server->documents_.push_back(
        live ? std::make_unique<db::DocumentLog>(*server->tables_.back(), *server->pipeline_)
             : nullptr);
    server->document_verbs_.push_back(
        live ? std::make_unique<DocumentVerbs>(*server->documents_.back(),
                                               options.default_deadline, options.max_waiting)
             : nullptr);
  }
  std::vector<const db::Table*> tables;
  for (const auto& table : server->tables_) tables.push_back(table.get());
  WatchOptions watch_options;
  watch_options.database = pool_options;
  watch_options.max_watches = options.max_watches;
  server->watches_ =
      std::make_unique<WatchHub>(watch_options, tables, server->tokens_.get(), metrics);
  const auto index_of = [&](const db::TableSchema* table) -> size_t {
    for (size_t i = 0; i < server->tables_.size(); ++i) {
      if (&server->tables_[i]->schema() == table) return i;
    }
    return 0;
  };
  std::vector<std::string> service_names;
  for (size_t s = 0; s < plans.size(); ++s) {
    std::vector<ResourceService::Route> routes;
    for (MethodPlan& plan : plans[s]) {
      const size_t table = index_of(plan.table);
      const auto& request_type = server->protos_->Prototype(plan.method->input_type());
      const auto& response_type = server->protos_->Prototype(plan.method->output_type());
      routes.push_back({std::move(plan), server->cruds_[table].get(), &request_type,
                        &response_type, server->watches_.get(), server->tables_[table].get(),
                        server->document_verbs_[table].get(), server->documents_[table].get()});
    }
    server->services_.push_back(
        std::make_unique<ResourceService>(std::move(routes), server->tokens_.get()));
    builder.RegisterService(server->services_.back().get());
    service_names.push_back(server->protos_->services()[s]->full_name());
  }

  // Reflection, where gRPC checks its token or none is needed; where tokens
  // travel in plaintext (behind a sidecar) it is off.
  if (!plaintext_tokens) {
    std::vector<std::string> listed = service_names;
    listed.push_back("grpc.health.v1.Health");
    server->reflection_ =
        std::make_unique<Reflection>(&server->protos_->pool(), std::move(listed));
    builder.RegisterService(server->reflection_->v1());
    builder.RegisterService(server->reflection_->v1alpha());
  }
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, ": ", ListenError(options.listen)));
  }
  // gRPC's health service answers SERVING for "" until told otherwise: not
  // before the database answers and migrations ran.
  server->server_->GetHealthCheckService()->SetServingStatus(false);
  std::vector<grpc::HealthCheckServiceInterface*> health_services = {
      server->server_->GetHealthCheckService()};
  if (!options.health_listen.empty()) {
    if (absl::Status s = server->StartHealthServer(); !s.ok()) return s;
    health_services.push_back(server->health_server_->GetHealthCheckService());
  }
  if (!options.metrics_listen.empty()) {
    absl::StatusOr<int> port = metrics->Serve(options.metrics_listen);
    if (!port.ok()) return port.status();
    server->metrics_port_ = *port;
  }
  HealthOptions health_options;
  health_options.on_schema_version = [metrics](int version) {
    metrics->SetSchemaVersion(version);
  };
  health_options.database_url = options.database_url;
  health_options.interval = options.health_interval;
  health_options.migrate = options.migrate;
  health_options.migrations = std::move(user_migrations);
  health_options.schema_check = options.schema_check;
  health_options.schema = server->schema_.get();
  health_options.watch_retention = options.watch_retention;
  server->health_ = std::make_unique<DatabaseHealth>(
      health_options, std::move(health_services), service_names);
  server->health_->Start();
  return server;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Server::OpenCredentials() {
  const bool tls = TlsEnabled(options_.tls);
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (tls) {
    auto tls_credentials = TlsServerCredentials(options_.tls);
    if (!tls_credentials.ok()) return tls_credentials.status();
    credentials = *std::move(tls_credentials);
  }
  if (!options_.auth_tokens_file.empty()) {
    if (!tls && !options_.allow_plaintext_tokens) {
      return absl::InvalidArgumentError(
          "--auth_tokens_file: tokens over plaintext would travel in the clear; turn on "
          "TLS (--tls_cert_file, --tls_key_file) or, behind a mesh sidecar that "
          "terminates mTLS, pass --allow_plaintext_tokens");
    }
    auto tokens = TokenStore::Open(options_.auth_tokens_file, options_.auth_poll);
    if (!tokens.ok()) return tokens.status();
    tokens_ = *std::move(tokens);
    // The resource services check their own methods' tokens, so that their
    // refusals carry details; gRPC's processor checks the rest.
    if (tls) {
      credentials->SetAuthMetadataProcessor(MakeTokenProcessor(
          *tokens_, metrics_.get(),
          [this](absl::string_view method) { return service_methods_.contains(method); }));
    }
  }
  if (!tls) {
    spdlog::warn("serving plaintext gRPC on {}{}: set --tls_cert_file and --tls_key_file "
                 "for TLS",
                 options_.listen, tokens_ != nullptr ? " (with tokens)" : "");
  } else {
    spdlog::info("serving TLS on {}{}{}", options_.listen,
                 options_.tls.client_ca_file.empty() ? "" : ", client certificates required",
                 tokens_ != nullptr ? ", tokens required" : "");
  }
  return credentials;
}

absl::Status Server::StartHealthServer() {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.health_listen, grpc::InsecureServerCredentials(),
                           &health_port_);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  unimplemented_ = std::make_unique<grpc::CallbackGenericService>();
  builder.RegisterCallbackGenericService(unimplemented_.get());
  // Probes are counted, not logged: kubelet calls every few seconds.
  ObserveOptions observe;
  observe.metrics = metrics_.get();
  observe.log_calls = false;
  SetInterceptors(builder, observe);
  health_server_ = builder.BuildAndStart();
  if (health_server_ == nullptr || health_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("--health_listen: cannot listen on ",
                                               options_.health_listen, ": ",
                                               ListenError(options_.health_listen)));
  }
  // NOT_SERVING until the database answers, as on the API port.
  health_server_->GetHealthCheckService()->SetServingStatus(false);
  return absl::OkStatus();
}

Server::~Server() {
  Shutdown();
  Wait();
}

void Server::Shutdown() {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  // Readiness NOT_SERVING, liveness SERVING; the health port keeps
  // answering so while calls drain.
  if (health_ != nullptr) health_->Drain();
  // Watches never end by themselves: end them now, so that their callers
  // resume on another replica while the unary calls drain.
  if (watches_ != nullptr) watches_->Drain();
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(options_.shutdown_grace));
  if (health_server_ != nullptr) health_server_->Shutdown(std::chrono::system_clock::now());
}

void Server::Wait() {
  if (server_ != nullptr) server_->Wait();
  if (health_server_ != nullptr) health_server_->Wait();
}

absl::StatusOr<std::unique_ptr<db::Schema>> SchemaOf(const ServedProtos& protos) {
  return db::Schema::Build(ServedMessages(protos.services()));
}

absl::StatusOr<std::unique_ptr<db::Schema>> ResourceSchema() {
  // The schema's descriptors live in the built-in protos' pool: one for the
  // process, never destroyed (a binary that does not link the generated
  // code builds its own from the embedded set).
  static const absl::StatusOr<std::unique_ptr<ServedProtos>>* const protos =
      new absl::StatusOr<std::unique_ptr<ServedProtos>>(ServedProtos::BuiltIn());
  if (!protos->ok()) return protos->status();
  return SchemaOf(***protos);
}

absl::StatusOr<std::vector<db::MigrationFile>> UserMigrations(const std::string& migrations_dir) {
  if (migrations_dir.empty()) return db::EmbeddedMigrations();
  return db::ReadMigrationsDir(migrations_dir);
}

absl::StatusOr<std::vector<std::string>> Migrate(const std::string& database_url,
                                                 const std::string& migrations_dir,
                                                 const std::string& descriptor_set) {
  absl::StatusOr<std::vector<db::MigrationFile>> user = UserMigrations(migrations_dir);
  if (!user.ok()) return user.status();
  absl::StatusOr<std::unique_ptr<ServedProtos>> protos =
      descriptor_set.empty() ? ServedProtos::BuiltIn() : ServedProtos::FromFile(descriptor_set);
  if (!protos.ok()) return protos.status();
  absl::StatusOr<std::unique_ptr<db::Schema>> schema = SchemaOf(**protos);
  if (!schema.ok()) return schema.status();
  auto conn = db::Connect(database_url, 10);
  if (!conn.ok()) return conn.status();
  return db::ApplyBothTracks(**conn, *user, schema->get());
}

}  // namespace protomodel::server
