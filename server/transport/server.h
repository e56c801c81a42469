#ifndef PROTOMODEL_SERVER_TRANSPORT_SERVER_H_
#define PROTOMODEL_SERVER_TRANSPORT_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "db/exec/pipeline.h"
#include "db/exec/pool.h"
#include "db/schema/schema.h"
#include "db/table.h"
#include "server/transport/auth.h"
#include "server/verbs/crud.h"
#include "server/verbs/document.h"
#include "server/verbs/executor.h"
#include "server/transport/health.h"
#include "server/transport/metrics.h"
#include "server/transport/reflection.h"
#include "absl/container/flat_hash_set.h"
#include "server/verbs/protos.h"
#include "server/verbs/service.h"
#include "server/verbs/watch.h"
#include "server/transport/tls.h"

namespace protomodel::server {

struct ServerOptions {
  // host:port; port 0 picks a free port (see Server::port()).
  std::string listen = "0.0.0.0:50051";
  std::string database_url;
  // Connections that carry the calls' statements, many in flight on each
  // (libpq's pipeline mode).
  int pipeline_connections = 2;
  // Connections for work that spans statements in one transaction (a create
  // retried with its request_id), opened on demand, at most. A replica uses
  // up to pipeline_connections + pool_size (keep that x replicas under
  // max_connections).
  int pool_size = 8;
  // Calls waiting for the database, at most (statements in flight, and
  // calls waiting for their batch); past it RESOURCE_EXHAUSTED.
  int max_waiting = 1024;
  // false: unnamed statements and no startup options (PgBouncer in
  // transaction pooling mode).
  bool prepared_statements = true;
  // statement_timeout of every pool connection (a cap under the per-call
  // deadlines, which cancel statements themselves); 0 leaves the server's.
  // Sent as a startup option, so only with prepared_statements.
  int max_statement_seconds = 60;
  // Largest message received or sent (CRDT state is several MB).
  int max_message_bytes = 64 * 1024 * 1024;
  // HTTP/2 streams (calls in flight) per client connection.
  int max_concurrent_streams = 256;
  // Watches open at once, at most (past it RESOURCE_EXHAUSTED), and how
  // long the change log keeps changes (a resume token older is
  // OUT_OF_RANGE).
  int max_watches = 10000;
  absl::Duration watch_retention = absl::Hours(1);
  // Apply pending migrations once the database answers.
  bool migrate = true;
  // After migrations: "warn" logs schema drift, "strict" also keeps
  // readiness NOT_SERVING, "off" skips the check.
  std::string schema_check = "warn";
  // Deadline for calls that carry none.
  absl::Duration default_deadline = absl::Seconds(30);
  // How long in-flight calls may take to finish on shutdown.
  absl::Duration shutdown_grace = absl::Seconds(10);
  absl::Duration health_interval = absl::Seconds(1);
  // Log one line per RPC.
  bool log_rpcs = true;
  // TLS (and mTLS) on `listen`; plaintext when no file is set.
  TlsOptions tls;
  // Bearer tokens (`NAME SHA256_HEX PATTERNS` lines), re-read every
  // auth_poll; empty: no authentication.
  std::string auth_tokens_file;
  absl::Duration auth_poll = absl::Seconds(5);
  // Tokens over plaintext (a mesh sidecar terminates mTLS): the services
  // check them, and reflection is off.
  bool allow_plaintext_tokens = false;
  // host:port serving grpc.health.v1.Health alone, in plaintext, for
  // kubelet's probes; empty: none.
  std::string health_listen;
  // host:port serving Prometheus metrics at /metrics; empty: none.
  std::string metrics_listen;
  // Connections are closed (gracefully, after max_connection_age_grace)
  // once this old, so clients behind a Kubernetes Service re-resolve and
  // spread over new replicas. Zero: never.
  absl::Duration max_connection_age = absl::ZeroDuration();
  absl::Duration max_connection_age_grace = absl::Seconds(30);
  // HTTP/2 keepalive pings on idle connections, to find dead peers and keep
  // middleboxes from dropping them. Zero: off.
  absl::Duration keepalive = absl::ZeroDuration();
  // A FileDescriptorSet whose services are served instead of the built-in
  // ones; empty: the built-ins.
  std::string descriptor_set;
  // The user's migrations, NNNN_name.sql, applied instead of the built-in
  // resources' (the server's own track is applied either way); empty: the
  // built-in ones.
  std::string migrations_dir;
  // Random text for columns with random_length (tests make it predictable);
  // empty: OpenSSL's RAND_bytes.
  std::function<std::string(int length)> random_text;
};

// The protomodel gRPC server: every resource's service, health and
// reflection, on one listening port. Built from options alone, so tests start
// it in-process on a real socket.
class Server final {
 public:
  // Builds and starts serving. The database may be down: readiness then
  // reports NOT_SERVING until it answers. Errors: bad options, a port that
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The port actually bound.
  int port() const { return port_; }
  // Readiness turns NOT_SERVING, in-flight calls get up to the grace period,
  // then the server stops. Idempotent.
  void Shutdown();
  // Blocks until the server has stopped.
  void Wait();
  bool ready() const { return health_->ready(); }
  const db::Pool& pool() const { return *pool_; }
  // Statements sent to the database and not yet answered.
  int statements_in_flight() const { return pipeline_->in_flight(); }
  // Watches open now.
  int open_watches() const { return watches_->open(); }
  // Calls waiting for their batch (Batcher) to go.
  int waiting_calls() const {
    int waiting = 0;
    for (const auto& crud : cruds_) waiting += crud->waiting();
    for (const auto& documents : document_verbs_) {
      if (documents != nullptr) waiting += documents->waiting();
    }
    return waiting;
  }
  // The health port and the metrics port bound (0 when not serving).
  int health_port() const { return health_port_; }
  int metrics_port() const { return metrics_port_; }
  Metrics& metrics() { return *metrics_; }

