#ifndef PROTOMODEL_CLIENT_CLI_CATALOG_H_
#define PROTOMODEL_CLIENT_CLI_CATALOG_H_

#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor_database.h>
#include <google/protobuf/dynamic_message.h>
#include <grpcpp/channel.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace protomodel::cli {

// One resource the CLI can call: its plural ("books", from List<Rs>), its
// message and the service that serves it.
struct CatalogResource {
  std::string plural;
  const google::protobuf::Descriptor* message = nullptr;
  const google::protobuf::ServiceDescriptor* service = nullptr;
};

// The resources a server serves, learned through its reflection service
// (grpc.reflection.v1, then v1alpha), so the CLI calls any protos without
// knowing them; messages are dynamic, made from the server's descriptors.
class Catalog {
 public:
  // Asks `channel`'s reflection, within `timeout`.
  static absl::StatusOr<std::unique_ptr<Catalog>> FromServer(
      const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout);
  // The built-in protos compiled into the CLI: for --help when no server
  // answers.
  static absl::StatusOr<std::unique_ptr<Catalog>> BuiltIn();

  const std::vector<CatalogResource>& resources() const { return resources_; }
  const CatalogResource* Find(const std::string& plural) const;
  google::protobuf::MessageFactory& factory() { return factory_; }
  // The plurals, comma-separated: "books, authors".
  std::string Names() const;

 private:
  Catalog() = default;
  // Builds the pool from files_ and finds the resources of `services`.
  absl::Status Build(const std::vector<std::string>& services);

  google::protobuf::SimpleDescriptorDatabase files_;
  std::unique_ptr<google::protobuf::DescriptorPool> pool_;
  google::protobuf::DynamicMessageFactory factory_;
  std::vector<CatalogResource> resources_;
};

}  // namespace protomodel::cli

#endif  // PROTOMODEL_CLIENT_CLI_CATALOG_H_
