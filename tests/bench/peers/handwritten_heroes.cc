// The hand-written peer `make bench` measures protomodel against: what a
// team writes by hand for the same three calls with the same libraries
// (gRPC's synchronous server and libpqxx), one prepared statement a call on
// a connection borrowed from a fixed pool of 16. Serves heroes.v1.HeroService
// (GetHero, CreateHero without request_id, ListHeroes' first page) on the
// hero table of DATABASE_URL:
//   protomodel-handwritten-peer PORT DATABASE_URL
// Prints "listening on PORT" once it serves.
#include <cstdio>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <pqxx/pqxx>

#include "heroes/v1/heroes.grpc.pb.h"

namespace {

// A fixed pool of connections opened at start, each with its statements
// prepared once; a call borrows one for its statement.
class Pool {
 public:
  Pool(const std::string& url, int size) {
    for (int i = 0; i < size; ++i) {
      auto conn = std::make_unique<pqxx::connection>(url);
      conn->prepare("get", "SELECT id, name, secret_name, age, team_id FROM hero WHERE id = $1");
      conn->prepare("create",
                    "INSERT INTO hero (name, secret_name, age, team_id) VALUES ($1, $2, $3, $4) "
                    "RETURNING id, name, secret_name, age, team_id");
      conn->prepare("list",
                    "SELECT id, name, secret_name, age, team_id FROM hero ORDER BY id LIMIT $1");
      idle_.push_back(std::move(conn));
    }
  }

  class Lease {
   public:
    explicit Lease(Pool& pool) : pool_(pool) {
      std::unique_lock<std::mutex> lock(pool_.mu_);
      pool_.cv_.wait(lock, [this] { return !pool_.idle_.empty(); });
      conn_ = std::move(pool_.idle_.back());
      pool_.idle_.pop_back();
    }
    ~Lease() {
      {
        std::lock_guard<std::mutex> lock(pool_.mu_);
        pool_.idle_.push_back(std::move(conn_));
      }
      pool_.cv_.notify_one();
    }
    pqxx::connection& operator*() { return *conn_; }

   private:
    Pool& pool_;
    std::unique_ptr<pqxx::connection> conn_;
  };

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
};

Pool* pool = nullptr;

void ReadHero(const pqxx::row& row, heroes::v1::Hero* hero) {
  hero->set_id(row[0].as<int64_t>());
  hero->set_name(row[1].as<std::string>());
  hero->set_secret_name(row[2].as<std::string>());
  if (!row[3].is_null()) hero->set_age(row[3].as<int32_t>());
  if (!row[4].is_null()) hero->set_team_id(row[4].as<int64_t>());
}

template <typename T>
std::optional<T> Optional(bool has, T value) {
  return has ? std::optional<T>(value) : std::nullopt;
}

class Heroes final : public heroes::v1::HeroService::Service {
  grpc::Status GetHero(grpc::ServerContext*, const heroes::v1::GetHeroRequest* request,
                       heroes::v1::Hero* hero) override {
    try {
      Pool::Lease conn(*pool);
      pqxx::nontransaction tx(*conn);
      pqxx::result result = tx.exec_prepared("get", request->id());
      if (result.empty()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "hero not found");
      ReadHero(result[0], hero);
      return grpc::Status::OK;
    } catch (const std::exception& e) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, e.what());
    }
  }

  grpc::Status CreateHero(grpc::ServerContext*, const heroes::v1::CreateHeroRequest* request,
                          heroes::v1::Hero* hero) override {
    const heroes::v1::Hero& in = request->hero();
    if (in.name().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "hero.name is required");
    }
    try {
      Pool::Lease conn(*pool);
      pqxx::nontransaction tx(*conn);
      pqxx::result result =
          tx.exec_prepared("create", in.name(), in.secret_name(),
                           Optional(in.has_age(), in.age()),
                           Optional(in.has_team_id(), in.team_id()));
      ReadHero(result[0], hero);
      return grpc::Status::OK;
    } catch (const std::exception& e) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, e.what());
    }
  }

  grpc::Status ListHeroes(grpc::ServerContext*, const heroes::v1::ListHeroesRequest* request,
                          heroes::v1::ListHeroesResponse* response) override {
    const int page_size = request->page_size() > 0 ? request->page_size() : 50;
    try {
      Pool::Lease conn(*pool);
      pqxx::nontransaction tx(*conn);
      for (const pqxx::row& row : tx.exec_prepared("list", page_size)) {
        ReadHero(row, response->add_heroes());
      }
      return grpc::Status::OK;
    } catch (const std::exception& e) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, e.what());
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s PORT DATABASE_URL\n", argv[0]);
    return 2;
  }
  Pool connections(argv[2], 16);
  pool = &connections;
  Heroes service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(std::string("127.0.0.1:") + argv[1],
                           grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return 1;
  std::printf("listening on %d\n", port);
  std::fflush(stdout);
  server->Wait();
}
