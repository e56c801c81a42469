// The contract's rules, each checked over every served resource: the five
// built-ins and testing.v1.Specimen, which has a field of every column type.
// The server is the unmodified binary serving a descriptor set of all six,
// so Specimen's messages are dynamic ones inside it; the suite knows the
// resources only through their descriptors.
#include <algorithm>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/rpc_method.h>
#include <grpcpp/support/byte_buffer.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "db/changes.h"
#include "db/schema/ddl.h"
#include "db/schema/schema.h"
#include "db/sql/codec.h"
#include "db/sql/filter.h"
#include "grimoire/v1/grimoire.pb.h"
#include "harness/postgres.h"
#include "harness/process.h"
#include "harness/watch_reader.h"
#include "heroes/v1/heroes.pb.h"
#include "protomodel/client/channel.h"
#include "protomodel/client/resources.h"
#include "protomodel/verbs.h"
#include "proto/testing/v1/specimen.pb.h"

namespace protomodel::testing {
namespace {

using client::ListOptions;
using client::ResourceClient;
using db::Column;
using db::ColumnType;
using db::TableSchema;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using Rows = std::vector<std::unique_ptr<Message>>;

std::vector<const FileDescriptor*> ServedFiles() {
  return {heroes::v1::Hero::descriptor()->file(), grimoire::v1::User::descriptor()->file(),
          ::testing::v1::Specimen::descriptor()->file()};
}

// The set protoc --include_imports would write for ServedFiles().
std::string DescriptorSet() {
  google::protobuf::FileDescriptorSet set;
  std::set<std::string> added;
  std::function<void(const FileDescriptor*)> add = [&](const FileDescriptor* file) {
    if (!added.insert(file->name()).second) return;
    for (int i = 0; i < file->dependency_count(); ++i) add(file->dependency(i));
    google::protobuf::FileDescriptorProto* proto = set.add_file();
    file->CopyTo(proto);
    file->CopyJsonNameTo(proto);
  };
  for (const FileDescriptor* file : ServedFiles()) add(file);
  return set.SerializeAsString();
}

// Every table message of the served files.
std::vector<const Descriptor*> TableMessages() {
  std::vector<const Descriptor*> messages;
  for (const FileDescriptor* file : ServedFiles()) {
    for (int i = 0; i < file->message_type_count(); ++i) {
      if (file->message_type(i)->options().HasExtension(protomodel::v1::table)) {
        messages.push_back(file->message_type(i));
      }
    }
  }
  return messages;
}

ListOptions Filtered(const std::string& filter) {
  ListOptions options;
  options.filter = filter;
  return options;
}
ListOptions Ordered(const std::string& order_by, int page_size = 0) {
  ListOptions options;
  options.order_by = order_by;
  options.page_size = page_size;
  return options;
}

// One server and database for the suite.
struct Served {
  std::unique_ptr<db::Schema> schema;
  std::unique_ptr<TestDatabase> database;
  std::string set_file;
  std::unique_ptr<Process> process;
  std::shared_ptr<grpc::Channel> channel;
};
Served* served = nullptr;

class ConformanceTest : public ::testing::TestWithParam<const Descriptor*> {
 protected:
  static void SetUpTestSuite() {
    served = new Served;
    served->schema = *db::Schema::Build(TableMessages());
    served->database = std::make_unique<TestDatabase>();
    served->database->Exec(db::CreateAllSql(db::ExpectedSchema(*served->schema)));
    for (const auto& table : served->schema->tables()) {
      served->database->Exec(db::WatchTriggerSql(*table));
    }
    served->set_file = absl::StrCat(::testing::TempDir(), "conformance_", getpid(), ".binpb");
    std::ofstream(served->set_file, std::ios::binary) << DescriptorSet();
    const std::string target = absl::StrCat("127.0.0.1:", FreePort());
    // In the PgBouncer pass the server reaches the database through it.
    served->process = std::make_unique<Process>(
        Spawn({"--listen=" + target, "--descriptor_set=" + served->set_file, "--migrate=false",
               absl::StrCat("--prepared_statements=", PgBouncerPass() ? "false" : "true")},
              {"DATABASE_URL=" + ThroughPgBouncer(served->database->url())}));
    ASSERT_TRUE(WaitServing(target)) << ReadFile(served->process->log);
    served->channel = *client::Connect(target, {});
  }
  static void TearDownTestSuite() {
    delete served;
    served = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(served->channel, nullptr);
    std::vector<std::string> tables;
    for (const auto& table : served->schema->tables()) tables.push_back(table->quoted_name());
    served->database->Exec(
        absl::StrCat("TRUNCATE ", absl::StrJoin(tables, ", "), " RESTART IDENTITY CASCADE"));
    table_ = served->schema->Find(GetParam());
    ASSERT_NE(table_, nullptr);
    client_ = Client(GetParam());
  }

  static std::unique_ptr<ResourceClient> Client(const Descriptor* type) {
    absl::StatusOr<ResourceClient> client = ResourceClient::For(type, served->channel);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::make_unique<ResourceClient>(*std::move(client)) : nullptr;
  }

  std::unique_ptr<Message> New() const {
    return std::unique_ptr<Message>(
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(GetParam())->New());
  }

  // The request field a resource travels in ("hero").
  std::string Singular() const {
    return client_->service().method(0)->input_type()->field(0)->name();
  }

  // Sets `to`'s key field `to_field` (an id or a UUID) from `from`'s.
  static void CopyKey(const Message& from, const FieldDescriptor* from_field, Message* to,
                      const FieldDescriptor* to_field) {
    if (from_field->cpp_type() == FieldDescriptor::CPPTYPE_INT64) {
      to->GetReflection()->SetInt64(to, to_field, from.GetReflection()->GetInt64(from, from_field));
    } else {
      to->GetReflection()->SetString(to, to_field,
                                     from.GetReflection()->GetString(from, from_field));
    }
  }

  // Sets every writable column of `m` to values that grow with `seed`
  // (1..9), creating what its foreign keys point at.
  static void Fill(const TableSchema& table, int seed, Message* m) {
    for (const Column& column : table.columns()) {
      if (!column.writable() || column.random_length > 0) continue;
      const FieldDescriptor* f = column.field;
      if (!column.references.empty()) {
        const TableSchema* target = served->schema->FindByName(column.references);
        CopyKey(*CreateRow(*target, seed), target->primary_key().field, m, f);
        continue;
      }
      SetSample(column, seed, m);
    }
  }

  // A value of `column` that grows with `seed`.
  static void SetSample(const Column& column, int seed, Message* m) {
    const Reflection* r = m->GetReflection();
    const FieldDescriptor* f = column.field;
    // Unique columns also take a serial number, so no two rows clash.
    static int serial = 0;
    ++serial;
    const std::string text = absl::StrFormat("%s-%02d", column.name, seed);
    if (column.type == ColumnType::kJson) {
      const Descriptor* type = f->message_type();
      Message* value = f->is_repeated() ? r->AddMessage(m, f) : r->MutableMessage(m, f);
      // A map entry's key and value, or a message's first string and number.
      for (int i = 0; i < type->field_count(); ++i) {
        const FieldDescriptor* sub = type->field(i);
        if (sub->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
          value->GetReflection()->SetString(value, sub, absl::StrCat(text, "-", sub->name()));
        } else if (sub->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
          value->GetReflection()->SetDouble(value, sub, seed + 0.25);
        }
      }
      return;
    }
    if (column.type == ColumnType::kTimestamp || column.type == ColumnType::kDuration) {
      Message* t = r->MutableMessage(m, f);
      const Descriptor* d = t->GetDescriptor();
      t->GetReflection()->SetInt64(
          t, d->field(0), column.type == ColumnType::kTimestamp ? 1700000000 + seed * 3600 : seed);
      t->GetReflection()->SetInt32(t, d->field(1), seed * 1000);
      return;
    }
    Message* holder = m;
    const FieldDescriptor* target = f;
    if (column.wrapper) {
      holder = r->MutableMessage(m, f);
      target = holder->GetDescriptor()->field(0);
    }
    const Reflection* hr = holder->GetReflection();
    const int copies = target->is_repeated() ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      const int s = seed + i;
#define PM_SET(Type, v) \
  (target->is_repeated() ? hr->Add##Type(holder, target, v) : hr->Set##Type(holder, target, v))
      switch (target->cpp_type()) {
        case FieldDescriptor::CPPTYPE_BOOL: PM_SET(Bool, s % 2 == 0); break;
        case FieldDescriptor::CPPTYPE_INT32: PM_SET(Int32, s * 10 - 25); break;
        case FieldDescriptor::CPPTYPE_INT64: PM_SET(Int64, s * 1000000000000LL - 5); break;
        case FieldDescriptor::CPPTYPE_UINT32: PM_SET(UInt32, 4294967200u + s); break;
        case FieldDescriptor::CPPTYPE_UINT64:
          PM_SET(UInt64, column.unique ? 18446744070000000000ull + s * 100000000ull + serial
                                       : 18446744073709551600ull + s);
          break;
        case FieldDescriptor::CPPTYPE_FLOAT: PM_SET(Float, s * 0.1f); break;
        case FieldDescriptor::CPPTYPE_DOUBLE: PM_SET(Double, s * 1.5e300); break;
        case FieldDescriptor::CPPTYPE_ENUM:
          PM_SET(EnumValue,
                 target->enum_type()->value(std::min(s, target->enum_type()->value_count() - 1))
                     ->number());
          break;
        case FieldDescriptor::CPPTYPE_STRING:
          if (column.type == ColumnType::kUuid) {
            PM_SET(String, absl::StrFormat("00000000-0000-4000-8000-%04d%08d", s,
                                           column.unique ? serial : 0));
          } else if (column.type == ColumnType::kBytes) {
            PM_SET(String, absl::StrCat(std::string("\0\xff", 2), text, s));
          } else if (column.name == "email") {
            PM_SET(String, absl::StrFormat("user%02d-%d@example.com", s, serial));
          } else {
            PM_SET(String, absl::StrFormat("%s-%02d \"q\" \\ *%s", column.name, s,
                                           column.unique ? absl::StrCat(serial) : ""));
          }
          break;
        default:
          break;
      }
#undef PM_SET
    }
  }

