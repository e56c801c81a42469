// protomodel-server: flags (each with an environment fallback), logging,
// then RunServer or `migrate`.
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <iostream>
#include <malloc.h>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "db/changes.h"
#include "db/schema/ddl.h"
#include "db/exec/pool.h"
#include "server/transport/logging.h"
#include "server/transport/server.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051",
          "Address to serve gRPC on, host:port. Env: PROTOMODEL_LISTEN.");
ABSL_FLAG(std::string, database_url, "",
          "PostgreSQL connection URI or libpq key=value string. Env: DATABASE_URL.");
ABSL_FLAG(int, pipeline_connections, 2,
          "Database connections that carry the calls' statements, many in flight on "
          "each (libpq pipeline mode). Env: PROTOMODEL_PIPELINE_CONNECTIONS.");
ABSL_FLAG(int, pool_size, 8,
          "Database connections for multi-statement transactions (a create retried "
          "with its request_id), opened on demand, at most; keep (pipeline_connections "
          "+ pool_size) x replicas under PostgreSQL's max_connections. "
          "Env: PROTOMODEL_POOL_SIZE.");
ABSL_FLAG(int, max_waiting, 1024,
          "Calls that may wait for the database (statements in flight, calls waiting "
          "for their batch); past it calls fail at once with RESOURCE_EXHAUSTED. "
          "Env: PROTOMODEL_MAX_WAITING.");
ABSL_FLAG(bool, prepared_statements, true,
          "Prepare statements per connection; false runs every query unnamed and "
          "sends no startup options, for PgBouncer in transaction pooling mode. "
          "Env: PROTOMODEL_PREPARED_STATEMENTS.");
ABSL_FLAG(int, max_statement_seconds, 60,
          "statement_timeout of every database connection, set once at connect: a "
          "cap beneath the per-call deadlines, which cancel statements themselves; "
          "0 leaves the server's. Not sent with --prepared_statements=false "
          "(PgBouncer refuses startup options): set it on the database role there. "
          "Env: PROTOMODEL_MAX_STATEMENT_SECONDS.");
ABSL_FLAG(int, max_message_bytes, 64 * 1024 * 1024,
          "Largest gRPC message received or sent; larger requests fail with "
          "RESOURCE_EXHAUSTED. Env: PROTOMODEL_MAX_MESSAGE_BYTES.");
ABSL_FLAG(int, max_concurrent_streams, 256,
          "Calls in flight on one client connection, at most; more wait in the "
          "client. Env: PROTOMODEL_MAX_CONCURRENT_STREAMS.");
ABSL_FLAG(int, max_watches, 10000,
          "Watches (Watch<Rs> streams) open at once on this replica, at most; past it "
          "a new one is RESOURCE_EXHAUSTED. Env: PROTOMODEL_MAX_WATCHES.");
ABSL_FLAG(absl::Duration, watch_retention, absl::Hours(1),
          "How long the change log keeps changes, a duration such as 1h or 30s: a "
          "watch's resume_token resumes for this long, older is OUT_OF_RANGE. "
          "Env: PROTOMODEL_WATCH_RETENTION.");
ABSL_FLAG(bool, migrate, true,
          "Apply pending migrations when the database first answers. "
          "Env: PROTOMODEL_MIGRATE.");
ABSL_FLAG(std::string, schema_check, "warn",
          "After migrations, compare the database with the protos: warn (log each "
          "difference), strict (also keep readiness NOT_SERVING) or off. "
          "Env: PROTOMODEL_SCHEMA_CHECK.");
ABSL_FLAG(std::string, migrations_dir, "",
          "The user's migrations, NNNN_name.sql: applied instead of the built-in ones "
          "(the server's own track is applied either way), and where `schema new` "
          "writes the next one; empty: the built-in ones, and `schema new` writes to "
          "db/migrations. Env: PROTOMODEL_MIGRATIONS_DIR.");
ABSL_FLAG(std::string, descriptor_set, "",
          "A FileDescriptorSet (protoc --include_imports --descriptor_set_out=FILE) "
          "whose services are served, migrated and checked instead of the built-in "
          "ones, with no rebuild. Env: PROTOMODEL_DESCRIPTOR_SET.");
