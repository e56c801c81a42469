#include "db/schema/schema.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "protomodel/names.h"

namespace protomodel::db {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

absl::Status FieldError(const FieldDescriptor* field, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("field ", field->full_name(), ": ", what));
}

// The column type of one value of `field` (of each element when repeated).
ColumnType ScalarType(const FieldDescriptor* field,
                      const protomodel::v1::ColumnOptions& opts) {
  switch (field->type()) {
    case FieldDescriptor::TYPE_BOOL:
      return ColumnType::kBool;
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_SINT32:
    case FieldDescriptor::TYPE_SFIXED32:
      return ColumnType::kInt32;
    case FieldDescriptor::TYPE_INT64:
    case FieldDescriptor::TYPE_SINT64:
    case FieldDescriptor::TYPE_SFIXED64:
      return ColumnType::kInt64;
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_FIXED32:
      return ColumnType::kUint32;
    case FieldDescriptor::TYPE_UINT64:
    case FieldDescriptor::TYPE_FIXED64:
      return ColumnType::kUint64;
    case FieldDescriptor::TYPE_FLOAT:
      return ColumnType::kFloat;
    case FieldDescriptor::TYPE_DOUBLE:
      return ColumnType::kDouble;
    case FieldDescriptor::TYPE_ENUM:
      return ColumnType::kEnum;
    case FieldDescriptor::TYPE_STRING:
      return opts.uuid() || opts.generated() == protomodel::v1::KEY_GENERATION_UUID
                 ? ColumnType::kUuid
                 : ColumnType::kString;
    case FieldDescriptor::TYPE_BYTES:
      return ColumnType::kBytes;
    default:
      return ColumnType::kJson;  // messages and groups
  }
}

// Sets how `column` stores `field`: a scalar, an array of scalars, a
// well-known message as its SQL type, or JSON.
void SetType(const FieldDescriptor* field, const protomodel::v1::ColumnOptions& opts,
             Column* column) {
  if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
    column->type = ScalarType(field, opts);
    column->repeated = field->is_repeated();
    return;
  }
  column->type = ColumnType::kJson;
  if (field->is_repeated()) return;  // maps and repeated messages
  const Descriptor* message = field->message_type();
  const std::string& name = message->full_name();
  if (name == "google.protobuf.Timestamp") {
    column->type = ColumnType::kTimestamp;
  } else if (name == "google.protobuf.Duration") {
    column->type = ColumnType::kDuration;
  } else if (absl::StartsWith(name, "google.protobuf.") && absl::EndsWith(name, "Value") &&
             message->field_count() == 1 && message->field(0)->name() == "value" &&
             message->field(0)->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE &&
             !message->field(0)->is_repeated()) {
    column->type = ScalarType(message->field(0), opts);
    column->wrapper = true;
  }
}

}  // namespace

absl::Status Schema::SetDocument(TableSchema* table) {
  Document& document = table->document_;
  for (const Column& column : table->columns_) {
    const Column** part = nullptr;
    bool fits = !column.repeated && !column.nullable;
    switch (column.document) {
      case protomodel::v1::DOCUMENT_STATE:
        part = &document.state;
        fits = fits && column.type == ColumnType::kBytes;
        break;
      case protomodel::v1::DOCUMENT_UPDATE_SEQ:
        part = &document.update_seq;
        fits = fits && column.type == ColumnType::kInt64;
        break;
      case protomodel::v1::DOCUMENT_COMPACTED_SEQ:
        part = &document.compacted_seq;
        fits = fits && column.type == ColumnType::kInt64;
        break;
      default:
        continue;
    }
    if (!fits) {
      return FieldError(column.field, absl::StrCat(
          protomodel::v1::DocumentPart_Name(column.document),
          column.document == protomodel::v1::DOCUMENT_STATE
              ? " must be a singular bytes field"
              : " must be a singular int64 field"));
    }
    if (*part != nullptr) {
      return FieldError(column.field,
                        absl::StrCat("a second ", protomodel::v1::DocumentPart_Name(column.document)));
    }
    *part = &column;
  }
  const int parts = (document.state != nullptr) + (document.update_seq != nullptr) +
                    (document.compacted_seq != nullptr);
  if (parts != 0 && parts != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "message ", table->descriptor_->full_name(),
        ": a live document needs all three of DOCUMENT_STATE, DOCUMENT_UPDATE_SEQ and "
        "DOCUMENT_COMPACTED_SEQ"));
  }
  if (parts == 3 && table->etag() == nullptr) {
    // Appends change the etag, and a replace racing them needs one.
    return absl::InvalidArgumentError(absl::StrCat(
        "message ", table->descriptor_->full_name(),
        ": a live document needs an etag (a string field with server_default: "
        "SERVER_DEFAULT_VERSION)"));
  }
  return absl::OkStatus();
}

