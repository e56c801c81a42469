#include "db/schema/ddl.h"

#include <algorithm>
#include <set>

#include <pqxx/nontransaction>
#include <pqxx/result>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "db/exec/sql_status.h"
#include "db/schema/migrations.h"

namespace protomodel::db {
namespace {

// Names as PostgreSQL's catalog prints them.
constexpr char kNewUuid[] = "gen_random_uuid()";
constexpr char kNow[] = "now()";
constexpr char kNewVersion[] = "(gen_random_uuid())::text";

char OnDeleteCode(protomodel::v1::OnDelete rule) {
  switch (rule) {
    case protomodel::v1::ON_DELETE_SET_NULL: return 'n';
    case protomodel::v1::ON_DELETE_CASCADE: return 'c';
    default: return 'r';
  }
}

std::string OnDeleteSql(char code) {
  switch (code) {
    case 'r': return "RESTRICT";
    case 'c': return "CASCADE";
    case 'n': return "SET NULL";
    case 'd': return "SET DEFAULT";
    default: return "NO ACTION";
  }
}

std::string QuotedList(const std::vector<std::string>& names) {
  return absl::StrJoin(names, ", ", [](std::string* out, const std::string& name) {
    out->append(QuoteIdentifier(name));
  });
}

std::string ColumnSql(const ColumnDef& c) {
  std::string sql = absl::StrCat(QuoteIdentifier(c.name), " ", c.type);
  if (!c.collation.empty()) absl::StrAppend(&sql, " COLLATE ", QuoteIdentifier(c.collation));
  if (c.identity) absl::StrAppend(&sql, " GENERATED ALWAYS AS IDENTITY");
  if (c.not_null && !c.identity) absl::StrAppend(&sql, " NOT NULL");
  if (!c.default_expr.empty()) absl::StrAppend(&sql, " DEFAULT ", c.default_expr);
  return sql;
}

std::string ConstraintSql(const ConstraintDef& c) {
  std::string sql = absl::StrCat("CONSTRAINT ", QuoteIdentifier(c.name), " ");
  switch (c.kind) {
    case 'p':
      absl::StrAppend(&sql, "PRIMARY KEY (", QuotedList(c.columns), ")");
      break;
    case 'u':
      absl::StrAppend(&sql, "UNIQUE (", QuotedList(c.columns), ")");
      break;
    default:
      absl::StrAppend(&sql, "FOREIGN KEY (", QuotedList(c.columns), ") REFERENCES ",
                      QuoteIdentifier(c.ref_table), " (", QuotedList(c.ref_columns),
                      ") ON DELETE ", OnDeleteSql(c.on_delete));
  }
  return sql;
}

std::string IndexSql(const std::string& table, const IndexDef& index) {
  return absl::StrCat("CREATE ", index.unique ? "UNIQUE " : "", "INDEX ",
                      QuoteIdentifier(index.name), " ON ", QuoteIdentifier(table), " (",
                      QuotedList(index.columns), ");");
}

// The comment that records the field number a column stores.
std::string FieldComment(const std::string& table, const ColumnDef& c) {
  return absl::StrCat("COMMENT ON COLUMN ", QuoteIdentifier(table), ".", QuoteIdentifier(c.name),
                      " IS 'protomodel field ", c.field, "';");
}

// The field number in a column's comment, or 0.
int FieldOfComment(absl::string_view comment) {
  int field = 0;
  return absl::ConsumePrefix(&comment, "protomodel field ") && absl::SimpleAtoi(comment, &field)
             ? field
             : 0;
}

std::string CreateTableSql(const TableDef& table) {
  std::vector<std::string> parts;
  for (const ColumnDef& c : table.columns) parts.push_back(ColumnSql(c));
  for (const ConstraintDef& c : table.constraints) parts.push_back(ConstraintSql(c));
  std::string sql = absl::StrCat("CREATE TABLE ", QuoteIdentifier(table.name), " (\n  ",
                                 absl::StrJoin(parts, ",\n  "), "\n);");
  for (const IndexDef& index : table.indexes) {
    absl::StrAppend(&sql, "\n", IndexSql(table.name, index));
  }
  for (const ColumnDef& c : table.columns) {
    if (c.field > 0) absl::StrAppend(&sql, "\n", FieldComment(table.name, c));
  }
  return sql;
}

std::string Describe(const ConstraintDef& c) {
  switch (c.kind) {
    case 'p':
      return absl::StrCat("primary key \"", c.name, "\" (", absl::StrJoin(c.columns, ", "), ")");
    case 'u':
      return absl::StrCat("unique constraint \"", c.name, "\" (",
                          absl::StrJoin(c.columns, ", "), ")");
    default:
      return absl::StrCat("foreign key \"", c.name, "\" (", absl::StrJoin(c.columns, ", "),
                          ") -> ", c.ref_table, " ON DELETE ", OnDeleteSql(c.on_delete));
  }
}

bool SameConstraint(const ConstraintDef& a, const ConstraintDef& b) {
  return a.kind == b.kind && a.columns == b.columns && a.ref_table == b.ref_table &&
         a.ref_columns == b.ref_columns && (a.kind != 'f' || a.on_delete == b.on_delete);
}

template <typename T>
const T* FindByName(const std::vector<T>& items, const std::string& name) {
  for (const T& item : items) {
    if (item.name == name) return &item;
  }
  return nullptr;
}

void CompareColumns(const TableDef& want, const TableDef& have,
                    std::vector<Difference>* out) {
  const std::string table = QuoteIdentifier(want.name);
  const std::string alter = absl::StrCat("ALTER TABLE ", table, " ");
  // Database columns that a proto field of another name took over: the
  // same field number, renamed.
  std::vector<std::string> renamed;
  for (const ColumnDef& c : want.columns) {
    const std::string name = absl::StrCat(table, ".", QuoteIdentifier(c.name));
    const ColumnDef* h = FindByName(have.columns, c.name);
    if (h == nullptr && c.field > 0) {
      for (const ColumnDef& candidate : have.columns) {
        if (candidate.field == c.field && FindByName(want.columns, candidate.name) == nullptr) {
          h = &candidate;
        }
      }
      if (h != nullptr) {
        renamed.push_back(h->name);
        out->push_back({absl::StrCat("column ", table, ".", QuoteIdentifier(h->name),
                                     " is field ", c.field, ", named ", c.name,
                                     " in the protos: renamed"),
                        absl::StrCat(alter, "RENAME COLUMN ", QuoteIdentifier(h->name), " TO ",
                                     QuoteIdentifier(c.name), ";"),
                        true});
      }
    }
    if (h == nullptr) {
      // A new column: nullable, or with a default for the rows already there.
      if (!c.not_null || !c.default_expr.empty() || c.identity) {
        out->push_back({absl::StrCat("column ", name, " is missing"),
                        absl::StrCat(alter, "ADD COLUMN ", ColumnSql(c), ";\n",
                                     FieldComment(want.name, c)),
                        true});
        continue;
      }
      out->push_back({absl::StrCat("column ", name, " is missing"),
                      absl::StrCat(alter, "ADD COLUMN ", ColumnSql(c), ";\n",
                                   FieldComment(want.name, c)),
                      false});
      out->back().what += " (NOT NULL without a default: existing rows need a value)";
      continue;
    }
    if (h->field != c.field && h->name == c.name) {
      out->push_back({absl::StrCat("column ", name, " records ",
                                   h->field == 0 ? std::string("no field number")
                                                 : absl::StrCat("field ", h->field),
                                   " in the database, field ", c.field, " in the protos"),
                      FieldComment(want.name, c), true});
    }
    if (h->type != c.type || h->collation != c.collation) {
      out->push_back({absl::StrCat("column ", name, " is ", h->type,
                                   h->collation.empty() ? "" : " COLLATE " + h->collation,
                                   " in the database, ", c.type,
                                   c.collation.empty() ? "" : " COLLATE " + c.collation,
                                   " in the protos"),
                      absl::StrCat(alter, "ALTER COLUMN ", QuoteIdentifier(c.name), " TYPE ",
                                   c.type,
                                   c.collation.empty()
                                       ? ""
                                       : " COLLATE " + QuoteIdentifier(c.collation),
                                   ";"),
                      false});
    }
    if (h->identity != c.identity) {
      out->push_back(
          {absl::StrCat("column ", name, c.identity ? " is not" : " is",
                        " an identity column in the database, ", c.identity ? "is" : "is not",
                        " in the protos"),
           absl::StrCat(alter, "ALTER COLUMN ", QuoteIdentifier(c.name),
                        c.identity ? " ADD GENERATED ALWAYS AS IDENTITY;" : " DROP IDENTITY;"),
           false});
    }
    if (h->not_null != c.not_null) {
      out->push_back({absl::StrCat("column ", name, " is ",
                                   h->not_null ? "NOT NULL" : "nullable", " in the database, ",
                                   c.not_null ? "NOT NULL" : "nullable", " in the protos"),
                      absl::StrCat(alter, "ALTER COLUMN ", QuoteIdentifier(c.name),
                                   c.not_null ? " SET NOT NULL;" : " DROP NOT NULL;"),
                      !c.not_null});
    }
    if (h->default_expr != c.default_expr) {
      out->push_back(
          {absl::StrCat("column ", name, " defaults to ",
                        h->default_expr.empty() ? "nothing" : h->default_expr,
                        " in the database, to ",
                        c.default_expr.empty() ? "nothing" : c.default_expr, " in the protos"),
           absl::StrCat(alter, "ALTER COLUMN ", QuoteIdentifier(c.name),
                        c.default_expr.empty() ? " DROP DEFAULT;"
                                               : " SET DEFAULT " + c.default_expr + ";"),
           true});
    }
  }
  for (const ColumnDef& h : have.columns) {
    if (FindByName(want.columns, h.name) == nullptr &&
        std::find(renamed.begin(), renamed.end(), h.name) == renamed.end()) {
      out->push_back({absl::StrCat("column ", table, ".", QuoteIdentifier(h.name),
                                   " is not in the protos"),
                      absl::StrCat(alter, "DROP COLUMN ", QuoteIdentifier(h.name), ";"),
                      false});
    }
  }
}

void CompareConstraints(const TableDef& want, const TableDef& have,
                        std::vector<Difference>* out) {
  const std::string table = QuoteIdentifier(want.name);
  const std::string alter = absl::StrCat("ALTER TABLE ", table, " ");
  for (const ConstraintDef& c : want.constraints) {
    const ConstraintDef* h = FindByName(have.constraints, c.name);
    const std::string add = absl::StrCat(alter, "ADD ", ConstraintSql(c), ";");
    if (h == nullptr) {
      out->push_back({absl::StrCat(Describe(c), " on ", table, " is missing"), add, true});
    } else if (!SameConstraint(c, *h)) {
      out->push_back({absl::StrCat(Describe(*h), " on ", table,
                                   " differs from the protos: ", Describe(c)),
                      absl::StrCat(alter, "DROP CONSTRAINT ", QuoteIdentifier(c.name), ";\n",
                                   add),
                      true});
    }
  }
  for (const ConstraintDef& h : have.constraints) {
    if (FindByName(want.constraints, h.name) == nullptr) {
      out->push_back({absl::StrCat(Describe(h), " on ", table, " is not in the protos"),
                      absl::StrCat(alter, "DROP CONSTRAINT ", QuoteIdentifier(h.name), ";"),
                      false});
    }
  }
  for (const IndexDef& index : want.indexes) {
    const IndexDef* h = FindByName(have.indexes, index.name);
    if (h == nullptr) {
      out->push_back({absl::StrCat("index \"", index.name, "\" on ", table, " (",
                                   absl::StrJoin(index.columns, ", "), ") is missing"),
                      IndexSql(want.name, index), true});
    } else if (h->columns != index.columns || h->unique != index.unique) {
      out->push_back({absl::StrCat("index \"", index.name, "\" on ", table,
                                   " covers other columns than in the protos"),
                      absl::StrCat("DROP INDEX ", QuoteIdentifier(index.name), ";\n",
                                   IndexSql(want.name, index)),
                      true});
    }
  }
  for (const IndexDef& h : have.indexes) {
    if (FindByName(want.indexes, h.name) == nullptr) {
      out->push_back({absl::StrCat("index \"", h.name, "\" on ", table,
                                   " is not in the protos"),
                      absl::StrCat("DROP INDEX ", QuoteIdentifier(h.name), ";"), false});
    }
  }
}

std::vector<std::string> SplitColumns(const std::string& joined) {
  if (joined.empty()) return {};
  return absl::StrSplit(joined, ',');
}

constexpr char kColumnsSql[] = R"sql(
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity <> '',
       coalesce(co.collname, ''), coalesce(col_description(c.oid, a.attnum), '')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
  AND c.relname <> 'schema_migrations' AND c.relname NOT LIKE 'protomodel\_%'
ORDER BY c.relname, a.attnum)sql";

constexpr char kConstraintsSql[] = R"sql(
SELECT cl.relname, con.conname, con.contype,
  (SELECT string_agg(a.attname, ',' ORDER BY k.ord)
     FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum),
  coalesce(fcl.relname, ''),
  coalesce((SELECT string_agg(a.attname, ',' ORDER BY k.ord)
     FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum), ''),
  con.confdeltype
FROM pg_constraint con
JOIN pg_class cl ON cl.oid = con.conrelid
JOIN pg_namespace n ON n.oid = cl.relnamespace
LEFT JOIN pg_class fcl ON fcl.oid = con.confrelid
WHERE n.nspname = current_schema() AND con.contype IN ('p', 'u', 'f')
  AND cl.relname <> 'schema_migrations' AND cl.relname NOT LIKE 'protomodel\_%'
ORDER BY cl.relname, con.conname)sql";

