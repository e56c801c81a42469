#ifndef PROTOMODEL_SERVER_RESOURCES_H_
#define PROTOMODEL_SERVER_RESOURCES_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <grpcpp/impl/codegen/service_type.h>

#include "server/crud.h"

namespace protomodel::server {

// One resource the server exposes: its table message, its service, and any
// rules of its own. Adding a resource means adding an entry here.
struct Resource {
  const google::protobuf::Descriptor* message;
  std::string service_name;  // "heroes.v1.HeroService", for health
  std::function<std::unique_ptr<grpc::Service>(const Crud&)> make_service;
  Crud::CreateHook create_hook;
};

// Every resource, in an order where referenced tables come first.
std::vector<Resource> Resources();

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_RESOURCES_H_