std::string QuoteIdentifier(absl::string_view identifier) {
  return absl::StrCat("\"", absl::StrReplaceAll(identifier, {{"\"", "\"\""}}),
                      "\"");
}

std::string QuoteLiteral(absl::string_view text) {
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "''"}}), "'");
}

const Column* TableSchema::FindColumn(absl::string_view name) const {
  for (const Column& column : columns_) {
    if (column.name == name) return &column;
  }
  return nullptr;
}

std::vector<bool> TableSchema::ColumnSet(const std::vector<const Column*>& subset) const {
  std::vector<bool> set(columns_.size(), false);
  for (const Column* column : subset) set[static_cast<size_t>(ColumnIndex(*column))] = true;
  return set;
}

const Column* TableSchema::etag() const {
  for (const Column& column : columns_) {
    if (column.server_default == protomodel::v1::SERVER_DEFAULT_VERSION) {
      return &column;
    }
  }
  return nullptr;
}

std::string Schema::UniqueConstraintName(const TableSchema& table,
                                         const Column& column) {
  return absl::StrCat(table.name(), "_", column.name, "_key");
}

std::string Schema::ForeignKeyName(const TableSchema& table,
                                   const Column& column) {
  return absl::StrCat(table.name(), "_", column.name, "_fkey");
}

const TableSchema* Schema::Find(const Descriptor* message) const {
  for (const auto& table : tables_) {
    if (table->descriptor() == message) return table.get();
  }
  return nullptr;
}

const TableSchema* Schema::FindByName(absl::string_view name) const {
  for (const auto& table : tables_) {
    if (table->name() == name) return table.get();
  }
  return nullptr;
}

std::pair<const TableSchema*, const Column*> Schema::FindConstraint(
    absl::string_view constraint) const {
  auto it = constraints_.find(constraint);
  if (it == constraints_.end()) return {nullptr, nullptr};
  return it->second;
}

