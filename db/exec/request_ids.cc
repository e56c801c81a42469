#include "db/exec/request_ids.h"

#include <pqxx/nontransaction>

#include "db/exec/sql_status.h"

namespace protomodel::db {

absl::StatusOr<int64_t> DeleteExpiredRequestIds(pqxx::connection& conn,
                                                absl::Duration retention) {
  try {
    pqxx::nontransaction tx(conn);
    pqxx::result result = tx.exec_params(
        R"sql(DELETE FROM "protomodel_request_ids"
              WHERE "created_at" < now() - make_interval(secs => $1))sql",
        absl::ToInt64Seconds(retention));
    return static_cast<int64_t>(result.affected_rows());
  } catch (const std::exception& e) {
    return StatusFromException(e, StatementKind::kWrite, "expiring request_ids");
  }
}

}  // namespace protomodel::db