ABSL_FLAG(int, default_deadline_seconds, 30,
          "Deadline for calls that carry none. Env: PROTOMODEL_DEFAULT_DEADLINE_SECONDS.");
ABSL_FLAG(int, shutdown_grace_seconds, 10,
          "On SIGTERM/SIGINT, how long in-flight calls may take to finish. "
          "Env: PROTOMODEL_SHUTDOWN_GRACE_SECONDS.");
ABSL_FLAG(int, max_connection_age_seconds, 0,
          "Close client connections this old (after a 30 s grace), so clients "
          "behind a load balancer spread over new replicas; 0 never. "
          "Env: PROTOMODEL_MAX_CONNECTION_AGE_SECONDS.");
ABSL_FLAG(int, keepalive_seconds, 0,
          "Send HTTP/2 keepalive pings on idle connections this often; 0 off. "
          "Env: PROTOMODEL_KEEPALIVE_SECONDS.");
ABSL_FLAG(std::string, log_level, "info",
          "trace, debug, info, warn, error, critical or off. Env: PROTOMODEL_LOG_LEVEL.");
ABSL_FLAG(std::string, log_format, "text",
          "text, or json (one JSON object a line). Env: PROTOMODEL_LOG_FORMAT.");
ABSL_FLAG(bool, log_rpcs, true,
          "Log one line per RPC (method, code, duration, request id, peer, token name, "
          "traceparent); calls are counted in the metrics either way. "
          "Env: PROTOMODEL_LOG_RPCS.");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain: with --tls_key_file, serve TLS instead of plaintext. "
          "Env: PROTOMODEL_TLS_CERT_FILE.");
ABSL_FLAG(std::string, tls_key_file, "",
          "PEM private key of --tls_cert_file. Env: PROTOMODEL_TLS_KEY_FILE.");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle: require a client certificate it signed (mTLS). "
          "Env: PROTOMODEL_TLS_CLIENT_CA_FILE.");
ABSL_FLAG(int, tls_reload_seconds, 60,
          "Re-read the TLS files this often, so rotated certificates apply without a "
          "restart. Env: PROTOMODEL_TLS_RELOAD_SECONDS.");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "Require bearer tokens: a file of `NAME SHA256_HEX PATTERN[,PATTERN...]` lines "
          "(`protomodel token` makes them), re-read every 5 s. Mount the Kubernetes "
          "Secret as a directory, never with subPath. Env: PROTOMODEL_AUTH_TOKENS_FILE.");
ABSL_FLAG(bool, allow_plaintext_tokens, false,
          "Accept --auth_tokens_file without TLS, for a mesh sidecar that terminates "
          "mTLS; reflection is then off. Env: PROTOMODEL_ALLOW_PLAINTEXT_TOKENS.");
ABSL_FLAG(std::string, health_listen, "",
          "host:port serving the gRPC health service alone, in plaintext and without "
          "tokens, for kubelet's probes; empty: none. Env: PROTOMODEL_HEALTH_LISTEN.");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port serving Prometheus metrics at /metrics, e.g. 0.0.0.0:9090; empty: "
          "none. Env: PROTOMODEL_METRICS_LISTEN.");

namespace {

constexpr char kUsage[] = R"(protomodel gRPC data service.

Usage:
  protomodel-server [flags]             serve (the default; also `serve`)
  protomodel-server migrate [flags]     apply pending migrations and exit
  protomodel-server schema sql          print the schema the protos describe
  protomodel-server schema check        list how the database differs from the
                                        protos; exit 1 when it does
  protomodel-server schema diff         print SQL that brings the database to
                                        the protos (destructive parts commented)
  protomodel-server schema new NAME     write that SQL as the next migration,
                                        NNNN_NAME.sql in --migrations_dir

Every flag can also be set by an environment variable (named in its help);
a flag on the command line wins.)";