  // Fill, for helpers outside the fixture.
 public:
  static void FillRow(const TableSchema& table, int seed, Message* m) { Fill(table, seed, m); }

 protected:
  static std::unique_ptr<Message> Copy(const Message& m) {
    std::unique_ptr<Message> copy(m.New());
    copy->CopyFrom(m);
    return copy;
  }
  static bool IsSetIn(const Message& m, const Column& column) {
    const Reflection* r = m.GetReflection();
    return column.field->is_repeated() ? r->FieldSize(m, column.field) > 0
                                       : r->HasField(m, column.field);
  }

  // A row of `table` created with Fill(seed), as the server returned it.
  static std::unique_ptr<Message> CreateRow(const TableSchema& table, int seed) {
    const std::unique_ptr<ResourceClient> client = Client(table.descriptor());
    const Message& prototype =
        *google::protobuf::MessageFactory::generated_factory()->GetPrototype(table.descriptor());
    std::unique_ptr<Message> in(prototype.New()), out(prototype.New());
    Fill(table, seed, in.get());
    const absl::Status s = client->Create(*in, out.get());
    EXPECT_TRUE(s.ok()) << table.name() << ": " << s;
    return out;
  }

  client::Key KeyOf(const Message& row) const {
    const FieldDescriptor* pk = table_->primary_key().field;
    if (pk->cpp_type() == FieldDescriptor::CPPTYPE_INT64) {
      return row.GetReflection()->GetInt64(row, pk);
    }
    return row.GetReflection()->GetString(row, pk);
  }
  std::string KeyText(const Message& row) const {
    const client::Key key = KeyOf(row);
    return std::holds_alternative<int64_t>(key) ? absl::StrCat(std::get<int64_t>(key))
                                                : std::get<std::string>(key);
  }

  // The keys of `rows`, in order.
  std::vector<std::string> Keys(const Rows& rows) const {
    std::vector<std::string> keys;
    for (const auto& row : rows) keys.push_back(KeyText(*row));
    return keys;
  }

  // Every row `options` select, following the pages.
  absl::StatusOr<Rows> ListAll(ListOptions options) const {
    Rows all;
    do {
      Rows page;
      absl::StatusOr<std::string> next = client_->ListPage(options, &page);
      if (!next.ok()) return next.status();
      for (auto& row : page) all.push_back(std::move(row));
      options.page_token = *next;
    } while (!options.page_token.empty());
    return all;
  }

  // The filter literal for `row`'s value of `column` (an element's, for a
  // repeated column).
  static std::string Literal(const Message& row, const Column& column) {
    const absl::StatusOr<db::Value> value =
        db::FieldValue(row, column, column.repeated ? 0 : -1, column.name);
    EXPECT_TRUE(value.ok()) << value.status();
    switch (column.type) {
      case ColumnType::kBool: return value->boolean ? "true" : "false";
      case ColumnType::kUint64: return absl::StrCat(value->unsigned_integer);
      case ColumnType::kFloat:
      case ColumnType::kDouble: return absl::StrFormat("%.17g", value->number);
      case ColumnType::kEnum:
        return column.field->enum_type()->FindValueByNumber(static_cast<int>(value->integer))
            ->name();
      case ColumnType::kString:
      case ColumnType::kUuid: {
        std::string quoted = "\"";
        for (const char c : value->text) {
          if (c == '"' || c == '\\' || c == '*') quoted += '\\';
          quoted += c;
        }
        return quoted + "\"";
      }
      case ColumnType::kTimestamp:
        return absl::StrCat("\"", absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ",
                                                  absl::FromUnixMicros(value->integer),
                                                  absl::UTCTimeZone()),
                            "\"");
      case ColumnType::kDuration:
        return absl::StrFormat("\"%d.%06ds\"", value->integer / 1000000, value->integer % 1000000);
      default:
        return absl::StrCat(value->integer);
    }
  }

  // The columns a filter compares (`=`, `<`, ... or, repeated, `:`).
  std::vector<const Column*> FilterableColumns() const {
    std::vector<const Column*> columns;
    for (const Column& column : table_->columns()) {
      if ((column.comparable() || column.repeated) && column.type != ColumnType::kBytes &&
          column.type != ColumnType::kJson) {
        columns.push_back(&column);
      }
    }
    return columns;
  }

  // The row, but for what the server sets (output-only columns, relations).
  std::unique_ptr<Message> Written(const Message& row) const {
    std::unique_ptr<Message> copy(row.New());
    copy->CopyFrom(row);
    for (const Column& column : table_->columns()) {
      if (!column.writable() || column.random_length > 0) {
        copy->GetReflection()->ClearField(copy.get(), column.field);
      }
    }
    for (const db::Relation& relation : table_->relations()) {
      copy->GetReflection()->ClearField(copy.get(), relation.field);
    }
    return copy;
  }

  const TableSchema* table_ = nullptr;
  std::unique_ptr<ResourceClient> client_;
};

std::string ResourceName(const ::testing::TestParamInfo<const Descriptor*>& info) {
  return info.param->name();
}

TEST_P(ConformanceTest, CreateThenGetRoundTripsEveryWrittenField) {
  for (int seed : {1, 2}) {
    std::unique_ptr<Message> in = New(), created = New(), got = New();
    Fill(*table_, seed, in.get());
    ASSERT_TRUE(client_->Create(*in, created.get()).ok());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*Written(*in),
                                                                   *Written(*created)))
        << "sent " << in->ShortDebugString() << "\ngot " << created->ShortDebugString();
    ASSERT_TRUE(client_->Get(KeyOf(*created), "", got.get()).ok());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*created, *got))
        << "created " << created->ShortDebugString() << "\ngot " << got->ShortDebugString();
  }
}

TEST_P(ConformanceTest, EmptyAndUnsetValuesRoundTrip) {
  // Only what a create needs: required fields and references.
  std::unique_ptr<Message> full = New();
  Fill(*table_, 3, full.get());
  std::unique_ptr<Message> sparse = New();
  for (const Column& column : table_->columns()) {
    if (column.required || !column.references.empty()) {
      sparse->GetReflection()->SwapFields(full.get(), sparse.get(), {column.field});
    }
  }
  std::unique_ptr<Message> created = New(), got = New();
  ASSERT_TRUE(client_->Create(*sparse, created.get()).ok());
  ASSERT_TRUE(client_->Get(KeyOf(*created), "", got.get()).ok());
  for (const Column& column : table_->columns()) {
    if (!column.writable() || column.required || !column.references.empty() ||
        column.random_length > 0) {
      continue;
    }
    const Reflection* r = got->GetReflection();
    if (column.field->is_repeated()) {
      EXPECT_EQ(r->FieldSize(*got, column.field), 0) << column.name;
    } else if (column.field->has_presence()) {
      EXPECT_FALSE(r->HasField(*got, column.field)) << column.name << " came back set";
    }
  }
}

TEST_P(ConformanceTest, BytesThatAreNoRequestAreInvalidArgument) {
  // A field 1 whose length runs past the end: no message parses from it.
  const std::string garbage("\x0a\x7f\x01", 3);
  for (int m = 0; m < client_->service().method_count(); ++m) {
    const auto* method = client_->service().method(m);
    const std::string path = absl::StrCat("/", client_->service().full_name(), "/", method->name());
    grpc::internal::RpcMethod rpc(path.c_str(), grpc::internal::RpcMethod::NORMAL_RPC);
    grpc::Slice slice(garbage);
    grpc::ByteBuffer request(&slice, 1), response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const grpc::Status status = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
        served->channel.get(), rpc, &context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << path;
    EXPECT_EQ(status.error_message(),
              absl::StrCat("the request is not a valid ", method->input_type()->full_name()));
  }
}

TEST_P(ConformanceTest, GetOfAMissingKeyIsNotFound) {
  const std::unique_ptr<Message> row = CreateRow(*table_, 1);
  ASSERT_TRUE(client_->Delete(KeyOf(*row), "").ok());
  std::unique_ptr<Message> got = New();
  const absl::Status s = client_->Get(KeyOf(*row), "", got.get());
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_EQ(client::DetailsOf(s).resource_type, GetParam()->full_name());
  EXPECT_EQ(client_->Delete(KeyOf(*row), "").code(), absl::StatusCode::kNotFound);
}

TEST_P(ConformanceTest, MissingRequiredFieldsAreNamedAndNothingIsWritten) {
  for (const Column& column : table_->columns()) {
    if (!column.required) continue;
    std::unique_ptr<Message> in = New(), out = New();
    Fill(*table_, 1, in.get());
    in->GetReflection()->ClearField(in.get(), column.field);
    const absl::Status s = client_->Create(*in, out.get());
    const std::string field = absl::StrCat(Singular(), ".", column.name);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << column.name;
    EXPECT_EQ(s.message(), absl::StrCat(field, " is required"));
    const client::ErrorDetails details = client::DetailsOf(s);
    ASSERT_EQ(details.field_violations.size(), 1u) << s;
    EXPECT_EQ(details.field_violations[0].first, field);
    EXPECT_EQ(details.reason, "REQUIRED_FIELD");
  }
  const absl::StatusOr<Rows> all = ListAll({});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(all->empty()) << "a refused create wrote " << all->front()->ShortDebugString();
}

bool SameField(const Message& a, const Message& b, const FieldDescriptor* f) {
  google::protobuf::util::MessageDifferencer differ;
  return differ.CompareWithFields(a, b, {f}, {f});
}