absl::StatusOr<std::unique_ptr<Schema>> Schema::Build(
    const std::vector<const Descriptor*>& messages) {
  auto schema = std::make_unique<Schema>();
  for (const Descriptor* message : messages) {
    if (!message->options().HasExtension(protomodel::v1::table)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "message ", message->full_name(), " has no (protomodel.v1.table) option"));
    }
    auto table = std::make_unique<TableSchema>();
    table->descriptor_ = message;
    table->name_ = message->options().GetExtension(protomodel::v1::table).name();
    if (table->name_.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("message ", message->full_name(), ": table name is empty"));
    }
    table->quoted_name_ = QuoteIdentifier(table->name_);
    table->path_ = LowerSnake(message->name());
    bool has_primary_key = false;
    for (int i = 0; i < message->field_count(); ++i) {
      const FieldDescriptor* field = message->field(i);
      const protomodel::v1::ColumnOptions& opts =
          field->options().GetExtension(protomodel::v1::column);
      if (opts.has_relation()) continue;
      Column column;
      column.field = field;
      column.name = field->name();
      column.quoted = QuoteIdentifier(field->name());
      column.path = absl::StrCat(table->path_, ".", field->name());
      SetType(field, opts, &column);
      column.server_default = opts.server_default();
      // Message-typed fields have presence; those the server fills never
      // lack a value.
      column.nullable = field->has_optional_keyword() ||
                        (!field->is_repeated() &&
                         field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
                         column.server_default == protomodel::v1::SERVER_DEFAULT_UNSPECIFIED);
      column.primary_key = opts.primary_key();
      column.generated = opts.generated();
      column.output_only = opts.output_only() ||
                           column.server_default !=
                               protomodel::v1::SERVER_DEFAULT_UNSPECIFIED ||
                           (column.primary_key &&
                            column.generated !=
                                protomodel::v1::KEY_GENERATION_UNSPECIFIED);
      column.document = opts.document();
      if (column.document == protomodel::v1::DOCUMENT_UPDATE_SEQ ||
          column.document == protomodel::v1::DOCUMENT_COMPACTED_SEQ) {
        column.output_only = true;  // the server's to count
      }
      column.required = opts.required();
      column.unique = opts.unique();
      column.index = opts.index();
      if (!opts.pattern().empty() || opts.random_length() != 0) {
        if (column.type != ColumnType::kString || column.repeated) {
          return FieldError(field, "pattern and random_length apply to string fields only");
        }
        if (opts.random_length() < 0 || opts.random_length() > 1024) {
          return FieldError(field, "random_length must be 1 to 1024");
        }
        column.random_length = opts.random_length();
      }
      if (!opts.pattern().empty()) {
        column.pattern = opts.pattern();
        try {
          column.pattern_regex = std::make_shared<const std::regex>(
              opts.pattern(), std::regex::ECMAScript | std::regex::optimize);
        } catch (const std::regex_error& e) {
          return FieldError(field, absl::StrCat("pattern '", opts.pattern(),
                                                "' is not a regular expression: ", e.what()));
        }
      }
      if (opts.has_foreign_key()) {
        column.references = opts.foreign_key().table();
        column.on_delete = opts.foreign_key().on_delete();
        if (column.on_delete == protomodel::v1::ON_DELETE_SET_NULL &&
            !column.nullable) {
          return FieldError(field, "ON DELETE SET NULL needs an optional field");
        }
      }
      if (column.primary_key || !column.references.empty()) {
        const bool key_type = column.type == ColumnType::kInt32 ||
                              column.type == ColumnType::kInt64 ||
                              column.type == ColumnType::kString ||
                              column.type == ColumnType::kUuid;
        if (!key_type || column.repeated || column.wrapper ||
            (column.primary_key && column.nullable)) {
          return FieldError(field, "a key must be a singular int32, int64 or string field");
        }
      }
      if (column.primary_key) {
        if (has_primary_key) return FieldError(field, "a second primary key");
        has_primary_key = true;
        table->primary_key_index_ = table->columns_.size();
      }
      table->columns_.push_back(std::move(column));
    }
    if (absl::Status s = SetDocument(table.get()); !s.ok()) return s;
    if (!has_primary_key) {
      return absl::InvalidArgumentError(
          absl::StrCat("message ", message->full_name(), " has no primary key"));
    }
    schema->tables_.push_back(std::move(table));
  }

  // Relations and foreign keys name other tables: resolve them now that all
  // tables are known.
  for (auto& table : schema->tables_) {
    const Column& pk = table->primary_key();
    schema->constraints_[absl::StrCat(table->name(), "_pkey")] = {table.get(), &pk};
    for (Column& column : table->columns_) {
      if (column.unique) {
        schema->constraints_[UniqueConstraintName(*table, column)] = {table.get(),
                                                                      &column};
      }
      if (column.references.empty()) continue;
      const TableSchema* target = schema->FindByName(column.references);
      if (target == nullptr) {
        return FieldError(column.field, absl::StrCat("foreign key names unknown table ",
                                                     column.references));
      }
      // A reference has the type of the key it names.
      column.type = target->primary_key().type;
      schema->constraints_[ForeignKeyName(*table, column)] = {table.get(), &column};
    }
    const Descriptor* message = table->descriptor();
    for (int i = 0; i < message->field_count(); ++i) {
      const FieldDescriptor* field = message->field(i);
      const protomodel::v1::ColumnOptions& opts =
          field->options().GetExtension(protomodel::v1::column);
      if (!opts.has_relation()) continue;
      if (field->type() != FieldDescriptor::TYPE_MESSAGE) {
        return FieldError(field, "a relation must be a message field");
      }
      Relation relation;
      relation.field = field;
      relation.target = schema->Find(field->message_type());
      if (relation.target == nullptr) {
        return FieldError(field, "the related message is not a registered table");
      }
      if (field->is_repeated()) {
        relation.remote = relation.target->FindColumn(opts.relation().remote_column());
        if (relation.remote == nullptr) {
          return FieldError(field, "relation.remote_column names no column");
        }
        relation.limit = opts.relation().limit() > 0 ? opts.relation().limit() : 1000;
      } else {
        relation.local = table->FindColumn(opts.relation().local_column());
        if (relation.local == nullptr) {
          return FieldError(field, "relation.local_column names no column");
        }
      }
      table->relations_.push_back(relation);
    }
    int repeated = 0;
    for (const Relation& relation : table->relations_) {
      repeated += relation.field->is_repeated() ? 1 : 0;
    }
    if (repeated > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "message ", message->full_name(), ": at most one repeated relation"));
    }
  }
  return schema;
}

}  // namespace protomodel::db