constexpr char kIndexesSql[] = R"sql(
SELECT t.relname, i.relname, ix.indisunique,
  (SELECT string_agg(a.attname, ',' ORDER BY k.ord)
     FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum)
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema() AND t.relname <> 'schema_migrations'
  AND t.relname NOT LIKE 'protomodel\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)
ORDER BY t.relname, i.relname)sql";

}  // namespace

std::string TypeName(const Column& column) {
  return column.repeated ? ElementTypeName(column) + "[]" : ElementTypeName(column);
}

std::string ElementTypeName(const Column& column) {
  std::string name;
  switch (column.type) {
    case ColumnType::kBool: name = "boolean"; break;
    case ColumnType::kInt32:
    case ColumnType::kEnum: name = "integer"; break;
    case ColumnType::kInt64:
    case ColumnType::kUint32: name = "bigint"; break;
    case ColumnType::kUint64: name = "numeric(20,0)"; break;
    case ColumnType::kFloat: name = "real"; break;
    case ColumnType::kDouble: name = "double precision"; break;
    case ColumnType::kString: name = "text"; break;
    case ColumnType::kUuid: name = "uuid"; break;
    case ColumnType::kBytes: name = "bytea"; break;
    case ColumnType::kTimestamp: name = "timestamp with time zone"; break;
    case ColumnType::kDuration: name = "interval"; break;
    case ColumnType::kJson: name = "jsonb"; break;
  }
  return name;
}

