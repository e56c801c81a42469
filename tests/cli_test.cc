// The `protomodel` command-line client: output, exit codes, argument errors,
// and `protomodel token`.
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "harness/process.h"
#include "harness/test_server.h"
#include "server/transport/auth.h"

namespace protomodel::testing {
namespace {

CommandResult RunCli(const std::string& args) {
  return RunProcess(absl::StrCat(PROTOMODEL_CLI_BINARY, " ", args));
}

class CliTest : public ServiceTest {
 protected:
  CommandResult Cli(const std::string& args) {
    return RunCli(absl::StrCat("--target=", test_server().address(), " ", args));
  }
};

TEST_F(CliTest, CreatesGetsListsUpdatesAndDeletesAHero) {
  CommandResult created = Cli("heroes create --name=Deadpond --secret-name='Dive Wilson'");
  ASSERT_EQ(created.exit, 0) << created.output;
  EXPECT_TRUE(absl::StrContains(created.output, "\"secret_name\": \"Dive Wilson\"")) << created.output;
  EXPECT_TRUE(absl::StrContains(created.output, "\"id\": \"1\"")) << created.output;

  CommandResult got = Cli("heroes get --id=1 --view=full");
  EXPECT_EQ(got.exit, 0) << got.output;
  EXPECT_TRUE(absl::StrContains(got.output, "\"name\": \"Deadpond\"")) << got.output;

  CommandResult updated = Cli("heroes update --id=1 --age=30");
  EXPECT_EQ(updated.exit, 0) << updated.output;
  EXPECT_TRUE(absl::StrContains(updated.output, "\"age\": 30")) << updated.output;
  EXPECT_TRUE(absl::StrContains(updated.output, "Dive Wilson")) << "only age was written";

  Cli("heroes create --name=Rusty-Man --secret-name=Tommy");
  CommandResult listed = Cli("heroes list --filter='age = null' --page-size=1 --all");
  EXPECT_EQ(listed.exit, 0) << listed.output;
  EXPECT_TRUE(absl::StrContains(listed.output, "Rusty-Man")) << listed.output;
  EXPECT_FALSE(absl::StrContains(listed.output, "Deadpond")) << listed.output;

  CommandResult cleared = Cli("heroes update --id=1 --age=");
  EXPECT_EQ(cleared.exit, 0) << cleared.output;
  EXPECT_FALSE(absl::StrContains(cleared.output, "\"age\"")) << cleared.output;

  EXPECT_EQ(Cli("heroes delete --id=1").exit, 0);
  CommandResult gone = Cli("heroes get --id=1");
  EXPECT_EQ(gone.exit, 5) << gone.output;  // NOT_FOUND
  EXPECT_TRUE(absl::StrContains(gone.output, "hero 1 not found")) << gone.output;
}

TEST_F(CliTest, ExitStatusIsTheGrpcCode) {
  EXPECT_EQ(Cli("heroes create --name=x").exit, 3);         // INVALID_ARGUMENT
  EXPECT_EQ(Cli("heroes create --name=x --secret-name=y --team-id=99").exit, 9);
  EXPECT_EQ(Cli("users get --id=00000000-0000-0000-0000-000000000000").exit, 5);
  CommandResult unreachable = RunCli("--target=127.0.0.1:1 --timeout=2 heroes get --id=1");
  EXPECT_EQ(unreachable.exit, 14) << unreachable.output;       // UNAVAILABLE
}

// A failed call says its code by name, then the error as JSON with the
// server's details.
TEST_F(CliTest, ErrorsNameTheCodeAndCarryTheDetails) {
  CommandResult missing = Cli("heroes get --id=999");
  EXPECT_EQ(missing.exit, 5) << missing.output;
  EXPECT_TRUE(absl::StrContains(missing.output, "protomodel: NOT_FOUND: hero 999 not found"))
      << missing.output;
  EXPECT_TRUE(absl::StrContains(missing.output, "\"status\":\"NOT_FOUND\"")) << missing.output;
  EXPECT_TRUE(absl::StrContains(missing.output, "\"reason\":\"RESOURCE_NOT_FOUND\""))
      << missing.output;
  EXPECT_TRUE(absl::StrContains(missing.output, "\"resource_type\":\"heroes.v1.Hero\""))
      << missing.output;

  CommandResult invalid = Cli("heroes create --name=x");
  EXPECT_EQ(invalid.exit, 3) << invalid.output;
  EXPECT_TRUE(absl::StrContains(invalid.output, "INVALID_ARGUMENT: hero.secret_name is required"))
      << invalid.output;
  EXPECT_TRUE(absl::StrContains(invalid.output, "\"field\":\"hero.secret_name\""))
      << invalid.output;
}

TEST_F(CliTest, GlobalFlagsMayFollowTheVerb) {
  CommandResult listed = RunCli(absl::StrCat("heroes list --target=", test_server().address(),
                                             " --timeout=5 --page-size=3"));
  EXPECT_EQ(listed.exit, 0) << listed.output;
}

TEST_F(CliTest, ReadsBytesFromAFileAndWritesClasses) {
  CommandResult user = Cli("users create --email=ada@example.com --display-name=Ada");
  ASSERT_EQ(user.exit, 0) << user.output;
  const size_t at = user.output.find("\"id\": \"") + 7;
  const std::string user_id = user.output.substr(at, 36);
  CommandResult cls = Cli("classes create --name='CS 101' --owner-id=" + user_id + " --invite-code=cs-101-fall");
  ASSERT_EQ(cls.exit, 0) << cls.output;
  EXPECT_TRUE(absl::StrContains(cls.output, "cs-101-fall"));
}

TEST(CliArgumentsTest, UsageErrorsExit64AndSayWhy) {
  struct Case {
    std::string args;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"", "want RESOURCE and VERB"},
           {"villains list", "unknown resource 'villains'"},
           {"heroes fly", "unknown verb 'fly'"},
           {"heroes create --power=9", "--power: Hero has no such field"},
           {"heroes get --id=abc", "--id: 'abc' is not an integer"},
           {"heroes get --view=sideways", "--view: 'sideways' is not a known value"},
           {"heroes list --bogus=1", "--bogus: not a flag of 'list'"},
           {"heroes update --id=1", "update: give at least one field to write"},
           {"heroes get", "get: --id is required"},
           {"heroes delete", "delete: --id is required"},
           {"heroes update --name=x", "update: --id is required"},
           {"users get --id=00000000-0000-0000-0000-000000000000 --view=full",
            "--view: not a flag of 'get'"},
           {"--colour=red heroes list", "unknown global flag --colour"},
           {"heroes get 7", "unexpected '7'"},
           {"--tls --ca-file=/nonexistent.pem heroes list", "/nonexistent.pem: cannot be read"},
           {"--cert-file=/nonexistent.crt heroes list", "needs both its certificate file and"},
           {"token reporting", "token: want NAME and PATTERN"},
           {"token 'bad name' '*'", "token: NAME must be"},
           {"token reporting 'a b'", "a PATTERN is a glob"},
           {"token reporting '*,'", "a PATTERN is a glob"},
       }) {
    CommandResult result = RunCli(c.args);
    EXPECT_EQ(result.exit, 64) << c.args << ": " << result.output;
    EXPECT_TRUE(absl::StrContains(result.output, c.says)) << c.args << ": " << result.output;
  }
}

