#include "db/exec/probe.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>

#include <libpq-fe.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "db/exec/pool.h"

namespace protomodel::db {

Probe::Probe(std::string url) : url_(std::move(url)) {}

Probe::~Probe() {
  if (conn_ != nullptr) PQfinish(conn_);
}

absl::Status Probe::Fail(const std::string& why) {
  std::string message = why;
  if (conn_ != nullptr) {
    // libpq's message may run over lines: one line, for logs.
    std::string libpq(absl::StripAsciiWhitespace(PQerrorMessage(conn_)));
    std::replace_if(libpq.begin(), libpq.end(), [](char c) { return c == '\n' || c == '\t'; },
                    ' ');
    if (!libpq.empty()) absl::StrAppend(&message, ": ", WithoutPassword(url_, libpq));
    PQfinish(conn_);
    conn_ = nullptr;
  }
  return absl::UnavailableError(message);
}

absl::Status Probe::Wait(short events, absl::Time deadline, const char* doing) {
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return Fail(absl::StrCat("no answer ", doing, " within the probe's deadline"));
    }
    pollfd fd{PQsocket(conn_), events, 0};
    if (fd.fd < 0) return Fail(absl::StrCat("no socket ", doing));
    const int ready = poll(&fd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready > 0) return absl::OkStatus();
    if (ready < 0 && errno != EINTR) return Fail(absl::StrCat("poll failed ", doing));
  }
}

absl::Status Probe::Connect(absl::Time deadline) {
  conn_ = PQconnectStart(url_.c_str());
  if (conn_ == nullptr) return absl::UnavailableError("cannot start a connection (no memory)");
  if (PQstatus(conn_) == CONNECTION_BAD) return Fail("cannot connect");
  PostgresPollingStatusType polling = PGRES_POLLING_WRITING;
  while (polling != PGRES_POLLING_OK) {
    if (polling == PGRES_POLLING_FAILED) return Fail("cannot connect");
    const short events = polling == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    if (absl::Status s = Wait(events, deadline, "while connecting"); !s.ok()) return s;
    polling = PQconnectPoll(conn_);
  }
  if (PQsetnonblocking(conn_, 1) != 0) return Fail("cannot make the connection non-blocking");
  return absl::OkStatus();
}

absl::Status Probe::Check(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  if (conn_ != nullptr && PQstatus(conn_) != CONNECTION_OK) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
  if (conn_ == nullptr) {
    if (absl::Status s = Connect(deadline); !s.ok()) return s;
  }
  if (PQsendQuery(conn_, "SELECT 1") != 1) return Fail("cannot send the probe");
  while (true) {
    const int flushed = PQflush(conn_);
    if (flushed == 0) break;
    if (flushed < 0) return Fail("cannot send the probe");
    if (absl::Status s = Wait(POLLOUT, deadline, "while sending the probe"); !s.ok()) return s;
  }
  while (true) {
    if (PQconsumeInput(conn_) != 1) return Fail("lost the connection");
    if (!PQisBusy(conn_)) break;
    if (absl::Status s = Wait(POLLIN, deadline, "to the probe"); !s.ok()) return s;
  }
  bool answered = false;
  std::string error;
  while (PGresult* result = PQgetResult(conn_)) {
    if (PQresultStatus(result) == PGRES_TUPLES_OK) {
      answered = true;
    } else {
      error = std::string(absl::StripAsciiWhitespace(PQresultErrorMessage(result)));
    }
    PQclear(result);
  }
  if (!answered || !error.empty()) {
    return Fail(absl::StrCat("the probe failed", error.empty() ? "" : ": ", error));
  }
  return absl::OkStatus();
}

}  // namespace protomodel::db