TEST_P(ConformanceTest, ValuesNoColumnHoldsAreInvalidArgumentNamingTheField) {
  for (const Column& column : table_->columns()) {
    if (!column.writable() || !column.references.empty() || column.random_length > 0 ||
        column.repeated || column.wrapper) {
      continue;
    }
    std::unique_ptr<Message> in = New(), out = New();
    Fill(*table_, 1, in.get());
    const Reflection* r = in->GetReflection();
    const std::string nul("a\0b", 3);
    if (column.type == ColumnType::kString) {
      r->SetString(in.get(), column.field, nul);
    } else if (column.type == ColumnType::kUuid) {
      r->SetString(in.get(), column.field, "not-a-uuid");
    } else if (column.type == ColumnType::kTimestamp || column.type == ColumnType::kDuration) {
      Message* time = r->MutableMessage(in.get(), column.field);
      time->GetReflection()->SetInt64(time, time->GetDescriptor()->field(0), 999999999999999);
    } else if (column.type == ColumnType::kJson && !column.field->is_repeated()) {
      Message* nested = r->MutableMessage(in.get(), column.field);
      const FieldDescriptor* text = nullptr;
      for (int i = 0; i < nested->GetDescriptor()->field_count() && text == nullptr; ++i) {
        const FieldDescriptor* f = nested->GetDescriptor()->field(i);
        if (f->type() == FieldDescriptor::TYPE_STRING && !f->is_repeated()) text = f;
      }
      if (text == nullptr) continue;
      nested->GetReflection()->SetString(nested, text, nul);
    } else {
      continue;
    }
    const absl::Status s = client_->Create(*in, out.get());
    const std::string field = absl::StrCat(Singular(), ".", column.name);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field << ": " << s;
    EXPECT_EQ(s.message().rfind(field + ":", 0), 0u) << s;
    const client::ErrorDetails details = client::DetailsOf(s);
    ASSERT_EQ(details.field_violations.size(), 1u) << s;
    EXPECT_EQ(details.field_violations[0].first, field);
  }
  const absl::StatusOr<Rows> all = ListAll({});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(all->empty()) << "a refused create wrote " << all->front()->ShortDebugString();
}

TEST_P(ConformanceTest, UpdateWritesOnlyTheMaskedField) {
  for (const Column& column : table_->columns()) {
    if (!column.writable() || !column.references.empty() || column.random_length > 0 ||
        column.primary_key) {
      continue;
    }
    const std::unique_ptr<Message> row = CreateRow(*table_, 1);
    std::unique_ptr<Message> change = New(), out = New(), got = New();
    Fill(*table_, 2, change.get());
    const FieldDescriptor* pk = table_->primary_key().field;
    CopyKey(*row, pk, change.get(), pk);
    const absl::Status s = client_->Update(*change, {column.name}, out.get());
    ASSERT_TRUE(s.ok()) << column.name << ": " << s;
    ASSERT_TRUE(client_->Get(KeyOf(*row), "", got.get()).ok());
    for (const Column& other : table_->columns()) {
      if (!other.writable()) continue;
      EXPECT_TRUE(SameField(*got, &other == &column ? *change : *row, other.field))
          << "after an update of " << column.name << ", " << other.name << " is "
          << got->ShortDebugString();
    }
  }
}

TEST_P(ConformanceTest, UpdateWithoutAMaskWritesTheFieldsThatAreSet) {
  const std::unique_ptr<Message> row = CreateRow(*table_, 1);
  const FieldDescriptor* pk = table_->primary_key().field;
  std::unique_ptr<Message> out = New(), got = New();
  // Only the key: every field holds its default, so nothing is written.
  std::unique_ptr<Message> bare = New();
  CopyKey(*row, pk, bare.get(), pk);
  ASSERT_TRUE(client_->Update(*bare, {}, out.get()).ok());
  ASSERT_TRUE(client_->Get(KeyOf(*row), "", got.get()).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*Written(*row), *Written(*got)))
      << "an update of nothing changed " << got->ShortDebugString();
  // Every field set: every writable one is written.
  std::unique_ptr<Message> change = New();
  Fill(*table_, 2, change.get());
  CopyKey(*row, pk, change.get(), pk);
  ASSERT_TRUE(client_->Update(*change, {}, out.get()).ok());
  ASSERT_TRUE(client_->Get(KeyOf(*row), "", got.get()).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*Written(*change),
                                                                 *Written(*got)))
      << "sent " << change->ShortDebugString() << "\ngot " << got->ShortDebugString();
}

TEST_P(ConformanceTest, UpdateMasksNameBadPaths) {
  const std::unique_ptr<Message> row = CreateRow(*table_, 1);
  std::unique_ptr<Message> out = New();
  absl::Status s = client_->Update(*row, {"no_such_field"}, out.get());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  ASSERT_EQ(client::DetailsOf(s).field_violations.size(), 1u) << s;
  EXPECT_EQ(client::DetailsOf(s).field_violations[0].first, "update_mask");
  for (const Column& column : table_->columns()) {
    if (column.writable()) continue;
    s = client_->Update(*row, {column.name}, out.get());
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << column.name << ": " << s;
    EXPECT_NE(s.message().find("output only"), std::string::npos) << s;
  }
}

TEST_P(ConformanceTest, EveryFilterableFieldFiltersByItsValue) {
  Rows rows;
  for (int seed : {1, 2, 3}) rows.push_back(CreateRow(*table_, seed));
  for (const Column* column : FilterableColumns()) {
    const std::string literal = Literal(*rows[1], *column);
    if (column->repeated) continue;  // RepeatedFieldsFilterWithHas
    std::vector<std::string> equal, other;
    for (const auto& row : rows) {
      (Literal(*row, *column) == literal ? equal : other).push_back(KeyText(*row));
    }
    for (const auto& [op, want] : {std::pair{"=", equal}, std::pair{"!=", other}}) {
      const std::string filter = absl::StrCat(column->name, " ", op, " ", literal);
      const absl::StatusOr<Rows> have = ListAll(Filtered(filter));
      ASSERT_TRUE(have.ok()) << filter << ": " << have.status();
      std::vector<std::string> keys = Keys(*have), sorted_want = want;
      std::sort(keys.begin(), keys.end());
      std::sort(sorted_want.begin(), sorted_want.end());
      EXPECT_EQ(keys, sorted_want) << filter;
    }
  }
}

// The server's own evaluation of a filter (for rows the database no longer
// holds, such as a change's old values) agrees with the database's on the
// same rows: every operator on every filterable field, unset values, prefixes,
// has, and NOT, AND and OR over them.
TEST_P(ConformanceTest, TheServersFilterAgreesWithTheDatabase) {
  Rows rows;
  for (int seed : {1, 2, 3}) rows.push_back(CreateRow(*table_, seed));
  {
    // One row with only what a create needs: its other fields unset.
    std::unique_ptr<Message> full = New(), sparse = New(), out = New();
    Fill(*table_, 4, full.get());
    for (const Column& column : table_->columns()) {
      if (column.required || !column.references.empty()) {
        sparse->GetReflection()->SwapFields(full.get(), sparse.get(), {column.field});
      }
    }
    ASSERT_TRUE(client_->Create(*sparse, out.get()).ok());
  }
  const absl::StatusOr<Rows> all = ListAll({});
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<std::string> filters;
  std::vector<std::string> simple;
  for (const Column* column : FilterableColumns()) {
    const std::string literal = Literal(*rows[1], *column);
    if (column->repeated) {
      filters.push_back(absl::StrCat(column->name, ":", literal));
      continue;
    }
    for (const char* op : {"=", "!=", "<", "<=", ">", ">="}) {
      if (column->type == ColumnType::kBool && std::string(op) != "=" && std::string(op) != "!=") {
        continue;
      }
      filters.push_back(absl::StrCat(column->name, " ", op, " ", literal));
    }
    simple.push_back(filters.back());
    if (column->field->has_presence()) {
      filters.push_back(absl::StrCat(column->name, " = null"));
      filters.push_back(absl::StrCat(column->name, " != null"));
    }
    if (column->type == ColumnType::kString && literal.size() > 4) {
      // The first characters of the value (its opening quote included).
      std::string prefix = literal.substr(0, 4);
      if (prefix.back() == '\\') prefix.pop_back();
      filters.push_back(absl::StrCat(column->name, " = ", prefix, "*\""));
      filters.push_back(absl::StrCat(column->name, " != ", prefix, "*\""));
    }
  }
  for (size_t i = 0; i + 1 < simple.size(); ++i) {
    filters.push_back(absl::StrCat("NOT (", simple[i], ")"));
    filters.push_back(absl::StrCat(simple[i], " OR NOT ", simple[i + 1]));
    filters.push_back(absl::StrCat(simple[i], " AND ", simple[i + 1]));
  }
  for (const std::string& filter : filters) {
    const absl::StatusOr<Rows> have = ListAll(Filtered(filter));
    ASSERT_TRUE(have.ok()) << filter << ": " << have.status();
    const absl::StatusOr<db::FilterNode> parsed = db::ParseFilter(filter);
    ASSERT_TRUE(parsed.ok()) << filter << ": " << parsed.status();
    std::vector<std::string> matched;
    for (const auto& row : *all) {
      const absl::StatusOr<bool> match = db::MatchFilter(*parsed, *table_, *row);
      ASSERT_TRUE(match.ok()) << filter << ": " << match.status();
      if (*match) matched.push_back(KeyText(*row));
    }
    std::vector<std::string> keys = Keys(*have);
    std::sort(keys.begin(), keys.end());
    std::sort(matched.begin(), matched.end());
    EXPECT_EQ(matched, keys) << filter;
  }
}

TEST_P(ConformanceTest, RepeatedFieldsFilterWithHas) {
  Rows rows;
  for (int seed : {1, 2, 3}) rows.push_back(CreateRow(*table_, seed));
  for (const Column* column : FilterableColumns()) {
    if (!column->repeated) continue;
    // Seed s holds the elements of s and s+1: seed 2's second is seed 3's first.
    const std::string literal = Literal(*rows[2], *column);
    const absl::StatusOr<Rows> have = ListAll(Filtered(absl::StrCat(column->name, ":", literal)));
    ASSERT_TRUE(have.ok()) << have.status();
    EXPECT_EQ(Keys(*have), (std::vector<std::string>{KeyText(*rows[1]), KeyText(*rows[2])}))
        << column->name << ":" << literal;
    const absl::StatusOr<Rows> none =
        ListAll(Filtered(absl::StrCat("NOT ", column->name, ":", literal)));
    ASSERT_TRUE(none.ok()) << none.status();
    EXPECT_EQ(Keys(*none), std::vector<std::string>{KeyText(*rows[0])});
    const absl::StatusOr<Rows> equal = ListAll(Filtered(absl::StrCat(column->name, " = ", literal)));
    EXPECT_EQ(equal.status().code(), absl::StatusCode::kInvalidArgument) << column->name;
  }
}