// A resource's help lists its fields with their types and notes, and each
// verb's flags: --view only where the resource has views.
TEST(CliArgumentsTest, AResourcesHelpListsItsFieldsAndVerbs) {
  CommandResult heroes = RunCli("heroes --help");
  EXPECT_EQ(heroes.exit, 0) << heroes.output;
  for (const char* line : {"heroes.v1.Hero", "--secret-name", "required", "--age",
                           "int32", "optional", "--team-id", "a team", "--view=basic|full"}) {
    EXPECT_TRUE(absl::StrContains(heroes.output, line)) << line << " in " << heroes.output;
  }
  CommandResult users = RunCli("users get --help");
  EXPECT_EQ(users.exit, 0) << users.output;
  EXPECT_TRUE(absl::StrContains(users.output, "--email")) << users.output;
  EXPECT_TRUE(absl::StrContains(users.output, "unique")) << users.output;
  EXPECT_FALSE(absl::StrContains(users.output, "--view")) << users.output;
  CommandResult conversations = RunCli("conversations --help");
  EXPECT_TRUE(absl::StrContains(conversations.output, "bytes")) << conversations.output;
  EXPECT_TRUE(absl::StrContains(conversations.output, "[--etag=ETAG]")) << conversations.output;
}

TEST(CliArgumentsTest, HelpExitsZero) {
  for (const char* args : {"--help", "--target=x --help"}) {
    CommandResult help = RunCli(args);
    EXPECT_EQ(help.exit, 0) << args;
    EXPECT_TRUE(absl::StrContains(help.output,
                                  "Resources: heroes, teams, users, classes, conversations"))
        << args;
  }
}

