// How database failures become status codes (the Errors section of the
// contract): what each promises about whether anything was written.
#include "db/exec/sql_status.h"

#include <gtest/gtest.h>
#include <pqxx/except>

namespace protomodel::db {
namespace {

absl::Status FromState(const char* state, StatementKind kind = StatementKind::kWrite,
                       const std::string& message = "error") {
  return StatusFromException(pqxx::sql_error(message, "SELECT 1", state), kind, "hero 7");
}

TEST(SqlStatusTest, ConnectionFailuresAndShutdownsAreUnavailable) {
  for (const char* state : {"08000", "08003", "08006", "08001", "08004", "57P01", "57P02",
                            "57P03", "53300"}) {
    const absl::Status status = FromState(state);
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << state << ": " << status;
    EXPECT_NE(status.message().find(state), absl::string_view::npos) << status;
  }
}

TEST(SqlStatusTest, ALostConnectionIsUnavailableUnlessAWriteMayHaveLanded) {
  const pqxx::broken_connection lost("server closed the connection unexpectedly");
  EXPECT_EQ(StatusFromException(lost, StatementKind::kRead, "hero 7").code(),
            absl::StatusCode::kUnavailable);
  // Inside BEGIN ... COMMIT, a loss before COMMIT rolled everything back.
  EXPECT_EQ(StatusFromException(lost, StatementKind::kTransaction, "hero 7").code(),
            absl::StatusCode::kUnavailable);
  const absl::Status write = StatusFromException(lost, StatementKind::kWrite, "hero 7");
  EXPECT_EQ(write.code(), absl::StatusCode::kUnknown);
  EXPECT_NE(write.message().find("outcome is unknown"), absl::string_view::npos) << write;
}

TEST(SqlStatusTest, ALossDuringCommitIsUnknownSayingSo) {
  const pqxx::in_doubt_error in_doubt("connection lost during commit");
  for (StatementKind kind : {StatementKind::kRead, StatementKind::kWrite, StatementKind::kTransaction}) {
    const absl::Status status = StatusFromException(in_doubt, kind, "creating hero");
    EXPECT_EQ(status.code(), absl::StatusCode::kUnknown);
    EXPECT_NE(status.message().find("outcome is unknown"), absl::string_view::npos) << status;
  }
}

TEST(SqlStatusTest, ACancelledStatementIsDeadlineExceeded) {
  EXPECT_EQ(FromState("57014").code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(SqlStatusTest, ConstraintViolationsNameTheConstraint) {
  const absl::Status unique = FromState(
      "23505", StatementKind::kWrite,
      "ERROR:  duplicate key value violates unique constraint \"app_user_email_key\"");
  EXPECT_EQ(unique.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ViolatedConstraint(unique), "app_user_email_key");
  const absl::Status fk = FromState(
      "23503", StatementKind::kWrite,
      "ERROR:  insert or update on table \"hero\" violates foreign key constraint "
      "\"hero_team_id_fkey\"");
  EXPECT_EQ(fk.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ViolatedConstraint(fk), "hero_team_id_fkey");
}

TEST(SqlStatusTest, BadDataIsInvalidArgumentAndConflictsAborted) {
  EXPECT_EQ(FromState("22P02").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FromState("23502").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FromState("40001").code(), absl::StatusCode::kAborted);
  EXPECT_EQ(FromState("40P01").code(), absl::StatusCode::kAborted);
}

TEST(SqlStatusTest, AnythingElseIsInternalWithTheState) {
  const absl::Status status = FromState("42P01");
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_NE(status.message().find("42P01"), absl::string_view::npos);
}

}  // namespace
}  // namespace protomodel::db