TEST_P(ConformanceTest, UnsetValuesMatchNullAndFollowTwoValuedLogic) {
  std::unique_ptr<Message> unset = New(), out = New();
  Fill(*table_, 1, unset.get());
  std::vector<const Column*> nullable;
  for (const Column& column : table_->columns()) {
    if (column.nullable && column.writable() && column.references.empty()) {
      nullable.push_back(&column);
      unset->GetReflection()->ClearField(unset.get(), column.field);
    }
  }
  if (nullable.empty()) GTEST_SKIP() << "no nullable written field";
  ASSERT_TRUE(client_->Create(*unset, out.get()).ok());
  const std::string unset_key = KeyText(*out);
  const std::unique_ptr<Message> set = CreateRow(*table_, 2);
  for (const Column* column : nullable) {
    auto keys = [&](const std::string& filter) {
      const absl::StatusOr<Rows> rows = ListAll(Filtered(filter));
      EXPECT_TRUE(rows.ok()) << filter << ": " << rows.status();
      return rows.ok() ? Keys(*rows) : std::vector<std::string>{"error"};
    };
    EXPECT_EQ(keys(column->name + " = null"), std::vector<std::string>{unset_key});
    EXPECT_EQ(keys(column->name + " != null"), std::vector<std::string>{KeyText(*set)});
    if (!column->comparable()) continue;
    const std::string literal = Literal(*set, *column);
    EXPECT_EQ(keys(absl::StrCat(column->name, " != ", literal)), std::vector<std::string>{unset_key});
    EXPECT_EQ(keys(absl::StrCat("NOT ", column->name, " = ", literal)),
              std::vector<std::string>{unset_key});
    if (column->type == ColumnType::kBool) continue;  // only = and !=
    EXPECT_TRUE(keys(absl::StrCat(column->name, " < ", literal)).empty()) << column->name;
    EXPECT_TRUE(keys(absl::StrCat(column->name, " >= ", literal)) ==
                std::vector<std::string>{KeyText(*set)})
        << column->name;
  }
}

// -1, 0 or 1 as `a` sorts before, with or after `b` ascending (NULL last;
// text by code point, as COLLATE "C" does).
int CompareValues(const db::Value& a, const db::Value& b) {
  using Kind = db::Value::Kind;
  if (a.kind == Kind::kNull || b.kind == Kind::kNull) {
    return (a.kind == Kind::kNull) - (b.kind == Kind::kNull);
  }
  auto cmp = [](const auto& x, const auto& y) { return (x > y) - (x < y); };
  switch (a.kind) {
    case Kind::kBool: return cmp(a.boolean, b.boolean);
    case Kind::kUint: return cmp(a.unsigned_integer, b.unsigned_integer);
    case Kind::kDouble: return cmp(a.number, b.number);
    case Kind::kText: return cmp(a.text, b.text);
    default: return cmp(a.integer, b.integer);
  }
}

TEST_P(ConformanceTest, EveryOrderableFieldOrdersAndPagesBothWays) {
  Rows rows;
  // Seeds out of key order, and a tie (seed 2 twice) that the key breaks.
  for (int seed : {2, 1, 3, 2}) rows.push_back(CreateRow(*table_, seed));
  const Column& pk = table_->primary_key();
  for (const Column& column : table_->columns()) {
    if (!column.comparable()) continue;
    for (const bool desc : {false, true}) {
      // The order the rows' own values give: by the value, then by
      // ascending key.
      auto value = [](const Message& row, const Column& c) {
        return *db::FieldValue(row, c, -1, c.name);
      };
      Rows sorted;
      for (const auto& row : rows) {
        sorted.emplace_back(row->New());
        sorted.back()->CopyFrom(*row);
      }
      std::sort(sorted.begin(), sorted.end(), [&](const auto& a, const auto& b) {
        const int by_value = CompareValues(value(*a, column), value(*b, column));
        if (by_value != 0) return desc ? by_value > 0 : by_value < 0;
        return CompareValues(value(*a, pk), value(*b, pk)) < 0;
      });
      const std::string order_by = absl::StrCat(column.name, desc ? " desc" : "");
      const absl::StatusOr<Rows> whole = ListAll(Ordered(order_by));
      ASSERT_TRUE(whole.ok()) << order_by << ": " << whole.status();
      EXPECT_EQ(Keys(*whole), Keys(sorted)) << order_by;
      const absl::StatusOr<Rows> paged = ListAll(Ordered(order_by, 1));
      ASSERT_TRUE(paged.ok()) << order_by << ": " << paged.status();
      EXPECT_EQ(Keys(*paged), Keys(sorted)) << order_by << ", one row a page";
    }
  }
}

TEST_P(ConformanceTest, FieldsThatCannotBeComparedAreRefusedByName) {
  for (const Column& column : table_->columns()) {
    if (column.comparable()) continue;
    const absl::StatusOr<Rows> ordered = ListAll(Ordered(column.name));
    EXPECT_EQ(ordered.status().code(), absl::StatusCode::kInvalidArgument) << column.name;
    if (column.repeated && column.type != ColumnType::kBytes) continue;
    const absl::StatusOr<Rows> filtered = ListAll(Filtered(column.name + " = \"x\""));
    EXPECT_EQ(filtered.status().code(), absl::StatusCode::kInvalidArgument) << column.name;
    EXPECT_NE(filtered.status().message().find(column.name), std::string::npos)
        << filtered.status();
  }
  for (const db::Relation& relation : table_->relations()) {
    const absl::StatusOr<Rows> filtered =
        ListAll(Filtered(relation.field->name() + " = null"));
    EXPECT_EQ(filtered.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST_P(ConformanceTest, FilterTypeMismatchesAreInvalidArgumentNamingTheField) {
  for (const Column* column : FilterableColumns()) {
    // A value of a kind no column of this type takes.
    const std::string wrong =
        column->type == ColumnType::kBool ? "\"yes\"" : (column->type == ColumnType::kString ||
                                                         column->type == ColumnType::kUuid)
                                                            ? "3"
                                                            : "true";
    const std::string filter =
        absl::StrCat(column->name, column->repeated ? ":" : " = ", wrong);
    const absl::StatusOr<Rows> rows = ListAll(Filtered(filter));
    EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument) << filter;
    EXPECT_NE(rows.status().message().find(absl::StrCat("'", column->name, "'")),
              std::string::npos)
        << rows.status();
    const client::ErrorDetails details = client::DetailsOf(rows.status());
    ASSERT_EQ(details.field_violations.size(), 1u) << rows.status();
    EXPECT_EQ(details.field_violations[0].first, "filter");
  }
  const absl::StatusOr<Rows> unknown = ListAll(Filtered("no_such_field = 1"));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("no_such_field"), std::string::npos);
}

TEST_P(ConformanceTest, ReadMaskLimitsTheFieldsReturned) {
  const std::unique_ptr<Message> row = CreateRow(*table_, 1);
  for (const Column& column : table_->columns()) {
    ListOptions masked;
    masked.read_mask = {column.name};
    const absl::StatusOr<Rows> rows = ListAll(masked);
    ASSERT_TRUE(rows.ok()) << column.name << ": " << rows.status();
    ASSERT_EQ(rows->size(), 1u);
    const Message& got = *rows->front();
    for (const Column& other : table_->columns()) {
      if (&other == &column || other.primary_key) {
        EXPECT_TRUE(SameField(got, *row, other.field)) << other.name;
      } else if (other.field->is_repeated()) {
        EXPECT_EQ(got.GetReflection()->FieldSize(got, other.field), 0) << other.name;
      } else if (other.field->has_presence()) {
        EXPECT_FALSE(got.GetReflection()->HasField(got, other.field))
            << other.name << " with read_mask " << column.name;
      }
    }
  }
  ListOptions unknown;
  unknown.read_mask = {"no_such_field"};
  const absl::StatusOr<Rows> bad = ListAll(unknown);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(ConformanceTest, ListLimitsAreInvalidArgumentNamingTheField) {
  struct Case {
    ListOptions options;
    std::string field;
  };
  std::vector<Case> cases(4);
  cases[0].options.page_size = -1;
  cases[0].field = "page_size";
  cases[1].options.page_token = "not a token";
  cases[1].field = "page_token";
  cases[2].options.filter = std::string(9000, ' ');
  cases[2].field = "filter";
  cases[3].options.order_by = "no_such_field";
  cases[3].field = "order_by";
  for (const Case& c : cases) {
    Rows rows;
    const absl::StatusOr<std::string> next = client_->ListPage(c.options, &rows);
    EXPECT_EQ(next.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    const client::ErrorDetails details = client::DetailsOf(next.status());
    ASSERT_EQ(details.field_violations.size(), 1u) << next.status();
    EXPECT_EQ(details.field_violations[0].first, c.field);
  }
}

TEST_P(ConformanceTest, UniqueClashesAreAlreadyExists) {
  for (const Column& column : table_->columns()) {
    if (!column.unique || !column.writable() || column.random_length > 0) continue;
    const std::unique_ptr<Message> first = CreateRow(*table_, 1);
    std::unique_ptr<Message> again = New(), out = New();
    Fill(*table_, 2, again.get());
    again->GetReflection()->ClearField(again.get(), column.field);
    std::unique_ptr<Message> copy(first->New());
    copy->CopyFrom(*first);
    again->GetReflection()->SwapFields(copy.get(), again.get(), {column.field});
    const absl::Status s = client_->Create(*again, out.get());
    EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << column.name << ": " << s;
    EXPECT_EQ(client::DetailsOf(s).resource_type, GetParam()->full_name());
    // The resource is named by the clashing value.
    const std::string name = client::DetailsOf(s).resource_name;
    EXPECT_TRUE(name.rfind(column.name + "=", 0) == 0 && name.size() > column.name.size() + 1)
        << name;
  }
}

// Batches (AIP-231, 233, 234, 235).

// `n` new rows of `table`, Fill(seed 1..n).
Rows Filled(const TableSchema& table, int n) {
  Rows rows;
  for (int i = 0; i < n; ++i) {
    rows.emplace_back(google::protobuf::MessageFactory::generated_factory()
                          ->GetPrototype(table.descriptor())
                          ->New());
    ConformanceTest::FillRow(table, 1 + i % 9, rows.back().get());
  }
  return rows;
}

std::vector<const Message*> Pointers(const Rows& rows) {
  std::vector<const Message*> pointers;
  for (const auto& row : rows) pointers.push_back(row.get());
  return pointers;
}

// `n` rows made by one BatchCreate, Fill(seed 1..n).
absl::StatusOr<Rows> BatchCreated(const ResourceClient& client, const TableSchema& table, int n,
                                  const std::vector<std::string>& request_ids = {},
                                  Rows* sent = nullptr) {
  Rows in = Filled(table, n);
  Rows out;
  if (absl::Status s = client.BatchCreate(Pointers(in), request_ids, &out); !s.ok()) return s;
  if (sent != nullptr) *sent = std::move(in);
  return out;
}

// The first violation's field path of `status`.
std::string FaultField(const absl::Status& status) {
  const client::ErrorDetails details = client::DetailsOf(status);
  return details.field_violations.empty() ? "" : details.field_violations[0].first;
}

TEST_P(ConformanceTest, BatchCreateThenBatchGetComeBackInRequestOrder) {
  Rows sent;
  const absl::StatusOr<Rows> created = BatchCreated(*client_, *table_, 3, {}, &sent);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(created->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const std::unique_ptr<Message>& in = sent[i];
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*Written(*in),
                                                                   *Written(*(*created)[i])))
        << "sent " << in->ShortDebugString() << "\ngot " << (*created)[i]->ShortDebugString();
  }
  // Reversed, and one of them twice.
  const std::vector<client::Key> ids = {KeyOf(*(*created)[2]), KeyOf(*(*created)[0]),
                                        KeyOf(*(*created)[2]), KeyOf(*(*created)[1])};
  Rows got;
  ASSERT_TRUE(client_->BatchGet(ids, "", {}, &got).ok());
  ASSERT_EQ(got.size(), 4u);
  for (const auto& [at, from] : std::vector<std::pair<int, int>>{{0, 2}, {1, 0}, {2, 2}, {3, 1}}) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*got[at], *(*created)[from]))
        << at << ": " << got[at]->ShortDebugString();
  }
  // A read mask: the key and the fields asked for.
  const Column* masked = nullptr;
  for (const Column& column : table_->columns()) {
    if (&column != &table_->primary_key() && column.field->containing_oneof() == nullptr &&
        IsSetIn(*(*created)[0], column)) {
      masked = &column;
      break;
    }
  }
  ASSERT_NE(masked, nullptr);
  got.clear();
  ASSERT_TRUE(client_->BatchGet({ids[1]}, "", {masked->name}, &got).ok());
  ASSERT_EQ(got.size(), 1u);
  std::unique_ptr<Message> want = New();
  CopyKey(*(*created)[0], table_->primary_key().field, want.get(), table_->primary_key().field);
  want->GetReflection()->SwapFields(Copy(*(*created)[0]).get(), want.get(), {masked->field});
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*got[0], *want))
      << got[0]->ShortDebugString();
}

