#ifndef PROTOMODEL_SERVER_VERBS_RESOURCES_H_
#define PROTOMODEL_SERVER_VERBS_RESOURCES_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <grpcpp/impl/codegen/service_type.h>

#include "server/verbs/crud.h"

namespace protomodel::server {

// One resource the server exposes: its table message, its service, and any
// rules of its own. Adding a resource means adding an entry to Resources().
struct Resource {
  const google::protobuf::Descriptor* message;
  std::string service_name;  // "heroes.v1.HeroService", for health
  std::function<std::unique_ptr<grpc::Service>(const Crud&)> make_service;
  Crud::Rules rules;
};

struct ResourceOptions {
  // Makes a class's invite code when a create leaves it empty.
  std::function<std::string()> new_invite_code;
};

// Every resource, referenced tables before the tables that reference them.
std::vector<Resource> Resources(const ResourceOptions& options = {});

// 16 random URL-safe characters (96 bits from OpenSSL's RAND_bytes).
std::string RandomInviteCode();

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_RESOURCES_H_
