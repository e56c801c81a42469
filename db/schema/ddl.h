#ifndef PROTOMODEL_DB_SCHEMA_DDL_H_
#define PROTOMODEL_DB_SCHEMA_DDL_H_

#include <string>
#include <vector>

#include <pqxx/connection>

#include "absl/status/statusor.h"
#include "db/schema/schema.h"

namespace protomodel::db {

// A table as PostgreSQL's catalog describes it, in the terms the drift check
// compares: type names as format_type() prints them, defaults as
// pg_get_expr() prints them.
struct ColumnDef {
  std::string name;
  std::string type;       // "bigint", "text", "timestamp with time zone", ...
  std::string collation;  // "C" for text columns, "" where none applies
  bool not_null = false;
  bool identity = false;  // GENERATED ALWAYS AS IDENTITY
  std::string default_expr;
  // The proto field number the column stores, recorded in the column's
  // comment ("protomodel field 2"), so that a field renamed under the same
  // number is a column rename, not a drop and an add; 0: none recorded.
  int field = 0;
};

struct ConstraintDef {
  std::string name;
  char kind = 'p';  // 'p' primary key, 'u' unique, 'f' foreign key
  std::vector<std::string> columns;
  std::string ref_table;  // foreign keys only
  std::vector<std::string> ref_columns;
  char on_delete = 'a';  // pg_constraint.confdeltype: a r c n d
};

struct IndexDef {
  std::string name;
  std::vector<std::string> columns;
  bool unique = false;
};

struct TableDef {
  std::string name;
  std::vector<ColumnDef> columns;
  std::vector<ConstraintDef> constraints;
  std::vector<IndexDef> indexes;
};

// Tables in dependency order: a referenced table before its referrers.
struct SchemaDef {
  std::vector<TableDef> tables;
};

// The schema the mapping options of `schema` describe (SQLModel's
// metadata): column types from field types, NOT NULL unless the column is
// nullable, server defaults (empty arrays, maps and lists for repeated
// fields), key generation, unique constraints, indexes
// and foreign keys with their on-delete rule. Tables referenced by foreign
// keys come first.
SchemaDef ExpectedSchema(const Schema& schema);

// The PostgreSQL type a column stores its values as, as the catalog spells
// it: "bigint", "uuid", "text[]", "numeric(20,0)", ...
std::string TypeName(const Column& column);
// TypeName of one element: the same but for a repeated column's "[]".
std::string ElementTypeName(const Column& column);

// The tables of the connection's current schema, except `schema_migrations`
// and the server's own `protomodel_*` tables.
absl::StatusOr<SchemaDef> ReadCatalog(pqxx::connection& conn);

// `CREATE TABLE` and `CREATE INDEX` statements for the whole schema, every
// identifier quoted, and the server's own tables (`create_all`).
std::string CreateAllSql(const SchemaDef& schema);

// One way the database differs from the protos.
struct Difference {
  // One line naming the object: `index "book_pages_idx" on "book" is missing`.
  std::string what;
  // SQL that brings the database to the protos.
  std::string sql;
  // False for destructive or ambiguous changes (drops, type changes, NOT NULL
  // on existing rows): a person must decide, so `sql` is only a suggestion.
  bool safe = true;
};

// Every difference between `expected` (the protos) and `actual` (the
// database), tables in dependency order.
std::vector<Difference> Compare(const SchemaDef& expected, const SchemaDef& actual);

// A migration from the differences: safe changes as statements, the others
// commented out under a line saying what a person must decide.
std::string MigrationSql(const std::vector<Difference>& differences);

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_SCHEMA_DDL_H_
