// protomodel-chaos: breaks things on purpose under load and checks that the
// contract holds.
//
// Two server replicas share one PostgreSQL cluster of the run's own. Client
// threads (the C++ client library, with its retries and request_ids) run
// mixed create/get/list/update load against both while the run stops
// PostgreSQL (fast, then immediate shutdown) and brings it back, then
// SIGTERMs one replica while calls are held in flight by a table lock. It
// checks and prints:
//   - neither replica crashed, and the SIGTERMed one finished its in-flight
//     calls and exited 0 (the other too, at the end);
//   - every error is UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, or
//     UNKNOWN on a write (the commit in doubt);
//   - errors stop within --recovery_seconds of the database returning;
//   - every create acknowledged OK is in the database, and no logical create
//     made two rows.
// Exit status 0 when every check passes, 1 otherwise.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "protomodel/client/channel.h"
#include "heroes/v1/heroes.pb.h"
#include "protomodel/client/resources.h"

ABSL_FLAG(std::string, server, "", "The protomodel-server binary.");
ABSL_FLAG(std::string, pg_script, "", "scripts/pg.sh.");
ABSL_FLAG(std::string, pg_dir, "", "A PostgreSQL cluster folder of this run's own.");
ABSL_FLAG(std::string, log_dir, "", "Where the replicas' logs go (default: pg_dir/..).");
ABSL_FLAG(int, workers, 8, "Client threads, each with one call in flight.");
ABSL_FLAG(int, rounds, 1, "Times the fast + immediate restart pair is repeated.");
ABSL_FLAG(double, phase_seconds, 5, "Load between two disruptions.");
ABSL_FLAG(double, outage_seconds, 2, "How long PostgreSQL stays down each time.");
ABSL_FLAG(double, recovery_seconds, 5,
          "Errors must stop this long after the database returns.");

