// Shared by the libFuzzer targets: the tables they run against and the checks
// every generated statement must pass. Nothing here touches a database.
#ifndef PROTOMODEL_TESTS_FUZZ_FUZZ_COMMON_H_
#define PROTOMODEL_TESTS_FUZZ_FUZZ_COMMON_H_

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "db/sql/params.h"
#include "db/schema/schema.h"
#include "grimoire/v1/grimoire.pb.h"
#include "heroes/v1/heroes.pb.h"
#include "proto/testing/v1/widget.pb.h"

namespace protomodel::fuzz {

// A property failed: print what and why, then crash so libFuzzer keeps the
// input as an artifact.
[[noreturn]] inline void Fail(absl::string_view property, absl::string_view detail) {
  std::fprintf(stderr, "\n*** fuzz property violated: %.*s\n%s\n",
               static_cast<int>(property.size()), property.data(),
               absl::CHexEscape(detail).c_str());
  __builtin_trap();
}

#define FUZZ_CHECK(cond, detail)                  \
  do {                                            \
    if (!(cond)) ::protomodel::fuzz::Fail(#cond, (detail)); \
  } while (false)

// Every resource the server serves (heroes.v1, grimoire.v1, in the order of
// server/resources.cc) and the test-only testing.v1 Owner/Widget, whose
// columns cover every column type (bool, double, bytes, writable and optional
// timestamps) the served resources do not.
inline const db::Schema& AllTables() {
  static const db::Schema* schema = [] {
    auto built = db::Schema::Build({
        heroes::v1::Team::descriptor(), heroes::v1::Hero::descriptor(),
        grimoire::v1::User::descriptor(), grimoire::v1::Class::descriptor(),
        grimoire::v1::Conversation::descriptor(),
        ::testing::v1::Owner::descriptor(), ::testing::v1::Widget::descriptor()});
    if (!built.ok()) Fail("schema builds", built.status().ToString());
    return built->release();
  }();
  return *schema;
}

inline const std::vector<std::unique_ptr<db::TableSchema>>& Tables() {
  return AllTables().tables();
}

// The table called `name`.
inline const db::TableSchema& Table(absl::string_view name) {
  const db::TableSchema* table = AllTables().FindByName(name);
  if (table == nullptr) Fail("known table", name);
  return *table;
}

// List queries a page token may be bound to; fuzz_page_token picks one by
// its first byte (make_seeds writes tokens for each).
struct Query {
  absl::string_view table;
  absl::string_view order_by;
};
inline constexpr Query kQueries[] = {
    {"hero", ""},
    {"hero", "name"},
    {"hero", "age desc, name"},
    {"hero", "team_id, age desc, id desc"},
    {"team", "name desc"},
    {"user", "created_at desc"},
    {"user", "email, display_name"},
    {"class", "owner_id, created_at desc"},
    {"conversation", "class_id, created_at"},
    {"conversation", "raw_text desc"},
    {"widget", "enabled, weight desc"},
    {"widget", "due_at desc, code"},
    {"owner", ""},
};
inline constexpr size_t kQueryCount = sizeof(kQueries) / sizeof(kQueries[0]);

// One statement parameter as libpq would receive it.
struct Param {
  bool null = false;
  bool binary = false;
  std::string value;
};

inline std::vector<Param> ReleaseParams(db::Params params) {
  pqxx::internal::params raw = std::move(params).Release();
  const std::vector<const char*> pointers = raw.get_pointers();
  std::vector<Param> out(pointers.size());
  for (size_t i = 0; i < pointers.size(); ++i) {
    out[i].binary = raw.binaries[i] != 0;
    out[i].null = raw.nonnulls[i] == 0 && !out[i].binary;
    if (out[i].null) continue;
    FUZZ_CHECK(pointers[i] != nullptr, "a non-NULL parameter has no value");
    out[i].value.assign(pointers[i], static_cast<size_t>(raw.lengths[i]));
    // libpq sends text parameters as C strings: a NUL would cut the value.
    FUZZ_CHECK(out[i].binary || out[i].value.find('\0') == std::string::npos,
               "a text parameter holds a NUL: " + out[i].value);
  }
  return out;
}

// The shape every statement we build has: `$n` placeholders only for
// 1 <= n <= params, each of them used; balanced parentheses; no string
// literal, comment or statement separator (a value spliced into the text
// would bring one); double quotes only around identifiers.
inline void CheckStatementShape(absl::string_view sql, int params) {
  std::vector<bool> used(static_cast<size_t>(params) + 1, false);
  int depth = 0;
  bool in_identifier = false;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (in_identifier) {
      if (c == '"') in_identifier = false;
      continue;
    }
    switch (c) {
      case '"':
        in_identifier = true;
        break;
      case '(':
        ++depth;
        break;
      case ')':
        FUZZ_CHECK(--depth >= 0, std::string(sql));
        break;
      case '\'':
      case ';':
      case '\\':
      case '\0':
        Fail("no literal, separator or escape in SQL text", sql);
      case '-':
        FUZZ_CHECK(i + 1 >= sql.size() || sql[i + 1] != '-', std::string(sql));
        break;
      case '$': {
        size_t end = i + 1;
        while (end < sql.size() && absl::ascii_isdigit(sql[end])) ++end;
        int n = 0;
        FUZZ_CHECK(end > i + 1 && absl::SimpleAtoi(sql.substr(i + 1, end - i - 1), &n) &&
                       n >= 1 && n <= params,
                   std::string(sql));
        used[static_cast<size_t>(n)] = true;
        i = end - 1;
        break;
      }
      default:
        FUZZ_CHECK(absl::ascii_isprint(static_cast<unsigned char>(c)), std::string(sql));
    }
  }
  FUZZ_CHECK(!in_identifier && depth == 0, std::string(sql));
  for (int n = 1; n <= params; ++n) {
    FUZZ_CHECK(used[static_cast<size_t>(n)], std::string(sql));
  }
}

// Replacement values: valid for their column type, in two variants (a field
// already holding one gets the other), and each leaves a mark in its
// parameter that no statement we build contains.
inline constexpr absl::string_view kSentinel[2] = {"zq<sentinel>zq", "zq<sentinel>zq2"};
inline constexpr absl::string_view kSentinelUuid[2] = {
    "0badc0de-0bad-4c0d-8bad-c0de0badc0de", "0badc0de-0bad-4c0d-8bad-c0de0badc0df"};
inline constexpr int32_t kSentinelInt32[2] = {424242, 424243};
inline constexpr int64_t kSentinelInt64[2] = {424242424242, 424242424243};
inline constexpr double kSentinelDouble[2] = {4242.5, 4243.5};
inline constexpr int64_t kSentinelSeconds[2] = {4136025600, 4136025601};  // 2101-01-25
inline constexpr absl::string_view kSentinelMarks[] = {
    "zq<sentinel>zq", "0badc0de", "424242", "424243", "4242.5", "4243.5", "2101-"};

inline bool HasSentinelMark(absl::string_view sql) {
  for (absl::string_view mark : kSentinelMarks) {
    if (sql.find(mark) != absl::string_view::npos) return true;
  }
  return false;
}

// Sets `column` of `message` to replacement value `variant` (0 or 1), or to
// the other one when it holds that already.
inline void SetSentinel(google::protobuf::Message* message, const db::Column& column,
                        int variant) {
  const google::protobuf::Reflection* r = message->GetReflection();
  const google::protobuf::FieldDescriptor* f = column.field;
  auto pick = [&](auto values, auto current) {
    return current == values[variant] ? values[1 - variant] : values[variant];
  };
  const bool had = r->HasField(*message, f);
  switch (column.type) {
    case db::ColumnType::kBool:
      r->SetBool(message, f, had ? !r->GetBool(*message, f) : variant == 0);
      break;
    case db::ColumnType::kInt32:
      r->SetInt32(message, f, pick(kSentinelInt32, r->GetInt32(*message, f)));
      break;
    case db::ColumnType::kInt64:
      r->SetInt64(message, f, pick(kSentinelInt64, r->GetInt64(*message, f)));
      break;
    case db::ColumnType::kFloat:
      r->SetFloat(message, f, static_cast<float>(
                                  pick(kSentinelDouble, double{r->GetFloat(*message, f)})));
      break;
    case db::ColumnType::kDouble:
      r->SetDouble(message, f, pick(kSentinelDouble, r->GetDouble(*message, f)));
      break;
    case db::ColumnType::kString:
    case db::ColumnType::kBytes:
      r->SetString(message, f,
                   std::string(pick(kSentinel, absl::string_view(r->GetString(*message, f)))));
      break;
    case db::ColumnType::kUuid:
      r->SetString(message, f, std::string(pick(kSentinelUuid,
                                                absl::string_view(r->GetString(*message, f)))));
      break;
    case db::ColumnType::kTimestamp: {
      google::protobuf::Message* ts = r->MutableMessage(message, f);
      const google::protobuf::Reflection* tr = ts->GetReflection();
      const auto* seconds = ts->GetDescriptor()->FindFieldByName("seconds");
      const auto* nanos = ts->GetDescriptor()->FindFieldByName("nanos");
      tr->SetInt64(ts, seconds, pick(kSentinelSeconds, tr->GetInt64(*ts, seconds)));
      tr->SetInt32(ts, nanos, 123456000);
      break;
    }
    default:  // the built-in resources have no other types
      break;
  }
}

}  // namespace protomodel::fuzz

#endif  // PROTOMODEL_TESTS_FUZZ_FUZZ_COMMON_H_