const std::vector<std::string>& FlagNames() {
  static const std::vector<std::string> kNames = {
      "listen", "database_url", "pipeline_connections", "pool_size", "max_waiting", "prepared_statements",
      "max_statement_seconds",
      "max_message_bytes", "max_concurrent_streams", "max_watches", "watch_retention", "migrate", "schema_check", "migrations_dir",
      "descriptor_set",
      "default_deadline_seconds", "max_connection_age_seconds", "keepalive_seconds",
      "shutdown_grace_seconds", "log_level", "log_format", "log_rpcs",
      "tls_cert_file", "tls_key_file", "tls_client_ca_file", "tls_reload_seconds",
      "auth_tokens_file", "allow_plaintext_tokens", "health_listen", "metrics_listen"};
  return kNames;
}

std::string EnvName(const std::string& flag) {
  if (flag == "database_url") return "DATABASE_URL";
  return absl::StrCat("PROTOMODEL_", absl::AsciiStrToUpper(flag));
}

// Environment values become flag values before argv is parsed.
bool ApplyEnvironment() {
  for (const std::string& name : FlagNames()) {
    const std::string env = EnvName(name);
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string error;
    if (flag == nullptr || !flag->ParseFrom(value, &error)) {
      std::cerr << "protomodel-server: " << env << ": " << error << "\n";
      return false;
    }
  }
  return true;
}

protomodel::server::ServerOptions OptionsFromFlags() {
  protomodel::server::ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.database_url = absl::GetFlag(FLAGS_database_url);
  options.pipeline_connections = absl::GetFlag(FLAGS_pipeline_connections);
  options.pool_size = absl::GetFlag(FLAGS_pool_size);
  options.max_waiting = absl::GetFlag(FLAGS_max_waiting);
  options.prepared_statements = absl::GetFlag(FLAGS_prepared_statements);
  options.max_statement_seconds = absl::GetFlag(FLAGS_max_statement_seconds);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  options.max_watches = absl::GetFlag(FLAGS_max_watches);
  options.watch_retention = absl::GetFlag(FLAGS_watch_retention);
  options.migrate = absl::GetFlag(FLAGS_migrate);
  options.descriptor_set = absl::GetFlag(FLAGS_descriptor_set);
  options.migrations_dir = absl::GetFlag(FLAGS_migrations_dir);
  options.schema_check = absl::GetFlag(FLAGS_schema_check);
  options.default_deadline = absl::Seconds(absl::GetFlag(FLAGS_default_deadline_seconds));
  options.shutdown_grace = absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds));
  options.log_rpcs = absl::GetFlag(FLAGS_log_rpcs);
  options.max_connection_age = absl::Seconds(absl::GetFlag(FLAGS_max_connection_age_seconds));
  options.keepalive = absl::Seconds(absl::GetFlag(FLAGS_keepalive_seconds));
  options.tls.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  options.tls.key_file = absl::GetFlag(FLAGS_tls_key_file);
  options.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  options.tls.reload = absl::Seconds(absl::GetFlag(FLAGS_tls_reload_seconds));
  options.auth_tokens_file = absl::GetFlag(FLAGS_auth_tokens_file);
  options.allow_plaintext_tokens = absl::GetFlag(FLAGS_allow_plaintext_tokens);
  options.health_listen = absl::GetFlag(FLAGS_health_listen);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  return options;
}

