#ifndef PROTOMODEL_DB_SCHEMA_SCHEMA_H_
#define PROTOMODEL_DB_SCHEMA_SCHEMA_H_

#include <memory>
#include <regex>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include <google/protobuf/descriptor.h>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "protomodel/v1/options.pb.h"

namespace protomodel::db {

// How a column's values travel between the wire and SQL. For a repeated
// field, the type of each element (the column is an array of it).
enum class ColumnType {
  kBool,       // boolean
  kInt32,      // integer
  kInt64,      // bigint
  kUint32,     // bigint (every uint32 fits)
  kUint64,     // numeric(20,0): 0..2^64-1 exactly, compared as numbers
  kFloat,      // real
  kDouble,     // double precision
  kEnum,       // integer: the value's number (filters name values)
  kString,     // text COLLATE "C"
  kUuid,       // uuid, a lower-case string on the wire
  kBytes,      // bytea, sent as a binary parameter
  kTimestamp,  // timestamptz, google.protobuf.Timestamp on the wire
  kDuration,   // interval, google.protobuf.Duration on the wire
  kJson,       // jsonb: a nested message, a map or a repeated message, whole
};

// One field of a table message that is stored as a column. Column names are
// the field names.
struct Column {
  const google::protobuf::FieldDescriptor* field = nullptr;
  std::string name;
  std::string quoted;  // "name", ready for SQL
  std::string path;    // "book.title": the field's path in requests and errors
  ColumnType type = ColumnType::kString;
  // An array of `type` (a repeated scalar or enum field); never NULL.
  bool repeated = false;
  // A google.protobuf wrapper (Int32Value...): `type` is its `value`'s.
  bool wrapper = false;
  // Unset <-> NULL: proto3 `optional` and message-typed fields (but those
  // the server always fills).
  bool nullable = false;
  bool primary_key = false;
  bool output_only = false;
  bool required = false;
  bool unique = false;
  bool index = false;
  protomodel::v1::KeyGeneration generated =
      protomodel::v1::KEY_GENERATION_UNSPECIFIED;
  protomodel::v1::ServerDefault server_default =
      protomodel::v1::SERVER_DEFAULT_UNSPECIFIED;
  std::string references;  // the referenced table, "" when no foreign key
  protomodel::v1::OnDelete on_delete = protomodel::v1::ON_DELETE_UNSPECIFIED;
  // Text written must match `pattern` whole (compiled), when one is set.
  std::string pattern;
  std::shared_ptr<const std::regex> pattern_regex;
  // A create leaving the column empty gets this many random characters.
  int random_length = 0;
  // The part of the table's live document it holds, if any.
  protomodel::v1::DocumentPart document = protomodel::v1::DOCUMENT_PART_UNSPECIFIED;

  // Callers may write it (create, update masks).
  bool writable() const { return !output_only; }
  // It may be compared in filters and ordered by (not bytes, JSON, arrays
  // or an etag).
  bool comparable() const {
    return !repeated && type != ColumnType::kBytes && type != ColumnType::kJson &&
           server_default != protomodel::v1::SERVER_DEFAULT_VERSION;
  }
  // A key: ids (integers) are > 0.
  bool is_key() const { return primary_key || !references.empty(); }
};

class TableSchema;

// A table's live document: its state and the two sequence numbers.
struct Document {
  const Column* state = nullptr;
  const Column* update_seq = nullptr;
  const Column* compacted_seq = nullptr;
};

// A message field filled from another table in a detailed view.
struct Relation {
  const google::protobuf::FieldDescriptor* field = nullptr;
  const TableSchema* target = nullptr;
  // Singular: this table's column holding the target's primary key.
  const Column* local = nullptr;
  // Repeated: the target's column holding this table's primary key.
  const Column* remote = nullptr;
  int limit = 0;
};

// What the mapping options of one message say about its table.
class TableSchema {
 public:
  const google::protobuf::Descriptor* descriptor() const { return descriptor_; }
  const std::string& name() const { return name_; }
  const std::string& quoted_name() const { return quoted_name_; }
  // The request field a resource travels in, and the start of its fields'
  // paths in errors: the message name in lower snake case ("book_review"),
  // whatever the table is called.
  const std::string& path() const { return path_; }
  const std::vector<Column>& columns() const { return columns_; }
  const Column& primary_key() const { return columns_[primary_key_index_]; }
  const std::vector<Relation>& relations() const { return relations_; }
  // The column with that name, or nullptr.
  const Column* FindColumn(absl::string_view name) const;
  // The column holding the etag (SERVER_DEFAULT_VERSION), or nullptr.
  const Column* etag() const;
  // The live document, or nullptr when the table holds none.
  const Document* document() const { return document_.state != nullptr ? &document_ : nullptr; }
  int ColumnIndex(const Column& column) const {
    return static_cast<int>(&column - columns_.data());
  }
  // Which columns `subset` (columns of this table) holds, by column index.
  std::vector<bool> ColumnSet(const std::vector<const Column*>& subset) const;
  // Whether `set` (a ColumnSet) holds `column`.
  bool Holds(const std::vector<bool>& set, const Column& column) const {
    return set[static_cast<size_t>(ColumnIndex(column))];
  }

 private:
  friend class Schema;
  const google::protobuf::Descriptor* descriptor_ = nullptr;
  std::string name_;
  std::string quoted_name_;
  std::string path_;
  std::vector<Column> columns_;
  size_t primary_key_index_ = 0;
  std::vector<Relation> relations_;
  Document document_;
};

// Every table of the service, built once at start-up from the messages'
// options. Errors name the message and field whose options are wrong.
class Schema {
 public:
  // Reads the tables of `messages` (and of the messages their relations
  // name, which must be among them).
  static absl::StatusOr<std::unique_ptr<Schema>> Build(
      const std::vector<const google::protobuf::Descriptor*>& messages);

  const TableSchema* Find(const google::protobuf::Descriptor* message) const;
  const TableSchema* FindByName(absl::string_view table) const;
  const std::vector<std::unique_ptr<TableSchema>>& tables() const {
    return tables_;
  }

  // Constraint names, as the migrations spell them.
  static std::string UniqueConstraintName(const TableSchema& table,
                                          const Column& column);
  static std::string ForeignKeyName(const TableSchema& table,
                                    const Column& column);

  // The table and column a constraint name belongs to, or {nullptr,nullptr}.
  std::pair<const TableSchema*, const Column*> FindConstraint(
      absl::string_view constraint) const;

 private:
  // Finds `table`'s live document parts and checks they fit.
  static absl::Status SetDocument(TableSchema* table);

  std::vector<std::unique_ptr<TableSchema>> tables_;
  absl::flat_hash_map<std::string, std::pair<const TableSchema*, const Column*>>
      constraints_;
};

// `identifier` in double quotes, inner quotes doubled.
std::string QuoteIdentifier(absl::string_view identifier);
// `text` as an SQL string literal: in single quotes, inner quotes doubled.
std::string QuoteLiteral(absl::string_view text);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_SCHEMA_SCHEMA_H_
