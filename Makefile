# Thin wrapper: set-up, then CMake and CTest do the work.
BUILD_DIR ?= build
ASAN_BUILD_DIR ?= build-asan
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= 2
CMAKE_FLAGS ?=
# Quiet: CMake's output goes to $(BUILD_DIR)/configure.log and build.log and
# is shown when a step fails; `make V=1 ...` shows it as it comes.
V ?= 0
MAKEFLAGS += --no-print-directory

.PHONY: all deps tools build build-server run test test-asan bench migrate python-client install image image-test proto-baseline chaos soak fuzz clean

all: build

deps:
	@scripts/install-deps.sh

# npm tools the tests drive the server with (buf curl).
tools:
	@scripts/install-tools.sh

$(BUILD_DIR)/CMakeCache.txt: | deps
	@V=$(V) scripts/build.sh configure $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/CMakeCache.txt
	@V=$(V) scripts/build.sh build $(BUILD_DIR) $(JOBS)

# The server and the CLI alone: what `make run` and `make migrate` need.
build-server: deps $(BUILD_DIR)/CMakeCache.txt
	@V=$(V) scripts/build.sh build $(BUILD_DIR) $(JOBS) protomodel-server protomodel

# Serves on 0.0.0.0:50051 against DATABASE_URL, or against a local
# PostgreSQL kept in .data/pg (PROTOMODEL_PG_DIR), which it starts unless it
# is running already. Ctrl-C stops the server, and that PostgreSQL if this
# run started it.
run: build-server
	@scripts/run.sh $(BUILD_DIR)/server/protomodel-server

# Applies migrations to DATABASE_URL (or the local .data/pg database) and
# exits; a local PostgreSQL that `make run` is serving from stays up.
migrate: build-server
	@scripts/run.sh $(BUILD_DIR)/server/protomodel-server migrate

test: build tools
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -LE image

# Rewrites proto/v1.binpb, the descriptor set proto_breaking_test holds
# proto/ to, from proto/ as it is: only for a deliberate contract change
# (docs/DEVELOPING.md, "Changing the contract").
proto-baseline: tools
	tests/tools/node_modules/.bin/buf build proto --exclude-source-info -o proto/v1.binpb

# The container image (deploy/Dockerfile) with docker, podman or buildah.
image: deps
	scripts/image.sh

# Builds the image, then starts it against a test PostgreSQL and checks
# that it reports SERVING.
image-test: image build tools
	cd $(BUILD_DIR) && ctest --output-on-failure -L image

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: deps tools
	cmake -S . -B $(ASAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=Debug -DPROTOMODEL_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	cd $(ASAN_BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -LE image

# libFuzzer targets built with clang in build-fuzz, each run FUZZ_SECONDS
# (default 60) over its corpus; no database (scripts/fuzz.sh).
fuzz:
	@scripts/fuzz.sh

# Python stubs of proto/ in client/python/generated, for Debian's python3-grpcio.
python-client: deps
	client/python/generate.sh

# The C++ client package into PREFIX (default /usr/local): the protomodel
# CLI (bin/), the client library and the generated stubs (lib/), their headers
# (include/), the protos (share/protomodel/proto) and the CMake package
# (lib/cmake/protomodel) for find_package(protomodel). Not the server: run it
# from the build folder or the container image (make image).
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# Throughput and latency against pgbench on the same database, in one run;
# writes build-release/bench/report.md and a plot.
bench: deps tools
	scripts/bench.sh

# PostgreSQL restarts and a replica's SIGTERM under load, checked against the
# contract (tests/chaos); `make test` runs a 25 s form.
chaos: build
	$(BUILD_DIR)/tests/chaos/protomodel-chaos --server=$(BUILD_DIR)/server/protomodel-server \
	  --pg_script=scripts/pg.sh --pg_dir=$(BUILD_DIR)/chaos-pg \
	  --workers=16 --rounds=3 --phase_seconds=10 --outage_seconds=3

# SOAK_SECONDS (default 600) of mixed load; RSS, descriptors and database
# connections at the start and the end must not grow (not part of CI).
soak: deps
	scripts/soak.sh

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) build-release build-image build-fuzz