int Serve(const protomodel::server::ServerOptions& options) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  // Every thread started from here on inherits the mask; this one waits.
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Blocks of 256 KiB and more (CRDT documents, their wire buffers) are
  // mapped for themselves and go back to the system when freed, rather than
  // glibc raising its threshold after the first ones are freed and keeping
  // them in the heap: memory follows the documents in flight.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  // An allocation arena per core rather than glibc's eight: memory freed by
  // one thread (a call finished on a pipeline thread) is reused by the next
  // rather than kept in an arena of its own.
  mallopt(M_ARENA_MAX, static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));

  spdlog::info(
      "starting: listen={} database={} pipeline_connections={} pool_size={} max_waiting={} "
      "prepared_statements={} max_statement_seconds={} max_message_bytes={} "
      "max_concurrent_streams={} migrate={} default_deadline={}s shutdown_grace={}s",
      options.listen, protomodel::db::RedactUrl(options.database_url),
      options.pipeline_connections, options.pool_size, options.max_waiting, options.prepared_statements,
      options.max_statement_seconds, options.max_message_bytes,
      options.max_concurrent_streams, options.migrate,
      absl::ToInt64Seconds(options.default_deadline),
      absl::ToInt64Seconds(options.shutdown_grace));
  auto server = protomodel::server::Server::Start(options);
  if (!server.ok()) {
    spdlog::critical("cannot start: {}", server.status().message());
    return 1;
  }
  spdlog::info("serving gRPC on port {}", (*server)->port());
  if ((*server)->health_port() != 0) {
    spdlog::info("serving health on port {}", (*server)->health_port());
  }
  if ((*server)->metrics_port() != 0) {
    spdlog::info("serving metrics on port {} at /metrics", (*server)->metrics_port());
  }
  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("received {}: draining for up to {}s", strsignal(signal),
               absl::ToInt64Seconds(options.shutdown_grace));
  (*server)->Shutdown();
  (*server)->Wait();
  spdlog::info("stopped");
  return 0;
}

// The differences between the database and the protos, or an error.
absl::StatusOr<std::vector<protomodel::db::Difference>> Differences(
    const std::string& database_url, const protomodel::db::Schema& schema) {
  auto conn = protomodel::db::Connect(database_url, 10);
  if (!conn.ok()) return conn.status();
  auto actual = protomodel::db::ReadCatalog(**conn);
  if (!actual.ok()) return actual.status();
  return protomodel::db::Compare(protomodel::db::ExpectedSchema(schema), *actual);
}

// The next free NNNN in `dir` (0001 when empty).
absl::StatusOr<int> NextMigrationNumber(const std::filesystem::path& dir) {
  std::error_code error;
  int highest = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    int number = 0;
    const std::string name = entry.path().filename().string();
    if (name.size() > 5 && name[4] == '_' && absl::SimpleAtoi(name.substr(0, 4), &number)) {
      highest = std::max(highest, number);
    }
  }
  if (error) {
    return absl::NotFoundError(absl::StrCat("--migrations_dir ", dir.string(), ": ",
                                            error.message()));
  }
  return highest + 1;
}