SchemaDef ExpectedSchema(const Schema& schema) {
  // Dependency order: repeatedly take the tables whose references are placed.
  std::vector<const TableSchema*> pending;
  for (const auto& table : schema.tables()) pending.push_back(table.get());
  std::vector<const TableSchema*> ordered;
  std::set<std::string> placed;
  while (!pending.empty()) {
    auto ready = std::find_if(pending.begin(), pending.end(), [&](const TableSchema* t) {
      for (const Column& c : t->columns()) {
        if (!c.references.empty() && c.references != t->name() &&
            !placed.contains(c.references)) {
          return false;
        }
      }
      return true;
    });
    if (ready == pending.end()) ready = pending.begin();  // a cycle: keep declared order
    placed.insert((*ready)->name());
    ordered.push_back(*ready);
    pending.erase(ready);
  }

  SchemaDef def;
  for (const TableSchema* table : ordered) {
    TableDef t;
    t.name = table->name();
    for (const Column& c : table->columns()) {
      ColumnDef col;
      col.name = c.name;
      col.type = TypeName(c);
      col.collation = c.type == ColumnType::kString && !c.repeated ? "C" : "";
      col.not_null = !c.nullable;
      col.identity = c.primary_key && c.generated == protomodel::v1::KEY_GENERATION_IDENTITY;
      col.field = c.field->number();
      if (c.primary_key && c.generated == protomodel::v1::KEY_GENERATION_UUID) {
        col.default_expr = kNewUuid;
      } else if (c.server_default == protomodel::v1::SERVER_DEFAULT_NOW) {
        col.default_expr = kNow;
      } else if (c.server_default == protomodel::v1::SERVER_DEFAULT_VERSION) {
        col.default_expr = kNewVersion;
      } else if (c.document == protomodel::v1::DOCUMENT_UPDATE_SEQ ||
                 c.document == protomodel::v1::DOCUMENT_COMPACTED_SEQ) {
        col.default_expr = "0";
      } else if (c.repeated) {
        col.default_expr = absl::StrCat("'{}'::", col.type);
      } else if (c.type == ColumnType::kJson && c.field->is_repeated()) {
        col.default_expr = c.field->is_map() ? "'{}'::jsonb" : "'[]'::jsonb";
      }
      t.columns.push_back(col);
    }
    const Column& pk = table->primary_key();
    t.constraints.push_back({absl::StrCat(table->name(), "_pkey"), 'p', {pk.name}, "", {}, 'a'});
    for (const Column& c : table->columns()) {
      if (c.unique) {
        t.constraints.push_back(
            {Schema::UniqueConstraintName(*table, c), 'u', {c.name}, "", {}, 'a'});
      }
    }
    for (const Column& c : table->columns()) {
      if (c.references.empty()) continue;
      const TableSchema* target = schema.FindByName(c.references);
      t.constraints.push_back({Schema::ForeignKeyName(*table, c), 'f', {c.name}, c.references,
                               {target ? target->primary_key().name : "id"},
                               OnDeleteCode(c.on_delete)});
    }
    std::sort(t.constraints.begin(), t.constraints.end(),
              [](const ConstraintDef& a, const ConstraintDef& b) { return a.name < b.name; });
    for (const Column& c : table->columns()) {
      if (c.index && !c.unique && !c.primary_key) {
        t.indexes.push_back({absl::StrCat(table->name(), "_", c.name, "_idx"), {c.name}, false});
      }
    }
    def.tables.push_back(std::move(t));
  }
  return def;
}