TEST_P(ConformanceTest, BatchGetOfAMissingIdIsNotFoundNamingIt) {
  const absl::StatusOr<Rows> created = BatchCreated(*client_, *table_, 2);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE(client_->Delete(KeyOf(*(*created)[1]), "").ok());
  Rows got;
  const absl::Status s =
      client_->BatchGet({KeyOf(*(*created)[0]), KeyOf(*(*created)[1])}, "", {}, &got);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_TRUE(absl::StartsWith(s.message(), "ids[1]: ")) << s;
  EXPECT_EQ(client::DetailsOf(s).resource_type, GetParam()->full_name());
  EXPECT_EQ(client::DetailsOf(s).resource_name, KeyText(*(*created)[1]));
}

TEST_P(ConformanceTest, ABatchHoldsOneToAThousandEntries) {
  Rows out;
  absl::Status s = client_->BatchCreate({}, {}, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(FaultField(s), "requests");
  s = client_->BatchGet({}, "", {}, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(FaultField(s), "ids");
  std::vector<client::ResourceClient::DeleteEntry> deletes;
  for (int i = 0; i < 1001; ++i) deletes.push_back({KeyOf(*New()), ""});
  s = client_->BatchDelete(deletes);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(FaultField(s), "requests");
}

TEST_P(ConformanceTest, TheFirstInvalidEntryFailsTheBatchAndNothingIsWritten) {
  const Column* required = nullptr;
  for (const Column& column : table_->columns()) {
    if (column.required) required = required != nullptr ? required : &column;
  }
  Rows in = Filled(*table_, 4);
  const std::vector<const Message*> pointers = Pointers(in);
  // Entry 2 has no key of its own to break: an invalid request_id then.
  std::vector<std::string> request_ids(4);
  if (required != nullptr) {
    in[2]->GetReflection()->ClearField(in[2].get(), required->field);
    in[3]->GetReflection()->ClearField(in[3].get(), required->field);
  } else {
    request_ids[2] = "not-a-uuid";
  }
  Rows out;
  const absl::Status s = client_->BatchCreate(pointers, request_ids, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  const std::string field = required != nullptr
                                ? absl::StrCat("requests[2].", Singular(), ".", required->name)
                                : "requests[2].request_id";
  EXPECT_EQ(FaultField(s), field) << s;
  EXPECT_TRUE(absl::StartsWith(s.message(), field)) << s;
  const absl::StatusOr<Rows> all = ListAll({});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(all->empty()) << "a refused batch wrote " << all->front()->ShortDebugString();
}

TEST_P(ConformanceTest, ABatchTheDatabaseRefusesNamesTheEntryAndWritesNothing) {
  // Entry 2 breaks a unique column by taking entry 0's value, or a
  // reference by naming a row that is not there.
  const Column* fault = nullptr;
  for (const Column& column : table_->columns()) {
    if (column.writable() && column.random_length == 0 &&
        (column.unique || !column.references.empty())) {
      fault = &column;
      break;
    }
  }
  if (fault == nullptr) GTEST_SKIP() << table_->name() << " has no constraint a create can break";
  Rows in = Filled(*table_, 4);
  const std::vector<const Message*> pointers = Pointers(in);
  const FieldDescriptor* f = fault->field;
  if (fault->unique) {
    in[2]->GetReflection()->SwapFields(Copy(*in[0]).get(), in[2].get(), {f});
  } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT64) {
    in[2]->GetReflection()->SetInt64(in[2].get(), f, 987654321);
  } else {
    in[2]->GetReflection()->SetString(in[2].get(), f, "00000000-0000-4000-8000-000987654321");
  }
  const absl::StatusOr<Rows> before = ListAll({});
  ASSERT_TRUE(before.ok());
  Rows out;
  const absl::Status s = client_->BatchCreate(pointers, {}, &out);
  EXPECT_EQ(s.code(), fault->unique ? absl::StatusCode::kAlreadyExists
                                    : absl::StatusCode::kFailedPrecondition)
      << s;
  EXPECT_TRUE(absl::StartsWith(s.message(), "requests[2]")) << s;
  if (!fault->unique) {
    EXPECT_TRUE(absl::StartsWith(s.message(),
                                 absl::StrCat("requests[2].", Singular(), ".", fault->name, ": ")))
        << s;
  }
  const absl::StatusOr<Rows> after = ListAll({});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), before->size()) << "a refused batch wrote rows";
}

TEST_P(ConformanceTest, ARetriedBatchCreateReturnsWhatTheFirstMadeAndMakesNothing) {
  const std::vector<std::string> request_ids = {"7a3f6a52-2b8e-4c1e-9f0a-000000000001",
                                                "7a3f6a52-2b8e-4c1e-9f0a-000000000002",
                                                "7a3f6a52-2b8e-4c1e-9f0a-000000000003"};
  const absl::StatusOr<Rows> first = BatchCreated(*client_, *table_, 3, request_ids);
  ASSERT_TRUE(first.ok()) << first.status();
  const absl::StatusOr<Rows> listed = ListAll({});
  ASSERT_TRUE(listed.ok());
  // The same batch again, and one in another order with a new entry.
  const absl::StatusOr<Rows> again = BatchCreated(*client_, *table_, 3, request_ids);
  ASSERT_TRUE(again.ok()) << again.status();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*(*again)[i], *(*first)[i]))
        << (*again)[i]->ShortDebugString();
  }
  const absl::StatusOr<Rows> after = ListAll({});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(Keys(*after), Keys(*listed));
  // The same request_id twice in one batch.
  Rows out;
  std::unique_ptr<Message> a = New(), b = New();
  FillRow(*table_, 4, a.get());
  FillRow(*table_, 5, b.get());
  const absl::Status s = client_->BatchCreate({a.get(), b.get()}, {request_ids[0], request_ids[0]},
                                              &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(FaultField(s), "requests[1].request_id");
}