int Schema(const std::vector<char*>& args, const std::string& database_url) {
  const std::string verb = args.size() > 2 ? args[2] : "";
  const std::string descriptor_set = absl::GetFlag(FLAGS_descriptor_set);
  auto protos = descriptor_set.empty()
                    ? protomodel::server::ServedProtos::BuiltIn()
                    : protomodel::server::ServedProtos::FromFile(descriptor_set);
  auto schema = protos.ok() ? protomodel::server::SchemaOf(**protos) : protos.status();
  if (!schema.ok()) {
    std::cerr << "schema: " << schema.status().message() << "\n";
    return 1;
  }
  if (verb == "sql" && args.size() == 3) {
    std::cout << protomodel::db::CreateAllSql(protomodel::db::ExpectedSchema(**schema));
    // The watches' triggers on every table, as `migrate` installs them.
    for (const auto& table : (*schema)->tables()) {
      std::cout << "\n" << protomodel::db::WatchTriggerSql(*table);
    }
    return 0;
  }
  const bool is_new = verb == "new" && args.size() == 4;
  if (!((verb == "check" || verb == "diff") && args.size() == 3) && !is_new) {
    std::cerr << "protomodel-server: want `schema sql`, `schema check`, `schema diff` or "
                 "`schema new NAME` (see --help)\n";
    return 2;
  }
  if (database_url.empty()) {
    std::cerr << "protomodel-server: --database_url (or DATABASE_URL) is required\n";
    return 2;
  }
  auto differences = Differences(database_url, **schema);
  if (!differences.ok()) {
    std::cerr << "schema " << verb << ": " << differences.status().message() << "\n";
    return 1;
  }
  if (verb == "check") {
    for (const auto& d : *differences) std::cout << d.what << "\n";
    // The server's own tables come from its migration track, not the
    // protos: whether each of its migrations is applied.
    auto conn = protomodel::db::Connect(database_url, 10);
    auto pending = conn.ok() ? protomodel::db::PendingServerMigrations(**conn) : conn.status();
    if (!pending.ok()) {
      std::cerr << "schema check: " << pending.status().message() << "\n";
      return 1;
    }
    for (const std::string& name : *pending) {
      std::cout << "the server's own tables: migration " << name
                << " is not applied (protomodel-server migrate applies it)\n";
    }
    auto triggers = protomodel::db::StaleWatchTriggers(**conn, **schema);
    if (!triggers.ok()) {
      std::cerr << "schema check: " << triggers.status().message() << "\n";
      return 1;
    }
    for (const std::string& table : *triggers) {
      std::cout << "table " << protomodel::db::QuoteIdentifier(table)
                << ": the watches' triggers are missing or out of date "
                   "(protomodel-server migrate makes them)\n";
    }
    return differences->empty() && pending->empty() && triggers->empty() ? 0 : 1;
  }
  const std::string sql = protomodel::db::MigrationSql(*differences);
  if (verb == "diff") {
    std::cout << sql;
    return 0;
  }
  if (differences->empty()) {
    std::cerr << "schema new: the database already matches the protos; nothing written\n";
    return 0;
  }
  const std::string name = args[3];
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_') {
      std::cerr << "schema new: NAME may hold letters, digits and '_' only\n";
      return 2;
    }
  }
  const std::string migrations_dir = absl::GetFlag(FLAGS_migrations_dir);
  const std::filesystem::path dir = migrations_dir.empty() ? "db/migrations" : migrations_dir;
  auto number = NextMigrationNumber(dir);
  if (!number.ok()) {
    std::cerr << "schema new: " << number.status().message() << "\n";
    return 1;
  }
  const std::filesystem::path file =
      dir / absl::StrFormat("%04d_%s.sql", *number, name);
  std::ofstream out(file);
  out << "-- Generated by `protomodel-server schema new " << name
      << "`: review before committing.\n" << sql;
  out.close();
  if (!out) {
    std::cerr << "schema new: cannot write " << file.string() << "\n";
    return 1;
  }
  std::cout << file.string() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef NDEBUG
  // Debian's abseil checks every Mutex acquisition for lock-order cycles (a
  // graph update per lock: 2-3 % of the server's CPU under load). Debug and
  // sanitizer builds, and the tests' in-process servers, keep the check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "server/main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  if (!ApplyEnvironment()) return 2;
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);

  if (absl::Status s = protomodel::server::SetupLogging(absl::GetFlag(FLAGS_log_level),
                                                        absl::GetFlag(FLAGS_log_format));
      !s.ok()) {
    std::cerr << "protomodel-server: " << s.message() << "\n";
    return 2;
  }
  const std::string command = args.size() > 1 ? args[1] : "serve";
  if (command == "schema") return Schema(args, absl::GetFlag(FLAGS_database_url));
  if (args.size() > 2) {
    std::cerr << "protomodel-server: unexpected argument '" << args[2] << "'\n";
    return 2;
  }
  const protomodel::server::ServerOptions options = OptionsFromFlags();
  if (command == "serve") return Serve(options);
  if (command == "migrate") {
    if (options.database_url.empty()) {
      spdlog::critical("--database_url (or DATABASE_URL) is required");
      return 2;
    }
    auto applied = protomodel::server::Migrate(options.database_url, options.migrations_dir,
                                                 options.descriptor_set);
    if (!applied.ok()) {
      spdlog::critical("migrate: {}", applied.status().message());
      return 1;
    }
    spdlog::info("migrate: {} applied{}{}", applied->size(),
                 applied->empty() ? "" : ": ", absl::StrJoin(*applied, ", "));
    return 0;
  }
  std::cerr << "protomodel-server: unknown command '" << command
            << "' (want serve or migrate; see --help)\n";
  return 2;
}