// The value of "key":"..." in the CLI's one-line JSON.
std::string JsonField(const std::string& json, const std::string& key) {
  const std::string start = absl::StrCat("\"", key, "\":\"");
  const size_t at = json.find(start);
  if (at == std::string::npos) return "";
  const size_t from = at + start.size();
  return json.substr(from, json.find('"', from) - from);
}

TEST(CliTokenTest, PrintsANewTokenAndTheLineThatAdmitsIt) {
  CommandResult first = RunCli("token reporting '*/Get*,*/List*'");
  ASSERT_EQ(first.exit, 0) << first.output;
  const std::string token = JsonField(first.output, "token");
  EXPECT_GE(token.size(), 43u) << "256 random bits";
  EXPECT_NE(JsonField(RunCli("token reporting '*'").output, "token"), token);
  const std::string line = JsonField(first.output, "line");
  EXPECT_EQ(line.find(token), std::string::npos) << "the line holds only the hash";
  auto parsed = server::ParseTokens(line);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ((*parsed)[0].name, "reporting");
  EXPECT_EQ((*parsed)[0].patterns, (std::vector<std::string>{"*/Get*", "*/List*"}));

  // The line admits the token, read by the CLI from PROTOMODEL_TOKEN.
  const std::string path = absl::StrCat(::testing::TempDir(), "/cli-tokens-", getpid());
  std::ofstream(path) << line << "\n";
  TestDatabase db;
  TestServer server(db.url(), [&](server::ServerOptions& options) {
    options.auth_tokens_file = path;
    options.allow_plaintext_tokens = true;
  });
  ASSERT_TRUE(server.WaitReady());
  const std::string list = absl::StrCat("--target=", server.address(), " heroes list");
  CommandResult allowed = RunProcess(
      absl::StrCat("PROTOMODEL_TOKEN=", token, " ", PROTOMODEL_CLI_BINARY, " ", list));
  EXPECT_EQ(allowed.exit, 0) << allowed.output;
  EXPECT_EQ(RunCli(list).exit, 16) << "UNAUTHENTICATED without a token";
  CommandResult denied = RunProcess(absl::StrCat(
      "PROTOMODEL_TOKEN=", token, " ", PROTOMODEL_CLI_BINARY, " --target=", server.address(),
      " heroes create --name=X --secret-name=Y"));
  EXPECT_EQ(denied.exit, 7) << denied.output;
}

TEST(CliTlsTest, ReachesAMutualTlsServerWithItsCertificateAndToken) {
  const CommandResult made = RunCli("token cli-writer '*'");
  ASSERT_EQ(made.exit, 0) << made.output;
  const std::string path = absl::StrCat(::testing::TempDir(), "/cli-mtls-tokens-", getpid());
  std::ofstream(path) << JsonField(made.output, "line") << "\n";
  const Certificates certs = MakeCertificates("cli-mtls");
  TestDatabase db;
  TestServer server(db.url(), [&](server::ServerOptions& options) {
    ServeMutualTls(certs, options);
    options.auth_tokens_file = path;
  });
  ASSERT_TRUE(server.WaitReady(
      server.NewChannel(WithClientCertificate(TlsChannelOptions(certs), certs))));

  const std::string cli = absl::StrCat("PROTOMODEL_TOKEN=", JsonField(made.output, "token"), " ",
                                       PROTOMODEL_CLI_BINARY, " --target=", server.address());
  const std::string ca = absl::StrCat(" --ca-file=", certs.ca);
  const std::string client_cert =
      absl::StrCat(" --cert-file=", certs.client_cert, " --key-file=", certs.client_key);
  CommandResult created = RunProcess(
      absl::StrCat(cli, " --tls", ca, client_cert, " heroes create --name=Tls --secret-name=T"));
  EXPECT_EQ(created.exit, 0) << created.output;
  // A CA and a client certificate mean TLS, --tls or not.
  CommandResult listed = RunProcess(absl::StrCat(cli, ca, client_cert, " heroes list"));
  EXPECT_EQ(listed.exit, 0) << listed.output;
  EXPECT_TRUE(absl::StrContains(listed.output, "\"name\": \"Tls\"")) << listed.output;
  // Without the client certificate the handshake fails: UNAVAILABLE.
  EXPECT_EQ(RunProcess(absl::StrCat(cli, " --tls", ca, " heroes list")).exit, 14);
  // Nor does plaintext reach a TLS server.
  EXPECT_EQ(RunProcess(absl::StrCat(cli, " heroes list")).exit, 14);
}

}  // namespace
}  // namespace protomodel::testing
