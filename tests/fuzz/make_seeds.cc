// Writes the binary seeds of the fuzz corpus: page tokens made by the
// project's own encoder (fuzz_page_token) and serialized rows of every table
// (fuzz_mapper), in the input formats those targets document.
//   make_fuzz_seeds tests/fuzz/corpus
// The text seeds (filters, order_by strings) are written by hand.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <google/protobuf/timestamp.pb.h>

#include "absl/strings/str_cat.h"
#include "db/sql/order_by.h"
#include "db/sql/page_token.h"
#include "fuzz_common.h"

namespace protomodel::fuzz {
namespace {

using google::protobuf::Message;

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) {
    std::fprintf(stderr, "make_fuzz_seeds: cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

// A plausible row: every column set (nullable ones only when `optionals`).
std::unique_ptr<Message> SampleRow(const db::TableSchema& table, bool optionals) {
  std::unique_ptr<Message> row(google::protobuf::MessageFactory::generated_factory()
                                   ->GetPrototype(table.descriptor())
                                   ->New());
  const google::protobuf::Reflection* r = row->GetReflection();
  for (const db::Column& column : table.columns()) {
    if (column.nullable && !optionals) continue;
    const auto* f = column.field;
    switch (column.type) {
      case db::ColumnType::kBool:
        r->SetBool(row.get(), f, true);
        break;
      case db::ColumnType::kInt32:
        r->SetInt32(row.get(), f, 30);
        break;
      case db::ColumnType::kInt64:
        r->SetInt64(row.get(), f, 7);
        break;
      case db::ColumnType::kFloat:
        r->SetFloat(row.get(), f, 2.5f);
        break;
      case db::ColumnType::kDouble:
        r->SetDouble(row.get(), f, 1.25);
        break;
      case db::ColumnType::kString:
        r->SetString(row.get(), f, column.server_default == v1::SERVER_DEFAULT_VERSION
                                       ? "6d1c9a2e-etag"
                                       : "Deadpond \"Dive\" Wilson*");
        break;
      case db::ColumnType::kUuid:
        r->SetString(row.get(), f, "3F2504E0-4F89-41D3-9A0C-0305E82C3301");
        break;
      case db::ColumnType::kBytes:
        r->SetString(row.get(), f, std::string("\x01\x00\xffyjs", 6));
        break;
      case db::ColumnType::kTimestamp: {
        auto* ts = static_cast<google::protobuf::Timestamp*>(r->MutableMessage(row.get(), f));
        ts->set_seconds(1704164645);  // 2024-01-02T03:04:05Z
        ts->set_nanos(678901000);
        break;
      }
      default:  // the built-in resources have no other types
        break;
    }
  }
  return row;
}

void PageTokens(const std::string& dir) {
  for (size_t i = 0; i < kQueryCount; ++i) {
    const Query& query = kQueries[i];
    const db::TableSchema& table = Table(query.table);
    absl::StatusOr<std::vector<db::OrderKey>> keys = db::ParseOrderBy(query.order_by, table);
    if (!keys.ok()) Fail("seed order_by parses", keys.status().ToString());
    bool nullable = false;
    for (const db::OrderKey& key : *keys) nullable = nullable || key.column->nullable;
    for (bool optionals : {true, false}) {
      if (!optionals && !nullable) continue;  // the same token
      v1::PageToken token;
      token.set_query_digest(db::QueryDigest(table.name(), "", query.order_by));
      for (v1::KeyValue& value : db::KeyValuesOf(*SampleRow(table, optionals), *keys)) {
        *token.add_keys() = std::move(value);
      }
      const std::string name = absl::StrCat(dir, "/", table.name(), "_", i,
                                            optionals ? "" : "_nulls");
      // As a caller sends it; for a few, also as the payload the target
      // encodes itself.
      Write(name + ".token", std::string(1, static_cast<char>(i)) + db::EncodePageToken(token));
      if (optionals && (i % 4 == 1 || query.table == "widget")) {
        Write(name + ".payload",
              std::string(1, static_cast<char>(0x80 | i)) + token.SerializeAsString());
      }
    }
  }
}

void Rows(const std::string& dir) {
  const auto& tables = Tables();
  for (size_t t = 0; t < tables.size(); ++t) {
    const db::TableSchema& table = *tables[t];
    std::vector<char> writable;
    for (const db::Column& column : table.columns()) {
      if (column.writable()) writable.push_back(static_cast<char>(writable.size()));
    }
    const std::string row = SampleRow(table, true)->SerializeAsString();
    const std::string sparse = SampleRow(table, false)->SerializeAsString();
    const std::string name = absl::StrCat(dir, "/", table.name());
    const char tc = static_cast<char>(t);
    // No mask (the set fields).
    Write(name + "_set", std::string{tc, 0, 0} + row);
    // "*", without sending the etag.
    if (table.etag() != nullptr) Write(name + "_all_noetag", std::string{tc, 10, 0} + sparse);
    // An explicit mask, writable columns in reverse order.
    std::string reversed(writable.rbegin(), writable.rend());
    Write(name + "_mask",
          std::string{tc, 4, static_cast<char>(reversed.size())} + reversed + row);
    // Fields filled from bytes.
    Write(name + "_fill", std::string{tc, 1, 0} + std::string(48, '\x5a'));
  }
}

}  // namespace
}  // namespace protomodel::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds CORPUS_DIR (tests/fuzz/corpus)\n");
    return 64;
  }
  const std::string dir = argv[1];
  protomodel::fuzz::PageTokens(dir + "/page_token");
  protomodel::fuzz::Rows(dir + "/mapper");
  return 0;
}