TEST_P(ConformanceTest, BatchUpdateWritesEachEntrysMaskOrNothing) {
  const absl::StatusOr<Rows> created = BatchCreated(*client_, *table_, 3);
  ASSERT_TRUE(created.ok()) << created.status();
  // Entry 0 writes one field, entry 1 another (or the same), from seed 7's values.
  std::vector<const Column*> writable;
  for (const Column& column : table_->columns()) {
    if (column.writable() && column.random_length == 0 && column.references.empty() &&
        !column.unique && column.field->containing_oneof() == nullptr) {
      writable.push_back(&column);
    }
  }
  ASSERT_FALSE(writable.empty());
  std::unique_ptr<Message> source = New();
  FillRow(*table_, 7, source.get());
  Rows changes;
  std::vector<client::ResourceClient::UpdateEntry> updates;
  for (int i = 0; i < 2; ++i) {
    const Column& column = *writable[static_cast<size_t>(i) % writable.size()];
    changes.push_back(New());
    CopyKey(*(*created)[i], table_->primary_key().field, changes.back().get(),
            table_->primary_key().field);
    changes.back()->GetReflection()->SwapFields(Copy(*source).get(), changes.back().get(),
                                                {column.field});
    updates.push_back({changes.back().get(), {column.name}});
  }
  Rows out;
  ASSERT_TRUE(client_->BatchUpdate(updates, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const FieldDescriptor* f = writable[static_cast<size_t>(i) % writable.size()]->field;
    EXPECT_EQ(KeyText(*out[i]), KeyText(*(*created)[i]));
    EXPECT_TRUE(SameField(*out[i], *source, f)) << f->name() << ": " << out[i]->ShortDebugString();
    std::unique_ptr<Message> got = New();
    ASSERT_TRUE(client_->Get(KeyOf(*(*created)[i]), "", got.get()).ok());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*got, *out[i]));
  }
  // A missing row in the batch: nothing written, the entry named.
  const std::unique_ptr<Message> updated0 = Copy(*out[0]);
  std::unique_ptr<Message> gone = Copy(*(*created)[2]);
  ASSERT_TRUE(client_->Delete(KeyOf(*(*created)[2]), "").ok());
  std::unique_ptr<Message> first = Copy(*updated0);
  const Column& column = *writable[0];
  first->GetReflection()->SwapFields(Copy(*(*created)[1]).get(), first.get(), {column.field});
  out.clear();
  absl::Status s = client_->BatchUpdate({{first.get(), {column.name}}, {gone.get(), {column.name}}},
                                        &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_TRUE(absl::StartsWith(s.message(), "requests[1]: ")) << s;
  std::unique_ptr<Message> got = New();
  ASSERT_TRUE(client_->Get(KeyOf(*(*created)[0]), "", got.get()).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*got, *updated0))
      << "a refused batch wrote " << got->ShortDebugString();
  // The same id twice.
  s = client_->BatchUpdate({{first.get(), {column.name}}, {first.get(), {column.name}}}, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(FaultField(s), absl::StrCat("requests[1].", table_->primary_key().path));
}

TEST_P(ConformanceTest, BatchDeleteDeletesEveryEntryOrNone) {
  const absl::StatusOr<Rows> created = BatchCreated(*client_, *table_, 3);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE(client_->Delete(KeyOf(*(*created)[2]), "").ok());
  absl::Status s = client_->BatchDelete({{KeyOf(*(*created)[0]), ""}, {KeyOf(*(*created)[2]), ""}});
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_TRUE(absl::StartsWith(s.message(), "requests[1]: ")) << s;
  std::unique_ptr<Message> got = New();
  EXPECT_TRUE(client_->Get(KeyOf(*(*created)[0]), "", got.get()).ok()) << "a refused batch deleted";
  s = client_->BatchDelete({{KeyOf(*(*created)[0]), ""}, {KeyOf(*(*created)[0]), ""}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(FaultField(s), "requests[1].id");
  ASSERT_TRUE(
      client_->BatchDelete({{KeyOf(*(*created)[1]), ""}, {KeyOf(*(*created)[0]), ""}}).ok());
  const absl::StatusOr<Rows> all = ListAll({});
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
}

// Watches: the events a watch sends, read through its stream.
class WatchConformanceTest : public ConformanceTest {
 protected:
  static const google::protobuf::MethodDescriptor* WatchOf(const Descriptor* type) {
    const auto& service = *Client(type)->service().file()->FindServiceByName(
        Client(type)->service().name());
    for (int m = 0; m < service.method_count(); ++m) {
      if (VerbOf(*service.method(m)) == Verb::kWatch &&
          ResourceOf(*service.method(m), Verb::kWatch) == type) {
        return service.method(m);
      }
    }
    return nullptr;
  }

  // A watch of this suite's resource.
  std::unique_ptr<WatchReader> Watch(const std::string& filter = "",
                                     const std::string& token = "",
                                     const std::vector<std::string>& mask = {}) const {
    const auto* method = WatchOf(GetParam());
    EXPECT_NE(method, nullptr);
    const Message* prototype =
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(method->input_type());
    std::unique_ptr<Message> request(prototype->New());
    const auto* d = request->GetDescriptor();
    const auto* r = request->GetReflection();
    r->SetString(request.get(), d->FindFieldByName("filter"), filter);
    r->SetString(request.get(), d->FindFieldByName("resume_token"), token);
    Message* read_mask = r->MutableMessage(request.get(), d->FindFieldByName("read_mask"));
    for (const std::string& path : mask) {
      read_mask->GetReflection()->AddString(read_mask, read_mask->GetDescriptor()->field(0), path);
    }
    return std::make_unique<WatchReader>(served->channel, method, *request);
  }

  // An event's type ("ADDED"...), its resource (or null) and token.
  static std::string TypeOf(const Message& event) {
    const auto* f = event.GetDescriptor()->FindFieldByName("type");
    return event.GetReflection()->GetEnum(event, f)->name().substr(strlen("CHANGE_TYPE_"));
  }
  const Message* ResourceIn(const Message& event) const {
    const auto* f = event.GetDescriptor()->field(1);
    return event.GetReflection()->HasField(event, f) ? &event.GetReflection()->GetMessage(event, f)
                                                     : nullptr;
  }
  static std::string TokenOf(const Message& event) {
    return event.GetReflection()->GetString(event, event.GetDescriptor()->FindFieldByName(
                                                       "resume_token"));
  }

  // The next event, which must be of `type` about the row with `key`.
  std::unique_ptr<Message> Expect(WatchReader& watch, const std::string& type,
                                  const std::string& key) const {
    std::unique_ptr<Message> event = watch.Next();
    EXPECT_NE(event, nullptr) << "no " << type << " event for " << key << "; the stream "
                              << (watch.Ended(absl::ZeroDuration()).has_value()
                                      ? watch.Ended(absl::ZeroDuration())->error_message()
                                      : "is open");
    if (event == nullptr) return nullptr;
    EXPECT_EQ(TypeOf(*event), type) << event->ShortDebugString();
    const Message* x = ResourceIn(*event);
    EXPECT_NE(x, nullptr) << event->ShortDebugString();
    if (x != nullptr) {
      EXPECT_EQ(KeyText(*x), key) << event->ShortDebugString();
    }
    EXPECT_FALSE(TokenOf(*event).empty());
    return event;
  }

  // A column a filter compares that a caller writes freely (no key, no
  // unique value, no reference).
  const Column* FreeColumn() const {
    for (const Column& column : table_->columns()) {
      if (column.writable() && column.comparable() && !column.primary_key && !column.unique &&
          column.references.empty() && column.random_length == 0 &&
          column.field->containing_oneof() == nullptr && !column.nullable) {
        return &column;
      }
    }
    return nullptr;
  }

  // Sets `column` of the row `key` to its value in `from`.
  absl::Status Set(const Message& row, const Column& column, const Message& from) const {
    std::unique_ptr<Message> change = New();
    CopyKey(row, table_->primary_key().field, change.get(), table_->primary_key().field);
    change->GetReflection()->SwapFields(Copy(from).get(), change.get(), {column.field});
    std::unique_ptr<Message> out = New();
    return client_->Update(*change, {column.name}, out.get());
  }
};

TEST_P(WatchConformanceTest, ASyncedComesFirstThenEveryChange) {
  std::unique_ptr<WatchReader> watch = Watch();
  std::unique_ptr<Message> synced = watch->Next();
  ASSERT_NE(synced, nullptr);
  EXPECT_EQ(TypeOf(*synced), "SYNCED");
  EXPECT_EQ(ResourceIn(*synced), nullptr);
  EXPECT_FALSE(TokenOf(*synced).empty());

  const std::unique_ptr<Message> row = CreateRow(*table_, 1);
  std::unique_ptr<Message> added = Expect(*watch, "ADDED", KeyText(*row));
  ASSERT_NE(added, nullptr);
  std::unique_ptr<Message> got = New();
  ASSERT_TRUE(client_->Get(KeyOf(*row), "", got.get()).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*ResourceIn(*added), *got))
      << ResourceIn(*added)->ShortDebugString() << " vs " << got->ShortDebugString();

  const Column* column = FreeColumn();
  ASSERT_NE(column, nullptr);
  std::unique_ptr<Message> source = New();
  FillRow(*table_, 7, source.get());
  ASSERT_TRUE(Set(*row, *column, *source).ok());
  std::unique_ptr<Message> modified = Expect(*watch, "MODIFIED", KeyText(*row));
  ASSERT_NE(modified, nullptr);
  EXPECT_TRUE(SameField(*ResourceIn(*modified), *source, column->field))
      << ResourceIn(*modified)->ShortDebugString();

  ASSERT_TRUE(client_->Delete(KeyOf(*row), "").ok());
  std::unique_ptr<Message> removed = Expect(*watch, "REMOVED", KeyText(*row));
  ASSERT_NE(removed, nullptr);
  // Only the id.
  std::unique_ptr<Message> key_only = New();
  CopyKey(*row, table_->primary_key().field, key_only.get(), table_->primary_key().field);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*ResourceIn(*removed), *key_only))
      << ResourceIn(*removed)->ShortDebugString();
  // Commit times are the database's, in order.
  const auto time_of = [](const Message& event) {
    const auto* f = event.GetDescriptor()->FindFieldByName("commit_time");
    const Message& t = event.GetReflection()->GetMessage(event, f);
    return t.GetReflection()->GetInt64(t, t.GetDescriptor()->field(0));
  };
  EXPECT_GT(time_of(*added), 0);
  EXPECT_LE(time_of(*added), time_of(*removed));
}