absl::StatusOr<SchemaDef> ReadCatalog(pqxx::connection& conn) {
  SchemaDef def;
  auto table = [&](const std::string& name) -> TableDef& {
    for (TableDef& t : def.tables) {
      if (t.name == name) return t;
    }
    def.tables.push_back(TableDef{name, {}, {}, {}});
    return def.tables.back();
  };
  try {
    pqxx::nontransaction tx(conn);
    for (const pqxx::row& row : tx.exec(kColumnsSql)) {
      ColumnDef c;
      c.name = row[1].c_str();
      c.type = row[2].c_str();
      c.not_null = row[3].as<bool>();
      c.default_expr = row[4].c_str();
      c.identity = row[5].as<bool>();
      c.collation = row[6].c_str();
      c.field = FieldOfComment(row[7].c_str());
      if (c.collation == "default") c.collation.clear();
      if (c.identity) c.not_null = true;
      table(row[0].c_str()).columns.push_back(c);
    }
    for (const pqxx::row& row : tx.exec(kConstraintsSql)) {
      ConstraintDef c;
      c.name = row[1].c_str();
      c.kind = row[2].c_str()[0];
      c.columns = SplitColumns(row[3].is_null() ? "" : row[3].c_str());
      c.ref_table = row[4].c_str();
      c.ref_columns = SplitColumns(row[5].c_str());
      c.on_delete = row[6].c_str()[0];
      if (c.kind != 'f') c.on_delete = 'a';
      table(row[0].c_str()).constraints.push_back(c);
    }
    for (const pqxx::row& row : tx.exec(kIndexesSql)) {
      table(row[0].c_str())
          .indexes.push_back({row[1].c_str(), SplitColumns(row[3].is_null() ? "" : row[3].c_str()),
                              row[2].as<bool>()});
    }
  } catch (const std::exception& e) {
    return StatusFromException(e, StatementKind::kRead, "reading the catalog");
  }
  return def;
}

