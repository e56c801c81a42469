#include "cli/catalog.h"

#include <set>

#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/client_context.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "protomodel/builtin_descriptors.h"
#include "protomodel/names.h"
#include "protomodel/reflection_versions.h"
#include "protomodel/verbs.h"
#include "protomodel/v1/options.pb.h"

namespace protomodel::cli {
namespace {

using google::protobuf::FileDescriptorProto;

// One reflection conversation: the services, then the files that define
// them (each answer holds a file and what it imports).
template <typename Version>
absl::Status Reflect(const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout,
                     google::protobuf::SimpleDescriptorDatabase* files,
                     std::vector<std::string>* services) {
  auto stub = Version::Service::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  auto stream = stub->ServerReflectionInfo(&context);
  typename Version::Request request;
  typename Version::Response response;
  request.set_list_services("*");
  if (stream->Write(request) && stream->Read(&response)) {
    for (const auto& service : response.list_services_response().service()) {
      if (!absl::StartsWith(service.name(), "grpc.")) services->push_back(service.name());
    }
  }
  std::set<std::string> added;
  for (const std::string& service : *services) {
    request.Clear();
    request.set_file_containing_symbol(service);
    if (!stream->Write(request) || !stream->Read(&response)) break;
    for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
      FileDescriptorProto file;
      if (!file.ParseFromString(bytes)) {
        return absl::DataLossError("the server's reflection sent a file that does not parse");
      }
      if (added.insert(file.name()).second) files->Add(file);
    }
  }
  stream->WritesDone();
  const grpc::Status status = stream->Finish();
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("server reflection: ", status.error_message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Catalog>> Catalog::FromServer(
    const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout) {
  std::unique_ptr<Catalog> catalog(new Catalog());
  std::vector<std::string> services;
  absl::Status status = Reflect<reflection::V1>(channel, timeout, &catalog->files_, &services);
  if (status.code() == absl::StatusCode::kUnimplemented) {
    services.clear();
    status = Reflect<reflection::V1Alpha>(channel, timeout, &catalog->files_, &services);
  }
  if (!status.ok()) return status;
  if (absl::Status s = catalog->Build(services); !s.ok()) return s;
  return catalog;
}

absl::StatusOr<std::unique_ptr<Catalog>> Catalog::BuiltIn() {
  std::unique_ptr<Catalog> catalog(new Catalog());
  const std::string_view bytes = proto::BuiltinDescriptorSet();
  google::protobuf::FileDescriptorSet set;
  if (!set.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InternalError("the built-in descriptor set does not parse");
  }
  std::vector<std::string> services;
  for (const FileDescriptorProto& file : set.file()) {
    catalog->files_.Add(file);
    for (const auto& service : file.service()) {
      services.push_back(file.package().empty() ? service.name()
                                                : absl::StrCat(file.package(), ".", service.name()));
    }
  }
  if (absl::Status s = catalog->Build(services); !s.ok()) return s;
  return catalog;
}

absl::Status Catalog::Build(const std::vector<std::string>& services) {
  pool_ = std::make_unique<google::protobuf::DescriptorPool>(&files_);
  for (const std::string& name : services) {
    const auto* service = pool_->FindServiceByName(name);
    if (service == nullptr) continue;
    // A resource per List method, named by its plural (the server takes a
    // method for the verb it is by the same rule).
    for (int m = 0; m < service->method_count(); ++m) {
      const auto* method = service->method(m);
      if (VerbOf(*method) != Verb::kList) continue;
      const auto* resource = ResourceOf(*method, Verb::kList);
      if (resource == nullptr) continue;
      resources_.push_back(
          {LowerSnake(method->name().substr(VerbName(Verb::kList).size()), '-'), resource,
           service});
    }
  }
  return absl::OkStatus();
}

const CatalogResource* Catalog::Find(const std::string& plural) const {
  for (const CatalogResource& resource : resources_) {
    if (resource.plural == plural) return &resource;
  }
  return nullptr;
}

std::string Catalog::Names() const {
  std::vector<std::string> names;
  for (const CatalogResource& resource : resources_) names.push_back(resource.plural);
  return absl::StrJoin(names, ", ");
}

}  // namespace protomodel::cli