TEST_P(WatchConformanceTest, AFilteredWatchReportsEntryAndExit) {
  const Column* column = FreeColumn();
  ASSERT_NE(column, nullptr);
  std::unique_ptr<Message> one = New(), two = New();
  FillRow(*table_, 1, one.get());
  FillRow(*table_, 2, two.get());
  std::unique_ptr<WatchReader> watch =
      Watch(absl::StrCat(column->name, " = ", Literal(*one, *column)));
  std::unique_ptr<Message> synced = watch->Next();
  ASSERT_NE(synced, nullptr);
  ASSERT_EQ(TypeOf(*synced), "SYNCED");

  const std::unique_ptr<Message> a = CreateRow(*table_, 1);  // matches
  const std::unique_ptr<Message> b = CreateRow(*table_, 2);  // does not
  Expect(*watch, "ADDED", KeyText(*a));
  ASSERT_TRUE(Set(*b, *column, *one).ok());  // b enters
  Expect(*watch, "ADDED", KeyText(*b));
  ASSERT_TRUE(Set(*a, *column, *two).ok());  // a leaves
  std::unique_ptr<Message> left = Expect(*watch, "REMOVED", KeyText(*a));
  ASSERT_TRUE(Set(*a, *column, *two).ok());  // a changes outside: nothing
  ASSERT_TRUE(client_->Delete(KeyOf(*b), "").ok());
  Expect(*watch, "REMOVED", KeyText(*b));
  EXPECT_EQ(watch->Next(absl::Milliseconds(300)), nullptr);
}

TEST_P(WatchConformanceTest, ReadMaskLimitsTheFieldsOfEachEvent) {
  const Column* column = FreeColumn();
  ASSERT_NE(column, nullptr);
  std::unique_ptr<WatchReader> watch = Watch("", "", {column->name});
  ASSERT_NE(watch->Next(), nullptr);
  const std::unique_ptr<Message> row = CreateRow(*table_, 1);
  std::unique_ptr<Message> added = Expect(*watch, "ADDED", KeyText(*row));
  ASSERT_NE(added, nullptr);
  std::unique_ptr<Message> want = New();
  CopyKey(*row, table_->primary_key().field, want.get(), table_->primary_key().field);
  want->GetReflection()->SwapFields(Copy(*row).get(), want.get(), {column->field});
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*ResourceIn(*added), *want))
      << ResourceIn(*added)->ShortDebugString();
}

TEST_P(WatchConformanceTest, AnyEventsTokenResumesJustAfterIt) {
  std::unique_ptr<WatchReader> watch = Watch();
  std::unique_ptr<Message> synced = watch->Next();
  ASSERT_NE(synced, nullptr);
  Rows rows;
  std::vector<std::string> tokens;
  for (int seed = 1; seed <= 3; ++seed) {
    rows.push_back(CreateRow(*table_, seed));
    std::unique_ptr<Message> added = Expect(*watch, "ADDED", KeyText(*rows.back()));
    ASSERT_NE(added, nullptr);
    tokens.push_back(TokenOf(*added));
  }
  watch.reset();
  // From the first event: the second and third; from SYNCED: all three.
  for (const auto& [token, first] :
       std::vector<std::pair<std::string, size_t>>{{tokens[0], 1}, {TokenOf(*synced), 0}}) {
    std::unique_ptr<WatchReader> resumed = Watch("", token);
    std::unique_ptr<Message> again = resumed->Next();
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(TypeOf(*again), "SYNCED");
    EXPECT_EQ(TokenOf(*again), token);
    for (size_t i = first; i < rows.size(); ++i) Expect(*resumed, "ADDED", KeyText(*rows[i]));
  }
}

TEST_P(WatchConformanceTest, BadTokensAndFiltersAreInvalidArgumentNamingTheField) {
  for (const auto& [filter, token, field] : std::vector<std::tuple<std::string, std::string,
                                                                   std::string>>{
           {"", "not-a-token", "resume_token"},
           {"", "AAAA", "resume_token"},
           {"no_such_field = 1", "", "filter"},
           {"(", "", "filter"}}) {
    std::unique_ptr<WatchReader> watch = Watch(filter, token);
    const std::optional<grpc::Status> ended = watch->Ended();
    ASSERT_TRUE(ended.has_value());
    EXPECT_EQ(ended->error_code(), grpc::StatusCode::INVALID_ARGUMENT) << ended->error_message();
    EXPECT_EQ(client::DetailsOf(*ended).field_violations.size(), 1u);
    if (!client::DetailsOf(*ended).field_violations.empty()) {
      EXPECT_EQ(client::DetailsOf(*ended).field_violations[0].first, field);
    }
  }
  // Another resource's token.
  const Descriptor* other = nullptr;
  for (const Descriptor* type : TableMessages()) {
    if (type != GetParam() && WatchOf(type) != nullptr) other = type;
  }
  ASSERT_NE(other, nullptr);
  const auto* method = WatchOf(other);
  std::unique_ptr<Message> request(google::protobuf::MessageFactory::generated_factory()
                                       ->GetPrototype(method->input_type())
                                       ->New());
  WatchReader theirs(served->channel, method, *request);
  std::unique_ptr<Message> synced = theirs.Next();
  ASSERT_NE(synced, nullptr);
  std::unique_ptr<WatchReader> watch = Watch("", TokenOf(*synced));
  const std::optional<grpc::Status> ended = watch->Ended();
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::INVALID_ARGUMENT) << ended->error_message();
}

// The live document's rules (API "Live CRDT documents"), over every
// resource that has one.
std::vector<const Descriptor*> DocumentMessages() {
  std::vector<const Descriptor*> messages;
  for (const Descriptor* message : TableMessages()) {
    if (HasDocument(message)) messages.push_back(message);
  }
  return messages;
}

class DocumentConformanceTest : public ConformanceTest {
 protected:
  void SetUp() override {
    ConformanceTest::SetUp();
    document_ = table_->document();
    ASSERT_NE(document_, nullptr);
    row_ = CreateRow(*table_, 1);
    key_ = KeyOf(*row_);
  }

  // The method of `verb` on this suite's resource.
  const google::protobuf::MethodDescriptor* MethodOf(Verb verb) const {
    const auto& service = client_->service();
    for (int m = 0; m < service.method_count(); ++m) {
      if (VerbOf(*service.method(m)) == verb) return service.method(m);
    }
    return nullptr;
  }

  // A request of `verb` for the document `key` (this suite's row's).
  std::unique_ptr<Message> Request(Verb verb) const {
    const auto* method = MethodOf(verb);
    EXPECT_NE(method, nullptr);
    std::unique_ptr<Message> request(google::protobuf::MessageFactory::generated_factory()
                                         ->GetPrototype(method->input_type())
                                         ->New());
    const FieldDescriptor* key = request->GetDescriptor()->field(0);
    CopyKey(*row_, table_->primary_key().field, request.get(), key);
    return request;
  }
  void SetInt(Message* request, const std::string& name, int64_t value) const {
    request->GetReflection()->SetInt64(request, request->GetDescriptor()->FindFieldByName(name),
                                       value);
  }

  // A watch of the document after `after`.
  std::unique_ptr<WatchReader> WatchUpdates(int64_t after) const {
    std::unique_ptr<Message> request = Request(Verb::kWatchUpdates);
    SetInt(request.get(), "after_seq", after);
    return std::make_unique<WatchReader>(served->channel, MethodOf(Verb::kWatchUpdates),
                                         *request);
  }
  // The next streamed update's seq and bytes ("" when none came).
  std::pair<int64_t, std::string> NextUpdate(WatchReader& watch) const {
    std::unique_ptr<Message> next = watch.Next();
    if (next == nullptr) return {0, ""};
    const auto* d = next->GetDescriptor();
    return {next->GetReflection()->GetInt64(*next, d->FindFieldByName("seq")),
            next->GetReflection()->GetString(*next, d->FindFieldByName("update"))};
  }

  int64_t Counter(const Column* column) const {
    std::unique_ptr<Message> now = New();
    EXPECT_TRUE(client_->Get(key_, "", now.get()).ok());
    return now->GetReflection()->GetInt64(*now, column->field);
  }
  std::vector<int64_t> Seqs(int64_t after) const {
    absl::StatusOr<std::vector<client::DocumentUpdate>> updates =
        client_->ListUpdates(key_, after);
    EXPECT_TRUE(updates.ok()) << updates.status();
    std::vector<int64_t> seqs;
    if (updates.ok()) {
      for (const auto& update : *updates) seqs.push_back(update.seq);
    }
    return seqs;
  }
  void Append(int n) const {
    for (int i = 0; i < n; ++i) {
      absl::StatusOr<client::DocumentUpdate> appended =
          client_->AppendUpdate(key_, absl::StrCat("update ", i));
      ASSERT_TRUE(appended.ok()) << appended.status();
    }
  }
  // The stored updates of every document, as the server's table holds them.
  int64_t StoredUpdates() const {
    return served->database->Exec("SELECT count(*) FROM protomodel_document_updates")[0][0]
        .as<int64_t>();
  }

  const db::Document* document_ = nullptr;
  std::unique_ptr<Message> row_;
  client::Key key_;
};

