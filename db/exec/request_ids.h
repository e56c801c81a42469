#ifndef PROTOMODEL_DB_EXEC_REQUEST_IDS_H_
#define PROTOMODEL_DB_EXEC_REQUEST_IDS_H_

#include <cstdint>

#include <pqxx/connection>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace protomodel::db {

// How long a create's request_id is remembered (the contract: at least 24 h).
inline constexpr absl::Duration kRequestIdRetention = absl::Hours(25);

// Forgets request_ids older than `retention`; returns how many. Runs on a
// connection of its own, row by row, so requests never wait for it.
absl::StatusOr<int64_t> DeleteExpiredRequestIds(pqxx::connection& conn,
                                                absl::Duration retention);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_EXEC_REQUEST_IDS_H_
