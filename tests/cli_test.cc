// The `protomodel` command-line client: output, exit codes, argument errors.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "harness/test_server.h"

namespace protomodel::testing {
namespace {

struct Result {
  int exit = -1;
  std::string out;  // stdout and stderr
};

class CliTest : public ServiceTest {
 protected:
  Result Cli(const std::string& args) {
    return RunCli(absl::StrCat("--target=", test_server().address(), " ", args));
  }
  static Result RunCli(const std::string& args) {
    Result result;
    FILE* pipe = popen(absl::StrCat(PROTOMODEL_CLI_BINARY, " ", args, " 2>&1").c_str(), "r");
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, n);
    const int status = pclose(pipe);
    result.exit = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
  }
};

TEST_F(CliTest, CreatesGetsListsUpdatesAndDeletesAHero) {
  Result created = Cli("heroes create --name=Deadpond --secret-name='Dive Wilson'");
  ASSERT_EQ(created.exit, 0) << created.out;
  EXPECT_TRUE(absl::StrContains(created.out, "\"secret_name\": \"Dive Wilson\"")) << created.out;
  EXPECT_TRUE(absl::StrContains(created.out, "\"id\": \"1\"")) << created.out;

  Result got = Cli("heroes get --id=1 --view=full");
  EXPECT_EQ(got.exit, 0) << got.out;
  EXPECT_TRUE(absl::StrContains(got.out, "\"name\": \"Deadpond\"")) << got.out;

  Result updated = Cli("heroes update --id=1 --age=30");
  EXPECT_EQ(updated.exit, 0) << updated.out;
  EXPECT_TRUE(absl::StrContains(updated.out, "\"age\": 30")) << updated.out;
  EXPECT_TRUE(absl::StrContains(updated.out, "Dive Wilson")) << "only age was written";

  Cli("heroes create --name=Rusty-Man --secret-name=Tommy");
  Result listed = Cli("heroes list --filter='age = null' --page-size=1 --all");
  EXPECT_EQ(listed.exit, 0) << listed.out;
  EXPECT_TRUE(absl::StrContains(listed.out, "Rusty-Man")) << listed.out;
  EXPECT_FALSE(absl::StrContains(listed.out, "Deadpond")) << listed.out;

  Result cleared = Cli("heroes update --id=1 --age=");
  EXPECT_EQ(cleared.exit, 0) << cleared.out;
  EXPECT_FALSE(absl::StrContains(cleared.out, "\"age\"")) << cleared.out;

  EXPECT_EQ(Cli("heroes delete --id=1").exit, 0);
  Result gone = Cli("heroes get --id=1");
  EXPECT_EQ(gone.exit, 5) << gone.out;  // NOT_FOUND
  EXPECT_TRUE(absl::StrContains(gone.out, "hero 1 not found")) << gone.out;
}

TEST_F(CliTest, ExitStatusIsTheGrpcCode) {
  EXPECT_EQ(Cli("heroes create --name=x").exit, 3);         // INVALID_ARGUMENT
  EXPECT_EQ(Cli("heroes create --name=x --secret-name=y --team-id=99").exit, 9);
  EXPECT_EQ(Cli("users get --id=00000000-0000-0000-0000-000000000000").exit, 5);
  Result unreachable = RunCli("--target=127.0.0.1:1 --timeout=2 heroes get --id=1");
  EXPECT_EQ(unreachable.exit, 14) << unreachable.out;       // UNAVAILABLE
}

TEST_F(CliTest, ReadsBytesFromAFileAndWritesClasses) {
  Result user = Cli("users create --email=ada@example.com --display-name=Ada");
  ASSERT_EQ(user.exit, 0) << user.out;
  const size_t at = user.out.find("\"id\": \"") + 7;
  const std::string user_id = user.out.substr(at, 36);
  Result cls = Cli("classes create --name='CS 101' --owner-id=" + user_id + " --invite-code=cs-101-fall");
  ASSERT_EQ(cls.exit, 0) << cls.out;
  EXPECT_TRUE(absl::StrContains(cls.out, "cs-101-fall"));
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
           {"--colour=red heroes list", "unknown global flag --colour"},
           {"heroes get 7", "unexpected '7'"},
           {"--tls --ca-file=/nonexistent.pem heroes list", "/nonexistent.pem: cannot be read"},
       }) {
    Result result;
    FILE* pipe = popen(absl::StrCat(PROTOMODEL_CLI_BINARY, " ", c.args, " 2>&1").c_str(), "r");
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, n);
    const int status = pclose(pipe);
    EXPECT_EQ(WEXITSTATUS(status), 64) << c.args << ": " << result.out;
    EXPECT_TRUE(absl::StrContains(result.out, c.says)) << c.args << ": " << result.out;
  }
}

TEST(CliArgumentsTest, HelpExitsZero) {
  FILE* pipe = popen(absl::StrCat(PROTOMODEL_CLI_BINARY, " --help").c_str(), "r");
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  EXPECT_EQ(WEXITSTATUS(pclose(pipe)), 0);
  EXPECT_TRUE(absl::StrContains(out, "Resources: heroes, teams, users, classes, conversations"));
}

}  // namespace
}  // namespace protomodel::testing