 private:
  Server() = default;
  // The API port's credentials from options_ (TLS, tokens: tokens_ is set),
  // errors naming the file or flag at fault.
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> OpenCredentials();
  // The plaintext port serving health alone.
  absl::Status StartHealthServer();

  ServerOptions options_;
  // Used by the servers' threads: gone after them.
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<TokenStore> tokens_;
  std::unique_ptr<db::Schema> schema_;
  std::unique_ptr<db::Pool> pool_;
  std::vector<std::unique_ptr<db::Table>> tables_;
  std::vector<std::unique_ptr<Crud>> cruds_;
  // By table, as tables_: its live documents and their verbs (null without).
  std::vector<std::unique_ptr<db::DocumentLog>> documents_;
  std::vector<std::unique_ptr<DocumentVerbs>> document_verbs_;
  std::unique_ptr<ServedProtos> protos_;
  // The resource services' methods, "package.Service/Method": they check
  // their own tokens.
  absl::flat_hash_set<std::string> service_methods_;
  std::vector<std::unique_ptr<ResourceService>> services_;
  std::unique_ptr<Reflection> reflection_;
  // Carries the calls' statements and finishes them on its threads: gone
  // before what they use.
  std::unique_ptr<db::Pipeline> pipeline_;
  // Runs the work that must block (transactions on the pool): gone before
  // the pipeline it may wait on.
  std::unique_ptr<Executor> executor_;
  // The watches: its threads read the log and feed the streams; gone after
  // the server, whose calls it serves.
  std::unique_ptr<WatchHub> watches_;
  std::unique_ptr<grpc::Server> server_;
  // Answers UNIMPLEMENTED for all but health on the health port (a server
  // needs one service of its own before gRPC adds the health service).
  std::unique_ptr<grpc::CallbackGenericService> unimplemented_;
  std::unique_ptr<grpc::Server> health_server_;
  std::unique_ptr<DatabaseHealth> health_;
  int port_ = 0;
  int health_port_ = 0;
  int metrics_port_ = 0;
  bool shut_down_ = false;
};

// The user's track: `migrations_dir`'s files, or the built-in ones when it
// is empty.
absl::StatusOr<std::vector<db::MigrationFile>> UserMigrations(const std::string& migrations_dir);

// Applies pending migrations to `database_url`, the server's track, then
// the user's (UserMigrations), then the watches' triggers on the tables the
// descriptor set (or the built-in protos) serves; returns their names.
absl::StatusOr<std::vector<std::string>> Migrate(const std::string& database_url,
                                                 const std::string& migrations_dir = "",
                                                 const std::string& descriptor_set = "");

// The tables of every resource `protos` serves, from their options.
absl::StatusOr<std::unique_ptr<db::Schema>> SchemaOf(const ServedProtos& protos);
// The tables of the built-in resources.
absl::StatusOr<std::unique_ptr<db::Schema>> ResourceSchema();

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_TRANSPORT_SERVER_H_