namespace {

using HeroesClient = protomodel::client::Resources<heroes::v1::Hero>;

// --- processes --------------------------------------------------------------

std::string Shell(const std::string& command, int* exit_status = nullptr) {
  std::string out;
  FILE* pipe = popen(absl::StrCat(command, " 2>&1").c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  const int status = pclose(pipe);
  if (exit_status != nullptr) *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

struct Replica {
  std::string name;
  pid_t pid = -1;
  std::string address;
  std::string log;
};

Replica StartReplica(const std::string& name, const std::string& url,
                     const std::string& log_dir) {
  std::mt19937 random(std::random_device{}());
  for (int attempt = 0; attempt < 10; ++attempt) {
    Replica replica;
    replica.name = name;
    const int port = 20000 + static_cast<int>(random() % 30000);
    replica.address = absl::StrCat("127.0.0.1:", port);
    replica.log = absl::StrCat(log_dir, "/chaos-", name, ".log");
    const std::vector<std::string> args = {
        absl::GetFlag(FLAGS_server), absl::StrCat("--listen=", replica.address),
        absl::StrCat("--database_url=", url), "--pool_size=4",
        "--shutdown_grace_seconds=10", "--default_deadline_seconds=10"};
    replica.pid = fork();
    if (replica.pid == 0) {
      FILE* log = freopen(replica.log.c_str(), "w", stdout);
      if (log == nullptr) _exit(127);
      dup2(fileno(stdout), fileno(stderr));
      std::vector<char*> argv;
      for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    const absl::Time until = absl::Now() + absl::Seconds(30);
    while (absl::Now() < until) {
      if (ReadFile(replica.log).find("database answers: SERVING") != std::string::npos) {
        return replica;
      }
      if (waitpid(replica.pid, nullptr, WNOHANG) != 0) break;  // port taken: retry
      absl::SleepFor(absl::Milliseconds(50));
    }
    kill(replica.pid, SIGKILL);
    waitpid(replica.pid, nullptr, 0);
  }
  std::cerr << "chaos: replica " << name << " did not start\n";
  std::exit(2);
}

// Waits for `replica` to exit; its exit status, or -1 (killed by a signal or
// still running after `timeout`).
int WaitExit(const Replica& replica, absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  while (absl::Now() < until) {
    int status = 0;
    if (waitpid(replica.pid, &status, WNOHANG) == replica.pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  kill(replica.pid, SIGKILL);
  waitpid(replica.pid, nullptr, 0);
  return -1;
}

bool Alive(const Replica& replica) { return waitpid(replica.pid, nullptr, WNOHANG) == 0; }

// --- load -------------------------------------------------------------------

enum class Op { kCreate, kGet, kList, kUpdate };
const char* OpName(Op op) {
  switch (op) {
    case Op::kCreate: return "create";
    case Op::kGet: return "get";
    case Op::kList: return "list";
    case Op::kUpdate: return "update";
  }
  return "?";
}

struct Call {
  absl::Time start;
  absl::Time end;
  Op op;
  absl::StatusCode code;
  int replica;  // 0 or 1
  std::string message;
};

struct Acked {
  std::string name;
  int64_t id;
};

struct Load {
  std::atomic<bool> stop{false};
  std::atomic<bool> first_alive{true};
  std::atomic<int> in_flight[2] = {0, 0};
  absl::Mutex mu;
  std::vector<Call> calls ABSL_GUARDED_BY(mu);
  std::vector<Acked> acked ABSL_GUARDED_BY(mu);
  std::vector<std::string> attempted ABSL_GUARDED_BY(mu);
};

void Work(int worker, Load* load, std::vector<std::unique_ptr<HeroesClient>>* clients) {
  std::mt19937_64 random(static_cast<uint64_t>(worker) * 7919 + 1);
  std::vector<int64_t> mine;
  int created = 0;
  while (!load->stop) {
    // Even workers use the first replica until it is told to stop.
    const int replica = (worker % 2 == 0 && load->first_alive) ? 0 : 1;
    HeroesClient& client = *(*clients)[static_cast<size_t>(replica)];
    const int dice = static_cast<int>(random() % 100);
    Op op = dice < 30 ? Op::kCreate : dice < 60 ? Op::kGet : dice < 80 ? Op::kList : Op::kUpdate;
    if (mine.empty()) op = Op::kCreate;
    Call call;
    call.op = op;
    call.replica = replica;
    call.start = absl::Now();
    absl::Status status;
    std::string name;
    ++load->in_flight[replica];
    switch (op) {
      case Op::kCreate: {
        name = absl::StrCat("chaos-", worker, "-", created++);
        {
          absl::MutexLock lock(&load->mu);
          load->attempted.push_back(name);
        }
        heroes::v1::Hero hero;
        hero.set_name(name);
        hero.set_secret_name("unknown");
        auto out = client.Create(hero);
        status = out.status();
        if (out.ok()) {
          mine.push_back(out->id());
          absl::MutexLock lock(&load->mu);
          load->acked.push_back({name, out->id()});
        }
        break;
      }
      case Op::kGet:
        status = client.Get(mine[random() % mine.size()]).status();
        break;
      case Op::kList: {
        protomodel::client::ListOptions page;
        page.filter = absl::StrCat("name = \"chaos-", worker, "-0\" OR age > 1000");
        page.page_size = 20;
        std::vector<std::unique_ptr<google::protobuf::Message>> rows;
        status = client.untyped().ListPage(page, &rows).status();
        break;
      }
      case Op::kUpdate: {
        heroes::v1::Hero hero;
        hero.set_id(mine[random() % mine.size()]);
        hero.set_secret_name(absl::StrCat("secret-", random() % 1000));
        status = client.Update(hero, {"secret_name"}).status();
        break;
      }
    }
    --load->in_flight[replica];
    call.end = absl::Now();
    call.code = status.code();
    if (!status.ok()) call.message = std::string(status.message());
    absl::MutexLock lock(&load->mu);
    load->calls.push_back(std::move(call));
  }
}

// --- the run ----------------------------------------------------------------

struct Disruption {
  std::string what;
  absl::Time down;
  absl::Time up;
};

bool Allowed(const Call& call) {
  switch (call.code) {
    case absl::StatusCode::kOk:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return true;
    case absl::StatusCode::kUnknown:  // a commit in doubt: writes only
      return call.op == Op::kCreate || call.op == Op::kUpdate;
    default:
      return false;
  }
}

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

// The run's PostgreSQL is stopped however the run ends.
std::string* stop_postgres = nullptr;
void StopPostgres() {
  if (stop_postgres != nullptr) Shell(*stop_postgres);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Breaks PostgreSQL and a replica under load; checks the contract.");
  absl::ParseCommandLine(argc, argv);
  const std::string pg = absl::GetFlag(FLAGS_pg_script);
  const std::string pg_dir = absl::GetFlag(FLAGS_pg_dir);
  if (absl::GetFlag(FLAGS_server).empty() || pg.empty() || pg_dir.empty()) {
    std::cerr << "chaos: --server, --pg_script and --pg_dir are required\n";
    return 64;
  }
  std::string log_dir = absl::GetFlag(FLAGS_log_dir);
  if (log_dir.empty()) log_dir = pg_dir.substr(0, pg_dir.find_last_of('/'));
  const absl::Duration phase = absl::Seconds(absl::GetFlag(FLAGS_phase_seconds));
  const absl::Duration outage = absl::Seconds(absl::GetFlag(FLAGS_outage_seconds));
  const absl::Duration recovery = absl::Seconds(absl::GetFlag(FLAGS_recovery_seconds));

  int exit_status = 0;
  stop_postgres = new std::string(absl::StrCat(pg, " stop ", pg_dir));
  std::atexit(StopPostgres);
  // Durable commits (no --fast): an immediate shutdown is a crash, and only
  // with synchronous_commit on does an acknowledged commit survive one.
  Shell(absl::StrCat(pg, " start ", pg_dir, " auto"), &exit_status);
  if (exit_status != 0) {
    std::cerr << "chaos: PostgreSQL did not start\n";
    return 2;
  }
  {  // A fresh database each run.
    pqxx::connection admin(Shell(absl::StrCat(pg, " url ", pg_dir)));
    pqxx::nontransaction tx(admin);
    tx.exec("DROP DATABASE IF EXISTS chaos WITH (FORCE)");
  }
  const std::string url = Shell(absl::StrCat(pg, " createdb ", pg_dir, " chaos"));
  std::vector<Replica> replicas = {StartReplica("a", url, log_dir),
                                   StartReplica("b", url, log_dir)};
  std::printf("chaos: PostgreSQL %s, replicas %s and %s, %d workers\n", url.c_str(),
              replicas[0].address.c_str(), replicas[1].address.c_str(),
              absl::GetFlag(FLAGS_workers));

  std::vector<std::unique_ptr<HeroesClient>> clients;
  protomodel::client::CallOptions call_options;
  call_options.deadline = absl::Seconds(5);
  for (const Replica& replica : replicas) {
    auto heroes = HeroesClient::For(protomodel::client::NewChannel(replica.address), call_options);
    if (!heroes.ok()) {
      std::fprintf(stderr, "chaos: %s\n", heroes.status().ToString().c_str());
      return 1;
    }
    clients.push_back(std::make_unique<HeroesClient>(*std::move(heroes)));
  }
  Load load;
  std::vector<std::thread> workers;
  const absl::Time begin = absl::Now();
  for (int w = 0; w < absl::GetFlag(FLAGS_workers); ++w) {
    workers.emplace_back(Work, w, &load, &clients);
  }

  std::vector<Disruption> disruptions;
  absl::SleepFor(phase);
  for (int round = 0; round < absl::GetFlag(FLAGS_rounds); ++round) {
    for (const char* mode : {"fast", "immediate"}) {
      Disruption d;
      d.what = absl::StrCat("PostgreSQL ", mode, " shutdown");
      d.down = absl::Now();
      Shell(absl::StrCat(pg, " stop ", pg_dir, " ", mode));
      absl::SleepFor(outage);
      Shell(absl::StrCat(pg, " start ", pg_dir, " auto"), &exit_status);
      d.up = absl::Now();
      if (exit_status != 0) {
        std::cerr << "chaos: PostgreSQL did not come back\n";
        return 2;
      }
      std::printf("chaos: %s at +%.1fs, back at +%.1fs\n", d.what.c_str(),
                  Seconds(d.down - begin), Seconds(d.up - begin));
      disruptions.push_back(d);
      absl::SleepFor(phase);
    }
  }

  // SIGTERM replica a while a table lock holds calls in flight on it.
  int in_flight_at_term = 0;
  absl::Time term_at;
  int term_exit = -1;
  {
    pqxx::connection locker(url);
    pqxx::work lock(locker);
    lock.exec("LOCK TABLE hero IN ACCESS EXCLUSIVE MODE");
    absl::SleepFor(absl::Milliseconds(500));
    in_flight_at_term = load.in_flight[0];
    term_at = absl::Now();
    load.first_alive = false;
    kill(replicas[0].pid, SIGTERM);
    absl::SleepFor(absl::Milliseconds(500));
    lock.commit();
    term_exit = WaitExit(replicas[0], absl::Seconds(20));
  }
  std::printf("chaos: SIGTERM to replica a at +%.1fs with %d calls in flight; exit status %d\n",
              Seconds(term_at - begin), in_flight_at_term, term_exit);
  absl::SleepFor(phase / 2);
  load.stop = true;
  for (std::thread& t : workers) t.join();
  const bool b_alive = Alive(replicas[1]);
  kill(replicas[1].pid, SIGTERM);
  const int b_exit = WaitExit(replicas[1], absl::Seconds(20));

  // --- checks ---
  std::vector<std::string> failures;
  absl::MutexLock lock(&load.mu);
  std::map<std::string, std::map<absl::StatusCode, int>> by_op;
  for (const Call& call : load.calls) ++by_op[OpName(call.op)][call.code];
  std::printf("chaos: %zu calls\n", load.calls.size());
  for (const auto& [op, codes] : by_op) {
    std::string line;
    for (const auto& [code, n] : codes) {
      absl::StrAppend(&line, " ", absl::StatusCodeToString(code), "=", n);
    }
    std::printf("  %-7s%s\n", op.c_str(), line.c_str());
  }
  int bad = 0;
  for (const Call& call : load.calls) {
    if (Allowed(call)) continue;
    if (++bad <= 5) {
      failures.push_back(absl::StrCat(OpName(call.op), " on replica ", call.replica == 0 ? "a" : "b",
                                      " at +", absl::StrFormat("%.2f", Seconds(call.start - begin)),
                                      "s ended ", absl::StatusCodeToString(call.code), ": ",
                                      call.message));
    }
  }
  if (bad > 5) failures.push_back(absl::StrCat("... ", bad, " calls ended with a forbidden code"));

  // Errors stop within the recovery time after each return of the database.
  for (size_t i = 0; i < disruptions.size(); ++i) {
    const Disruption& d = disruptions[i];
    const absl::Time window_end = i + 1 < disruptions.size() ? disruptions[i + 1].down : term_at;
    absl::Time last_error = absl::InfinitePast();
    const Call* last = nullptr;
    int errors = 0;
    for (const Call& call : load.calls) {
      if (call.code == absl::StatusCode::kOk || call.end < d.down || call.end >= window_end) continue;
      ++errors;
      if (call.end > last_error) {
        last_error = call.end;
        last = &call;
      }
    }
    if (last != nullptr) {
      std::printf("chaos:   last error: %s on replica %s, +%.2fs..+%.2fs, %s: %s\n",
                  OpName(last->op), last->replica == 0 ? "a" : "b",
                  Seconds(last->start - begin), Seconds(last->end - begin),
                  absl::StatusCodeToString(last->code).c_str(), last->message.c_str());
    }
    const absl::Duration recovered =
        last_error > d.up ? last_error - d.up : absl::ZeroDuration();
    std::printf("chaos: %s: %d errors, none after +%.2fs past its return\n", d.what.c_str(),
                errors, Seconds(recovered));
    if (recovered > recovery) {
      failures.push_back(absl::StrCat(d.what, ": errors went on ", Seconds(recovered),
                                      "s after the database returned"));
    }
    int ok_after = 0;
    for (const Call& call : load.calls) {
      ok_after += call.code == absl::StatusCode::kOk && call.start > last_error &&
                  call.end < window_end;
    }
    if (ok_after == 0) failures.push_back(absl::StrCat(d.what, ": no call succeeded afterwards"));
  }

  // The SIGTERMed replica drained.
  int drained_ok = 0;
  for (const Call& call : load.calls) {
    drained_ok += call.replica == 0 && call.start < term_at && call.end > term_at &&
                  call.code == absl::StatusCode::kOk;
  }
  std::printf("chaos: replica a finished %d calls after SIGTERM, exit %d; replica b %s, exit %d\n",
              drained_ok, term_exit, b_alive ? "alive to the end" : "DIED", b_exit);
  if (in_flight_at_term == 0) failures.push_back("no call was in flight on replica a at SIGTERM");
  if (drained_ok == 0) failures.push_back("replica a finished no in-flight call after SIGTERM");
  if (term_exit != 0) failures.push_back(absl::StrCat("replica a exited ", term_exit));
  if (!b_alive) failures.push_back("replica b died during the run");
  if (b_exit != 0) failures.push_back(absl::StrCat("replica b exited ", b_exit));

  // Acknowledged creates are stored, and none made two rows.
  std::map<std::string, std::vector<int64_t>> rows;
  {
    pqxx::connection conn(url);
    pqxx::nontransaction tx(conn);
    for (const auto& row : tx.exec("SELECT name, id FROM hero WHERE name LIKE 'chaos-%'")) {
      rows[row[0].as<std::string>()].push_back(row[1].as<int64_t>());
    }
  }
  int lost = 0, doubled = 0;
  for (const Acked& acked : load.acked) {
    auto it = rows.find(acked.name);
    if (it == rows.end() || std::find(it->second.begin(), it->second.end(), acked.id) ==
                                it->second.end()) {
      if (++lost <= 5) {
        failures.push_back(absl::StrCat("acknowledged create ", acked.name, " (id ", acked.id,
                                        ") is not in the database"));
      }
    }
  }
  for (const auto& [name, ids] : rows) {
    if (ids.size() > 1 && ++doubled <= 5) {
      failures.push_back(absl::StrCat("create ", name, " made ", ids.size(), " rows"));
    }
  }
  std::printf("chaos: %zu creates acknowledged, %zu attempted, %zu rows; %d lost, %d doubled\n",
              load.acked.size(), load.attempted.size(), rows.size(), lost, doubled);

  for (const Replica& replica : replicas) {
    const std::string log = ReadFile(replica.log);
    for (const char* sign : {"AddressSanitizer", "runtime error", "terminate called"}) {
      if (log.find(sign) != std::string::npos) {
        failures.push_back(absl::StrCat("replica ", replica.name, " log shows '", sign, "'"));
      }
    }
  }

  if (failures.empty()) {
    std::printf("chaos: PASS\n");
    return 0;
  }
  for (const std::string& f : failures) std::printf("chaos: FAIL: %s\n", f.c_str());
  return 1;
}
