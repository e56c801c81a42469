#ifndef PROTOMODEL_SERVER_CRUD_H_
#define PROTOMODEL_SERVER_CRUD_H_

#include <functional>

#include <google/protobuf/empty.pb.h>
#include <google/protobuf/message.h>
#include <grpcpp/server_context.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "db/table.h"

namespace protomodel::server {

// The five standard methods (AIP-131..135) for any table message, driven by
// Protobuf reflection over the request messages the contract fixes:
//   CreateXRequest  {X x = 1; string request_id = 2;}
//   GetXRequest     {id = 1; View view = 2 (optional);}
//   ListXsRequest   {page_size = 1; page_token = 2; filter = 3; order_by = 4;
//                    FieldMask read_mask = 5;}
//   ListXsResponse  {repeated X xs = 1; string next_page_token = 2;}
//   UpdateXRequest  {X x = 1; FieldMask update_mask = 2;}
//   DeleteXRequest  {id = 1; string etag = 2 (optional);}
// It validates input against the descriptor (INVALID_ARGUMENT naming the
// field) before anything reaches the database, and never throws.
class Crud final {
 public:
  // Rules of one resource beyond what its options say. Each runs after the
  // generic validation and before the database is touched.
  struct Rules {
    // On create: may check fields and fill server-generated values.
    std::function<absl::Status(google::protobuf::Message&)> on_create;
    // On update: may check the columns about to be written.
    std::function<absl::Status(const google::protobuf::Message&,
                               const std::vector<const db::Column*>&)>
        on_update;
    // A unique column that on_create fills when the request leaves it empty:
    // a clash on it is retried with a fresh value.
    std::string generated_column;
  };

  Crud(const db::Table& table, absl::Duration default_deadline, Rules rules = {});

  grpc::Status Create(grpc::ServerContext* context,
                      const google::protobuf::Message& request,
                      google::protobuf::Message* response) const;
  grpc::Status Get(grpc::ServerContext* context,
                   const google::protobuf::Message& request,
                   google::protobuf::Message* response) const;
  grpc::Status List(grpc::ServerContext* context,
                    const google::protobuf::Message& request,
                    google::protobuf::Message* response) const;
  grpc::Status Update(grpc::ServerContext* context,
                      const google::protobuf::Message& request,
                      google::protobuf::Message* response) const;
  grpc::Status Delete(grpc::ServerContext* context,
                      const google::protobuf::Message& request,
                      google::protobuf::Empty* response) const;

 private:
  absl::Time Deadline(const grpc::ServerContext* context) const;
  absl::Status DoCreate(absl::Time deadline, const google::protobuf::Message& request,
                        google::protobuf::Message* response) const;
  absl::Status DoGet(absl::Time deadline, const google::protobuf::Message& request,
                     google::protobuf::Message* response) const;
  absl::Status DoList(absl::Time deadline, const google::protobuf::Message& request,
                      google::protobuf::Message* response) const;
  absl::Status DoUpdate(absl::Time deadline, const google::protobuf::Message& request,
                        google::protobuf::Message* response) const;
  absl::Status DoDelete(absl::Time deadline,
                        const google::protobuf::Message& request) const;

  const db::Table& table_;
  const absl::Duration default_deadline_;
  const Rules rules_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_CRUD_H_
