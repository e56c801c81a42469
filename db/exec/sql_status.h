#ifndef PROTOMODEL_DB_EXEC_SQL_STATUS_H_
#define PROTOMODEL_DB_EXEC_SQL_STATUS_H_

#include <exception>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace protomodel::db {

// Whether a failed statement may have changed the database.
enum class StatementKind {
  // A read: a lost connection means nothing was written (UNAVAILABLE).
  kRead,
  // A single autocommitted write: a connection lost while it ran leaves the
  // outcome unknown (UNKNOWN, saying so).
  kWrite,
  // Statements inside an explicit transaction: a connection lost before
  // COMMIT rolled it back (UNAVAILABLE); one lost during COMMIT (libpqxx's
  // in_doubt_error) leaves the outcome unknown (UNKNOWN).
  kTransaction,
};

// Converts an exception thrown by libpqxx (or the standard library) while
// running SQL into a Status, by SQLSTATE:
//   08xxx, 57P01-57P03, 53300, broken connection  -> UNAVAILABLE
//   57014 (query cancelled)                       -> DEADLINE_EXCEEDED
//   23505 unique                                  -> ALREADY_EXISTS
//   23503 foreign key, 23001 restrict             -> FAILED_PRECONDITION
//   23502 not null, 22xxx data exceptions         -> INVALID_ARGUMENT
//   40001, 40P01                                  -> ABORTED
//   anything else                                 -> INTERNAL (a bug)
// `context` names the resource for the message ("book 7"). Constraint
// violations carry the constraint's name as the payload `constraint`, so a
// caller that knows the schema can name the field at fault.
absl::Status StatusFromException(const std::exception& e, StatementKind kind,
                                 absl::string_view context);

// The same mapping for an error the database sent: its SQLSTATE and
// message.
absl::Status StatusFromSql(absl::string_view state, absl::string_view message,
                           absl::string_view context);

// A connection lost while a statement of `kind` ran: UNAVAILABLE, or
// UNKNOWN for a write.
absl::Status ConnectionLost(StatementKind kind, absl::string_view context);

// The SQLSTATE code of a libpqxx SQL error, or "" for any other exception.
std::string SqlState(const std::exception& e);

// The constraint named in a constraint-violation status, or "".
std::string ViolatedConstraint(const absl::Status& status);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_EXEC_SQL_STATUS_H_