std::string CreateAllSql(const SchemaDef& schema) {
  std::vector<std::string> tables;
  for (const TableDef& table : schema.tables) tables.push_back(CreateTableSql(table));
  // The server's own tables (named protomodel_*, which no proto describes
  // and the drift check leaves alone), as its migration track makes them.
  std::string server;
  for (const MigrationFile& file : ServerMigrations()) absl::StrAppend(&server, file.sql, "\n");
  absl::StrAppend(&server, RecordServerMigrationsSql());
  return absl::StrCat(absl::StrJoin(tables, "\n\n"), "\n\n", server);
}

std::vector<Difference> Compare(const SchemaDef& expected, const SchemaDef& actual) {
  std::vector<Difference> out;
  for (const TableDef& want : expected.tables) {
    const TableDef* have = FindByName(actual.tables, want.name);
    if (have == nullptr) {
      out.push_back({absl::StrCat("table ", QuoteIdentifier(want.name), " is missing"),
                     CreateTableSql(want), true});
      continue;
    }
    CompareColumns(want, *have, &out);
    CompareConstraints(want, *have, &out);
  }
  for (const TableDef& have : actual.tables) {
    if (FindByName(expected.tables, have.name) == nullptr) {
      out.push_back({absl::StrCat("table ", QuoteIdentifier(have.name),
                                  " is not in the protos"),
                     absl::StrCat("DROP TABLE ", QuoteIdentifier(have.name), ";"), false});
    }
  }
  return out;
}

std::string MigrationSql(const std::vector<Difference>& differences) {
  std::string sql;
  for (const Difference& d : differences) {
    absl::StrAppend(&sql, "-- ", d.what, "\n");
    if (d.safe) {
      absl::StrAppend(&sql, d.sql, "\n\n");
      continue;
    }
    absl::StrAppend(&sql,
                    "-- DECIDE: destructive or ambiguous, so not applied; edit and "
                    "uncomment what you choose:\n");
    for (absl::string_view line : absl::StrSplit(d.sql, '\n')) {
      absl::StrAppend(&sql, "-- ", line, "\n");
    }
    absl::StrAppend(&sql, "\n");
  }
  return sql;
}

}  // namespace protomodel::db