// Appends take 1, 2, 3, ..., set update_seq and change the etag; List
// returns them in order, paged; a request_id makes a retry take no new seq.
TEST_P(DocumentConformanceTest, AppendsTakeTheNextSeqAndListInOrder) {
  const std::string etag = row_->GetReflection()->GetString(*row_, table_->etag()->field);
  for (int i = 1; i <= 5; ++i) {
    absl::StatusOr<client::DocumentUpdate> appended =
        client_->AppendUpdate(key_, absl::StrCat("update ", i));
    ASSERT_TRUE(appended.ok()) << appended.status();
    EXPECT_EQ(appended->seq, i);
    EXPECT_EQ(appended->data, absl::StrCat("update ", i));
    EXPECT_GT(appended->created_at, absl::Now() - absl::Minutes(5));
  }
  std::unique_ptr<Message> now = New();
  ASSERT_TRUE(client_->Get(key_, "", now.get()).ok());
  EXPECT_EQ(now->GetReflection()->GetInt64(*now, document_->update_seq->field), 5);
  EXPECT_EQ(now->GetReflection()->GetInt64(*now, document_->compacted_seq->field), 0);
  EXPECT_NE(now->GetReflection()->GetString(*now, table_->etag()->field), etag);

  EXPECT_EQ(Seqs(0), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(Seqs(3), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(Seqs(5), (std::vector<int64_t>{}));
  // Paged: two at a time, each token going on from the last.
  std::vector<client::DocumentUpdate> paged;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<std::string> next = client_->ListUpdatesPage(key_, 0, 2, token, &paged);
    ASSERT_TRUE(next.ok()) << next.status();
    token = *next;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(paged.size(), 5u);
  EXPECT_EQ(paged[4].data, "update 5");
  // A token is the request's own.
  std::vector<client::DocumentUpdate> ignored;
  absl::StatusOr<std::string> first = client_->ListUpdatesPage(key_, 0, 2, "", &ignored);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(client_->ListUpdatesPage(key_, 1, 2, *first, &ignored).status().code(),
            absl::StatusCode::kInvalidArgument);

  // A retry with the request_id: the same seq, nothing stored again.
  const std::string request_id = "6d2f9a8e-1c4b-4f7a-9e3d-2b5c8a1f0e47";
  absl::StatusOr<client::DocumentUpdate> once = client_->AppendUpdate(key_, "x", request_id);
  absl::StatusOr<client::DocumentUpdate> twice = client_->AppendUpdate(key_, "x", request_id);
  ASSERT_TRUE(once.ok() && twice.ok()) << once.status() << twice.status();
  EXPECT_EQ(once->seq, 6);
  EXPECT_EQ(twice->seq, 6);
  EXPECT_EQ(Counter(document_->update_seq), 6);
}

TEST_P(DocumentConformanceTest, BadRequestsNameTheField) {
  const auto expect = [](const absl::Status& status, absl::StatusCode code,
                         const std::string& field) {
    EXPECT_EQ(status.code(), code) << status;
    if (!field.empty()) {
      EXPECT_TRUE(absl::StrContains(status.message(), field)) << status;
    }
  };
  expect(client_->AppendUpdate(key_, "").status(), absl::StatusCode::kInvalidArgument, "update");
  expect(client_->AppendUpdate(key_, std::string(16 * 1024 * 1024 + 1, 'x')).status(),
         absl::StatusCode::kInvalidArgument, "update");
  expect(client_->AppendUpdate(key_, "x", "not-a-uuid").status(),
         absl::StatusCode::kInvalidArgument, "request_id");
  expect(client_->ListUpdates(key_, -1).status(), absl::StatusCode::kInvalidArgument,
         "after_seq");
  expect(client_->ListUpdates(key_, 1).status(), absl::StatusCode::kOutOfRange, "after_seq");
  std::unique_ptr<Message> out = New();
  expect(client_->Compact(key_, 0, "s", out.get()), absl::StatusCode::kInvalidArgument,
         "through_seq");
  expect(client_->Compact(key_, 1, "s", out.get()), absl::StatusCode::kOutOfRange,
         "through_seq");
  // A key that is not one, and a document that is not there.
  const client::Key bad = std::holds_alternative<int64_t>(key_) ? client::Key(int64_t{-1})
                                                                : client::Key("nope");
  expect(client_->AppendUpdate(bad, "x").status(), absl::StatusCode::kInvalidArgument, "_id");
  ASSERT_TRUE(client_->Delete(key_, "").ok());
  expect(client_->AppendUpdate(key_, "x").status(), absl::StatusCode::kNotFound, "");
  expect(client_->ListUpdates(key_, 0).status(), absl::StatusCode::kNotFound, "");
  expect(client_->Compact(key_, 1, "s", out.get()), absl::StatusCode::kNotFound, "");
  std::unique_ptr<WatchReader> watch = WatchUpdates(0);
  const std::optional<grpc::Status> ended = watch->Ended();
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::NOT_FOUND) << ended->error_message();
}

// Compaction swaps the state in and drops the updates it merged; a second
// compaction that far is ABORTED; readers below compacted_seq must reload.
TEST_P(DocumentConformanceTest, CompactionReplacesMergedUpdates) {
  Append(4);
  std::unique_ptr<Message> out = New();
  ASSERT_TRUE(client_->Compact(key_, 3, "merged through 3", out.get()).ok());
  EXPECT_EQ(out->GetReflection()->GetString(*out, document_->state->field), "merged through 3");
  EXPECT_EQ(out->GetReflection()->GetInt64(*out, document_->compacted_seq->field), 3);
  EXPECT_EQ(out->GetReflection()->GetInt64(*out, document_->update_seq->field), 4);
  std::unique_ptr<Message> now = New();
  ASSERT_TRUE(client_->Get(key_, "", now.get()).ok());
  EXPECT_EQ(now->GetReflection()->GetString(*now, document_->state->field), "merged through 3");
  EXPECT_EQ(Seqs(3), (std::vector<int64_t>{4}));
  EXPECT_EQ(client_->ListUpdates(key_, 2).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(StoredUpdates(), 1);

  EXPECT_EQ(client_->Compact(key_, 3, "again", out.get()).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(client_->Compact(key_, 2, "older", out.get()).code(), absl::StatusCode::kAborted);
  ASSERT_TRUE(client_->Get(key_, "", now.get()).ok());
  EXPECT_EQ(now->GetReflection()->GetString(*now, document_->state->field), "merged through 3");
  EXPECT_EQ(client_->Compact(key_, 5, "ahead", out.get()).code(), absl::StatusCode::kOutOfRange);
  // The next append goes on from update_seq.
  absl::StatusOr<client::DocumentUpdate> next = client_->AppendUpdate(key_, "five");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->seq, 5);
}

// Writing the state through Update replaces the document: without the etag
// while updates wait it is FAILED_PRECONDITION (nothing written); with it,
// it takes the next seq, drops the log and ends the watches OUT_OF_RANGE.
TEST_P(DocumentConformanceTest, ReplacingTheStateNeedsTheEtagAndEndsWatches) {
  Append(2);
  std::unique_ptr<Message> read = New();
  ASSERT_TRUE(client_->Get(key_, "", read.get()).ok());
  std::unique_ptr<WatchReader> watch = WatchUpdates(0);
  EXPECT_EQ(NextUpdate(*watch).first, 1);
  EXPECT_EQ(NextUpdate(*watch).first, 2);

  std::unique_ptr<Message> replace = New();
  replace->CopyFrom(*read);
  replace->GetReflection()->SetString(replace.get(), document_->state->field, "replaced");
  replace->GetReflection()->SetString(replace.get(), table_->etag()->field, "");
  std::unique_ptr<Message> out = New();
  const absl::Status refused = client_->Update(*replace, {document_->state->name}, out.get());
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  // A batch is held to the same rule.
  std::vector<std::unique_ptr<Message>> rows;
  const absl::Status batch_refused =
      client_->BatchUpdate({{replace.get(), {document_->state->name}}}, &rows);
  EXPECT_EQ(batch_refused.code(), absl::StatusCode::kFailedPrecondition) << batch_refused;
  EXPECT_EQ(Seqs(0), (std::vector<int64_t>{1, 2}));

  replace->GetReflection()->SetString(
      replace.get(), table_->etag()->field,
      read->GetReflection()->GetString(*read, table_->etag()->field));
  ASSERT_TRUE(client_->Update(*replace, {document_->state->name}, out.get()).ok());
  EXPECT_EQ(out->GetReflection()->GetInt64(*out, document_->update_seq->field), 3);
  EXPECT_EQ(out->GetReflection()->GetInt64(*out, document_->compacted_seq->field), 3);
  EXPECT_EQ(Seqs(3), (std::vector<int64_t>{}));
  EXPECT_EQ(StoredUpdates(), 0);
  const std::optional<grpc::Status> ended = watch->Ended();
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::OUT_OF_RANGE) << ended->error_message();
  // With nothing waiting, no etag is needed.
  replace->GetReflection()->SetString(replace.get(), table_->etag()->field, "");
  EXPECT_TRUE(client_->Update(*replace, {document_->state->name}, out.get()).ok());
}

// A watch sends the backlog after after_seq, then each append as it
// commits; deleting the document ends it NOT_FOUND and drops its updates.
TEST_P(DocumentConformanceTest, WatchSendsBacklogThenLiveUpdatesUntilDeleted) {
  Append(3);
  std::unique_ptr<WatchReader> watch = WatchUpdates(1);
  EXPECT_EQ(NextUpdate(*watch), std::make_pair(int64_t{2}, std::string("update 1")));
  EXPECT_EQ(NextUpdate(*watch).first, 3);
  ASSERT_TRUE(client_->AppendUpdate(key_, "live").ok());
  EXPECT_EQ(NextUpdate(*watch), std::make_pair(int64_t{4}, std::string("live")));
  EXPECT_EQ(watch->pending(), 0u);

  std::unique_ptr<WatchReader> ahead = WatchUpdates(5);
  const std::optional<grpc::Status> refused = ahead->Ended();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->error_code(), grpc::StatusCode::OUT_OF_RANGE);

  ASSERT_TRUE(client_->Delete(key_, "").ok());
  const std::optional<grpc::Status> ended = watch->Ended();
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::NOT_FOUND) << ended->error_message();
  EXPECT_EQ(StoredUpdates(), 0);
}

INSTANTIATE_TEST_SUITE_P(EveryDocument, DocumentConformanceTest,
                         ::testing::ValuesIn(DocumentMessages()), ResourceName);

INSTANTIATE_TEST_SUITE_P(EveryResource, WatchConformanceTest,
                         ::testing::ValuesIn(TableMessages()), ResourceName);

INSTANTIATE_TEST_SUITE_P(EveryResource, ConformanceTest, ::testing::ValuesIn(TableMessages()),
                         ResourceName);

}  // namespace
}  // namespace protomodel::testing
