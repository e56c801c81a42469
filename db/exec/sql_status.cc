#include "db/exec/sql_status.h"

#include <pqxx/except>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace protomodel::db {
namespace {

constexpr char kConstraintPayload[] = "protomodel.constraint";

// PostgreSQL names the constraint in the primary message, in double quotes:
// `... violates foreign key constraint "book_shelf_id_fkey" on table "book"`.
std::string ConstraintFromMessage(absl::string_view message) {
  const size_t at = message.find("constraint \"");
  if (at == absl::string_view::npos) return "";
  const size_t begin = at + sizeof("constraint \"") - 1;
  const size_t end = message.find('"', begin);
  if (end == absl::string_view::npos) return "";
  return std::string(message.substr(begin, end - begin));
}

absl::Status WithConstraint(absl::Status status, absl::string_view message) {
  std::string constraint = ConstraintFromMessage(message);
  if (!constraint.empty()) {
    status.SetPayload(kConstraintPayload, absl::Cord(constraint));
  }
  return status;
}

bool IsUnavailableState(absl::string_view state) {
  return absl::StartsWith(state, "08") || state == "57P01" ||
         state == "57P02" || state == "57P03" || state == "53300";
}

}  // namespace

std::string SqlState(const std::exception& e) {
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    return sql->sqlstate();
  }
  return "";
}

std::string ViolatedConstraint(const absl::Status& status) {
  auto payload = status.GetPayload(kConstraintPayload);
  return payload ? std::string(*payload) : "";
}

absl::Status ConnectionLost(StatementKind kind, absl::string_view context) {
  if (kind == StatementKind::kWrite) {
    return absl::UnknownError(absl::StrCat(
        context, ": the connection to the database failed while writing; "
                 "the outcome is unknown"));
  }
  return absl::UnavailableError(absl::StrCat(context, ": the database is unavailable"));
}

absl::Status StatusFromSql(absl::string_view state, absl::string_view message,
                           absl::string_view context) {
  if (IsUnavailableState(state)) {
    return absl::UnavailableError(
        absl::StrCat(context, ": the database is unavailable (", state, ")"));
  }
  if (state == "57014") {
    return absl::DeadlineExceededError(
        absl::StrCat(context, ": the query was cancelled at the deadline"));
  }
  if (state == "23505") {
    return WithConstraint(absl::AlreadyExistsError(absl::StrCat(context, ": already exists")),
                          message);
  }
  if (state == "23503" || state == "23001") {
    return WithConstraint(absl::FailedPreconditionError(absl::StrCat(
                              context, ": a referenced row is missing or a "
                                       "referencing row remains")),
                          message);
  }
  if (state == "23502" || absl::StartsWith(state, "22")) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": ", message));
  }
  if (state == "40001" || state == "40P01") {
    return absl::AbortedError(absl::StrCat(context, ": concurrent update, retry (", state, ")"));
  }
  return absl::InternalError(absl::StrCat(context, ": SQLSTATE ", state, ": ", message));
}

absl::Status StatusFromException(const std::exception& e, StatementKind kind,
                                 absl::string_view context) {
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnknownError(absl::StrCat(
        context, ": the connection to the database failed during commit; "
                 "the outcome is unknown"));
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return ConnectionLost(kind, context);
  }
  const std::string state = SqlState(e);
  if (state.empty()) {
    return absl::InternalError(absl::StrCat(context, ": ", e.what()));
  }
  return StatusFromSql(state, e.what(), context);
}

}  // namespace protomodel::db
