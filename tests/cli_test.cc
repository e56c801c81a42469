// The `protomodel` command-line client: output, exit codes, argument errors,
// `protomodel token`, and import and export.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
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
  // The CLI with its stdout in the file `path`: the result holds stderr alone.
  CommandResult CliToFile(const std::string& args, const std::string& path) {
    return RunProcess(absl::StrCat("{ ", PROTOMODEL_CLI_BINARY, " --target=",
                                   test_server().address(), " ", args, " > ", path, "; }"));
  }
  static int HeroCount() {
    return database().Exec("SELECT count(*) FROM hero")[0][0].as<int>();
  }
  // The names of the heroes `where_order` selects, in its order.
  static std::vector<std::string> StoredNames(const std::string& where_order = "ORDER BY id") {
    std::vector<std::string> names;
    for (const auto& row : database().Exec("SELECT name FROM hero " + where_order)) {
      names.push_back(row[0].as<std::string>());
    }
    return names;
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
           {"heroes import --batch-size=0 heroes.jsonl", "--batch-size: want 1 to 1000"},
           {"heroes import --batch-size=1001", "--batch-size: want 1 to 1000"},
           {"heroes import a.jsonl b.jsonl", "import: want one FILE at most"},
           {"heroes import --filter=x", "--filter: not a flag of 'import'"},
           {"heroes import /nonexistent.jsonl", "import: cannot read /nonexistent.jsonl"},
           {"heroes export --page-size=5", "--page-size: not a flag of 'export'"},
           {"heroes export heroes.jsonl", "unexpected 'heroes.jsonl'"},
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
                           "int32", "optional", "--team-id", "a team", "--view=basic|full",
                           "import  [FILE] [--batch-size=N]", "export  [--filter=FILTER]"}) {
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
    EXPECT_TRUE(absl::StrContains(help.output, "import  [FILE] [--batch-size=N]")) << args;
    EXPECT_TRUE(absl::StrContains(help.output, "export  [--filter=F]")) << args;
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


// Writes `lines` to a new file, one a line; returns its path.
std::string WriteLines(const std::string& name, const std::vector<std::string>& lines) {
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/cli-", name, "-", getpid(), ".jsonl");
  std::ofstream out(path);
  for (const std::string& line : lines) out << line << "\n";
  return path;
}

// `n` heroes as import reads them: "Hero 00001", ..., so that their names
// sort as their lines do.
std::vector<std::string> HeroLines(int n) {
  std::vector<std::string> lines;
  for (int i = 1; i <= n; ++i) {
    lines.push_back(absl::StrFormat(R"({"name":"Hero %05d","secret_name":"Secret %d","age":%d})",
                                    i, i, i % 50));
  }
  return lines;
}

std::vector<std::string> NamesOf(const std::vector<std::string>& json_lines) {
  std::vector<std::string> names;
  for (const std::string& line : json_lines) names.push_back(JsonField(line, "name"));
  return names;
}

std::vector<std::string> LinesOf(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

TEST_F(CliTest, ImportStoresEveryLineInBatchesAndSaysHowMany) {
  const std::vector<std::string> lines = HeroLines(2500);
  const std::string path = WriteLines("import", lines);
  const std::string out = path + ".out";
  CommandResult imported = CliToFile("heroes import --batch-size=1000 " + path, out);
  ASSERT_EQ(imported.exit, 0) << imported.output;
  EXPECT_TRUE(absl::StrContains(imported.output, "2500 heroes stored in 3 batches"))
      << imported.output;
  EXPECT_TRUE(absl::StrContains(imported.output, "rows/s")) << imported.output;
  EXPECT_EQ(ReadFile(out), "") << "stdout stays empty";
  EXPECT_FALSE(absl::StrContains(imported.output, "\r")) << "no progress line on a pipe";
  const std::vector<std::string> names = NamesOf(lines);
  EXPECT_TRUE(StoredNames() == names) << "every line, once, in the file's order";

  // Each row's request_id comes from its line, not its batch: the same file
  // again, in other batches or from stdin, stores nothing new.
  CommandResult again = Cli("heroes import --batch-size=700 " + path);
  EXPECT_EQ(again.exit, 0) << again.output;
  EXPECT_TRUE(absl::StrContains(again.output, "2500 heroes stored in 4 batches")) << again.output;
  CommandResult piped = Cli("heroes import - < " + path);
  EXPECT_EQ(piped.exit, 0) << piped.output;
  EXPECT_EQ(HeroCount(), 2500);
  EXPECT_TRUE(StoredNames() == names);
}

TEST_F(CliTest, ImportChecksEveryLineBeforeSendingAny) {
  // Line 2 is blank (skipped, but counted); line 3 is cut short.
  const std::string path = WriteLines(
      "bad-line", {R"({"name":"A","secret_name":"a"})", "", R"({"name":"B","secret_name":)",
                   R"({"name":"C","secret_name":"c"})"});
  CommandResult bad = Cli("heroes import " + path);
  EXPECT_EQ(bad.exit, 64) << bad.output;
  EXPECT_TRUE(absl::StrContains(bad.output, "line 3 of " + path)) << bad.output;
  EXPECT_TRUE(absl::StrContains(bad.output, "nothing was sent")) << bad.output;
  // A field the resource does not have is no Hero either.
  CommandResult unknown =
      Cli("heroes import " + WriteLines("unknown-field", {R"({"name":"A","power":9})"}));
  EXPECT_EQ(unknown.exit, 64) << unknown.output;
  EXPECT_TRUE(absl::StrContains(unknown.output, "line 1 of ")) << unknown.output;
  EXPECT_EQ(HeroCount(), 0);
}

// What the server refuses stops the import with its error and status, the
// line at fault, and how many rows the batches before it stored.
TEST_F(CliTest, ImportStopsAtTheServersErrorNamingTheLine) {
  const std::string path = WriteLines(
      "refused", {R"({"name":"A","secret_name":"a"})", R"({"name":"B","secret_name":"b"})",
                  R"({"name":"NoSecret"})", R"({"name":"D","secret_name":"d"})"});
  CommandResult refused = Cli("heroes import --batch-size=2 " + path);
  EXPECT_EQ(refused.exit, 3) << refused.output;  // INVALID_ARGUMENT
  EXPECT_TRUE(absl::StrContains(refused.output,
                                "stopped at the batch of lines 3-4 (at line 3); 2 of 4 heroes "
                                "were stored before it. Running the same import again"))
      << refused.output;
  EXPECT_TRUE(absl::StrContains(refused.output, "protomodel: INVALID_ARGUMENT: requests[0].hero"))
      << refused.output;
  EXPECT_TRUE(absl::StrContains(refused.output, "\"field\":\"requests[0].hero.secret_name\""))
      << refused.output;
  EXPECT_EQ(StoredNames(), (std::vector<std::string>{"A", "B"})) << "a batch is all or nothing";
}

TEST_F(CliTest, ExportWritesJsonLinesThatImportTakesBack) {
  const std::vector<std::string> lines = HeroLines(1500);
  ASSERT_EQ(Cli("heroes import " + WriteLines("export", lines)).exit, 0);

  // A filter's rows, one compact object a line, with the proto's field names.
  const std::string filtered = absl::StrCat(::testing::TempDir(), "/cli-filtered-", getpid());
  CommandResult exported = CliToFile("heroes export --filter='age >= 40'", filtered);
  ASSERT_EQ(exported.exit, 0) << exported.output;
  const std::vector<std::string> matching = LinesOf(ReadFile(filtered));
  ASSERT_EQ(matching.size(), 300u);
  EXPECT_TRUE(NamesOf(matching) == StoredNames("WHERE age >= 40 ORDER BY id"));
  EXPECT_TRUE(absl::StartsWith(matching[0], R"({"id":")")) << matching[0];
  EXPECT_TRUE(absl::StrContains(matching[0], R"("secret_name":"Secret 40","age":40})"))
      << matching[0];

  // --order-by and --read-mask, as list takes them.
  const std::string masked = absl::StrCat(::testing::TempDir(), "/cli-masked-", getpid());
  ASSERT_EQ(CliToFile("heroes export --order-by='name desc' --read-mask=name", masked).exit, 0);
  const std::vector<std::string> by_name = LinesOf(ReadFile(masked));
  ASSERT_EQ(by_name.size(), 1500u);
  EXPECT_EQ(JsonField(by_name[0], "name"), "Hero 01500");
  EXPECT_FALSE(absl::StrContains(by_name[0], "secret_name")) << by_name[0];

  // Every row, over two pages, into an empty table: the same rows again.
  const std::string all = absl::StrCat(::testing::TempDir(), "/cli-all-", getpid());
  ASSERT_EQ(CliToFile("heroes export", all).exit, 0);
  const std::string first_export = ReadFile(all);
  ASSERT_EQ(LinesOf(first_export).size(), 1500u);
  database().Exec("TRUNCATE hero, protomodel_request_ids RESTART IDENTITY CASCADE");
  CommandResult reimported = Cli("heroes import " + all);
  ASSERT_EQ(reimported.exit, 0) << reimported.output;
  EXPECT_TRUE(StoredNames() == NamesOf(lines));
  ASSERT_EQ(CliToFile("heroes export", all).exit, 0);
  EXPECT_TRUE(ReadFile(all) == first_export) << "ids, names, secret names and ages alike";
}

TEST_F(CliTest, WatchPrintsAJsonLineForEachChange) {
  const std::string out = absl::StrCat(::testing::TempDir(), "/cli-watch-", getpid());
  // The watch runs until `timeout` ends it.
  std::thread watch([&] { CliToFile("heroes watch --filter='age > 30' --read-mask=name,age", out); });
  const auto lines = [&] { return LinesOf(ReadFile(out)); };
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (lines().empty() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  ASSERT_FALSE(lines().empty()) << "no SYNCED";
  EXPECT_EQ(JsonField(lines()[0], "type"), "SYNCED") << lines()[0];
  ASSERT_EQ(Cli("heroes create --name=Young --secret-name=y --age=20").exit, 0);
  ASSERT_EQ(Cli("heroes create --name=Old --secret-name=o --age=40").exit, 0);
  while (lines().size() < 2 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  RunProcess(absl::StrCat("pkill -INT -f -- '^[^ ]*protomodel --target=", test_server().address(),
                          " heroes watch' || true"));
  watch.join();
  const std::vector<std::string> got = lines();
  ASSERT_EQ(got.size(), 2u) << ReadFile(out);
  EXPECT_EQ(JsonField(got[1], "type"), "ADDED") << got[1];
  EXPECT_TRUE(absl::StrContains(got[1], R"("hero":{"id":")")) << got[1];
  EXPECT_TRUE(absl::StrContains(got[1], R"("name":"Old","age":40})")) << got[1];
  EXPECT_FALSE(JsonField(got[1], "resume_token").empty()) << got[1];
  EXPECT_FALSE(JsonField(got[1], "commit_time").empty()) << got[1];
}

// A live document through the CLI: updates appended (bytes from files),
// listed, watched and compacted.
TEST_F(CliTest, AppendsListsWatchesAndCompactsADocument) {
  // A field of the CLI's indented JSON.
  const auto field = [](const std::string& json, const std::string& key) {
    return JsonField(absl::StrReplaceAll(json, {{"\": ", "\":"}}), key);
  };
  CommandResult user = Cli("users create --email=ada@example.com --display-name=Ada");
  ASSERT_EQ(user.exit, 0) << user.output;
  const std::string user_id = field(user.output, "id");
  CommandResult cls = Cli("classes create --name='CS 101' --owner-id=" + user_id);
  ASSERT_EQ(cls.exit, 0) << cls.output;
  CommandResult conversation = Cli("conversations create --class-id=" +
                                   field(cls.output, "id") + " --owner-id=" + user_id);
  ASSERT_EQ(conversation.exit, 0) << conversation.output;
  const std::string id = field(conversation.output, "id");
  const std::string dir = ::testing::TempDir();
  const std::string update = absl::StrCat(dir, "/cli-update-", getpid());
  std::ofstream(update, std::ios::binary) << std::string("\x01\x02\x03", 3);

  const std::string out = absl::StrCat(dir, "/cli-watch-updates-", getpid());
  std::thread watch([&] { CliToFile("conversations watch-updates --conversation-id=" + id, out); });
  CommandResult appended = Cli("conversations append-update --conversation-id=" + id +
                               " --update=@" + update);
  ASSERT_EQ(appended.exit, 0) << appended.output;
  EXPECT_EQ(field(appended.output, "seq"), "1") << appended.output;
  ASSERT_EQ(Cli("conversations append-update --conversation-id=" + id + " --update=@" + update)
                .exit, 0);
  CommandResult listed = Cli("conversations list-updates --conversation-id=" + id +
                             " --after-seq=1");
  ASSERT_EQ(listed.exit, 0) << listed.output;
  EXPECT_TRUE(absl::StrContains(listed.output, "\"seq\": \"2\"")) << listed.output;
  EXPECT_TRUE(absl::StrContains(listed.output, "AQID")) << listed.output;  // base64

  const auto lines = [&] { return LinesOf(ReadFile(out)); };
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (lines().size() < 2 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  RunProcess(absl::StrCat("pkill -INT -f -- '^[^ ]*protomodel --target=", test_server().address(),
                          " conversations watch-updates' || true"));
  watch.join();
  ASSERT_EQ(lines().size(), 2u) << ReadFile(out);
  EXPECT_EQ(JsonField(lines()[1], "seq"), "2") << lines()[1];
  EXPECT_EQ(JsonField(lines()[1], "update"), "AQID") << lines()[1];

  CommandResult compacted = Cli("conversations compact --conversation-id=" + id +
                                " --through-seq=2 --crdt-state=@" + update);
  ASSERT_EQ(compacted.exit, 0) << compacted.output;
  EXPECT_EQ(field(compacted.output, "compacted_seq"), "2") << compacted.output;
  EXPECT_EQ(Cli("conversations compact --conversation-id=" + id +
                " --through-seq=2 --crdt-state=@" + update).exit, 10)  // ABORTED
      << "compacted already";
}

// A TCP proxy on a loopback port of its own to `upstream` (IPv4 HOST:PORT)
// that holds each chunk of the server's answers for `delay`: a batch's rows
// are in the database well before its answer reaches the client, so a test
// that sees them can cut the connection in the middle of an import. Kill()
// drops every connection and refuses new ones, as a network gone dead does.
class Proxy {
 public:
  Proxy(const std::string& upstream, absl::Duration delay) : delay_(delay) {
    const size_t colon = upstream.rfind(':');
    upstream_.sin_family = AF_INET;
    upstream_.sin_port = htons(static_cast<uint16_t>(std::stoi(upstream.substr(colon + 1))));
    EXPECT_EQ(inet_pton(AF_INET, upstream.substr(0, colon).c_str(), &upstream_.sin_addr), 1)
        << upstream;
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(local);
    // Port 0: the kernel's choice, which no other test can take meanwhile.
    if (bind(listener_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
        listen(listener_, 16) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&local), &size) != 0) {
      ADD_FAILURE() << "proxy: " << std::strerror(errno);
    }
    port_ = ntohs(local.sin_port);
    accepting_ = std::thread([this] { Accept(); });
  }
  ~Proxy() {
    Kill();
    for (std::thread& pipe : pipes_) pipe.join();
    for (int fd : connections_) close(fd);
  }
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

  void Kill() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (killed_) return;
      killed_ = true;
      for (int fd : connections_) shutdown(fd, SHUT_RDWR);
    }
    shutdown(listener_, SHUT_RDWR);  // ends the accept() under way
    accepting_.join();
    close(listener_);
  }

 private:
  void Accept() {
    for (;;) {
      const int client = accept(listener_, nullptr, nullptr);
      if (client < 0) {
        if (errno == EINTR) continue;
        return;  // Kill()
      }
      const int server = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(server, reinterpret_cast<const sockaddr*>(&upstream_), sizeof(upstream_)) !=
          0) {
        close(server);
        close(client);
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      if (killed_) {
        close(server);
        close(client);
        return;
      }
      connections_.push_back(client);
      connections_.push_back(server);
      pipes_.emplace_back([client, server] { Pipe(client, server, absl::ZeroDuration()); });
      pipes_.emplace_back([this, client, server] { Pipe(server, client, delay_); });
    }
  }

  // Copies `from` to `to` until either ends, waiting `delay` before each
  // chunk.
  static void Pipe(int from, int to, absl::Duration delay) {
    char buffer[16384];
    for (;;) {
      const ssize_t n = recv(from, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      absl::SleepFor(delay);
      for (ssize_t sent = 0; sent < n;) {
        // MSG_NOSIGNAL: a peer gone must not kill the test with SIGPIPE.
        const ssize_t m = send(to, buffer + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL);
        if (m <= 0) return;
        sent += m;
      }
    }
    shutdown(to, SHUT_WR);
  }

  const absl::Duration delay_;
  sockaddr_in upstream_{};
  int listener_ = -1;
  int port_ = 0;
  std::thread accepting_;
  std::mutex mu_;
  bool killed_ = false;                // guarded by mu_
  std::vector<int> connections_;       // guarded by mu_
  std::vector<std::thread> pipes_;     // guarded by mu_
};

// The issue's case: kill the connection between two batches of an import
// and run it again: every row is stored exactly once.
TEST_F(CliTest, AnImportKilledBetweenBatchesAndRunAgainStoresEveryRowOnce) {
  const std::vector<std::string> lines = HeroLines(5000);
  const std::string path = WriteLines("killed", lines);
  std::string killed_output;
  int killed_exit = -1;
  {
    Proxy proxy(test_server().address(), absl::Milliseconds(100));
    std::future<CommandResult> first = std::async(std::launch::async, [&] {
      return RunCli(
          absl::StrCat("--target=", proxy.address(), " heroes import --batch-size=500 ", path));
    });
    // The first batch committed, its answer still on its way: cut.
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (HeroCount() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
    proxy.Kill();
    const CommandResult killed = first.get();
    killed_output = killed.output;
    killed_exit = killed.exit;
  }
  const int stored_before = HeroCount();
  ASSERT_GT(stored_before, 0) << killed_output;
  EXPECT_LT(stored_before, 5000) << "the kill came mid-import: " << killed_output;
  // The retries give up once the proxy refuses: UNAVAILABLE, and what to do.
  EXPECT_EQ(killed_exit, 14) << killed_output;
  EXPECT_TRUE(absl::StrContains(killed_output, "protomodel: UNAVAILABLE")) << killed_output;
  EXPECT_TRUE(absl::StrContains(killed_output,
                                "were stored before it, and it may have been too. Running the "
                                "same import again stores each row once"))
      << killed_output;

  CommandResult again = Cli("heroes import --batch-size=500 " + path);
  ASSERT_EQ(again.exit, 0) << again.output;
  EXPECT_TRUE(absl::StrContains(again.output, "5000 heroes stored in 10 batches")) << again.output;
  EXPECT_EQ(HeroCount(), 5000);
  EXPECT_EQ(database().Exec("SELECT count(DISTINCT name) FROM hero")[0][0].as<int>(), 5000);
  EXPECT_TRUE(StoredNames("ORDER BY name") == NamesOf(lines)) << "each line's hero once";
}

}  // namespace
}  // namespace protomodel::testing
