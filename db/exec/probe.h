#ifndef PROTOMODEL_DB_EXEC_PROBE_H_
#define PROTOMODEL_DB_EXEC_PROBE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

typedef struct pg_conn PGconn;

namespace protomodel::db {

// Asks the database whether it answers (`SELECT 1`), on a connection of its
// own that it keeps between checks, and gives up at a deadline however the
// database fails to answer: a refused connection, a network that drops
// packets without a word, or a pooler (PgBouncer) that accepts the query and
// queues it while its server is away. libpq's non-blocking calls and poll():
// a check never waits past its timeout, and a connection that did not
// answer in time is closed, never reused. Not thread-safe: one prober.
class Probe {
 public:
  explicit Probe(std::string url);
  ~Probe();
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  // OK when the database answered within `timeout`; UNAVAILABLE saying why
  // otherwise (never with the URL's password).
  absl::Status Check(absl::Duration timeout);

 private:
  absl::Status Connect(absl::Time deadline);
  // Waits until the socket is ready for `events` (POLLIN, POLLOUT).
  absl::Status Wait(short events, absl::Time deadline, const char* doing);
  absl::Status Fail(const std::string& why);

  const std::string url_;
  PGconn* conn_ = nullptr;
};

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_EXEC_PROBE_H_
