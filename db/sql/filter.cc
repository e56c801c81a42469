#include "db/sql/filter.h"

#include <cmath>
#include <limits>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "db/schema/ddl.h"
#include "db/sql/codec.h"
#include "db/sql/values.h"

namespace protomodel::db {
namespace {

struct Token {
  enum class Kind { kEnd, kLParen, kRParen, kIdent, kString, kNumber, kOp };
  Kind kind = Kind::kEnd;
  std::string text;  // identifier, unescaped string, number or operator
  bool prefix = false;
  size_t pos = 0;
};

absl::Status Error(size_t pos, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("filter: ", what, " at offset ", pos));
}

bool IsIdentStart(char c) { return absl::ascii_isalpha(c) || c == '_'; }
bool IsIdentChar(char c) {
  return absl::ascii_isalnum(c) || c == '_' || c == '.';
}

class Lexer {
 public:
  explicit Lexer(absl::string_view text) : text_(text) {}

  absl::StatusOr<Token> Next() {
    while (pos_ < text_.size() && absl::ascii_isspace(text_[pos_])) ++pos_;
    Token token;
    token.pos = pos_;
    if (pos_ >= text_.size()) return token;
    const char c = text_[pos_];
    if (c == '(' || c == ')') {
      token.kind = c == '(' ? Token::Kind::kLParen : Token::Kind::kRParen;
      ++pos_;
      return token;
    }
    if (c == '"') return String(token);
    if (c == ':') {
      token.kind = Token::Kind::kOp;
      token.text = ":";
      ++pos_;
      return token;
    }
    if (c == '=' || c == '!' || c == '<' || c == '>') {
      token.kind = Token::Kind::kOp;
      token.text = std::string(1, c);
      ++pos_;
      if (pos_ < text_.size() && text_[pos_] == '=') {
        token.text += '=';
        ++pos_;
      }
      if (token.text == "!") return Error(token.pos, "'!' must be '!='");
      return token;
    }
    if (absl::ascii_isdigit(c) || c == '-' || c == '+') {
      token.kind = Token::Kind::kNumber;
      const size_t begin = pos_++;
      while (pos_ < text_.size() &&
             (absl::ascii_isalnum(text_[pos_]) || text_[pos_] == '.' ||
              ((text_[pos_] == '-' || text_[pos_] == '+') &&
               (text_[pos_ - 1] == 'e' || text_[pos_ - 1] == 'E')))) {
        ++pos_;
      }
      token.text = std::string(text_.substr(begin, pos_ - begin));
      return token;
    }
    if (IsIdentStart(c)) {
      token.kind = Token::Kind::kIdent;
      const size_t begin = pos_;
      while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
      token.text = std::string(text_.substr(begin, pos_ - begin));
      return token;
    }
    return Error(pos_, absl::StrCat("unexpected character '",
                                    absl::CHexEscape(absl::string_view(&c, 1)), "'"));
  }

 private:
  absl::StatusOr<Token> String(Token token) {
    token.kind = Token::Kind::kString;
    ++pos_;
    bool last_was_star = false;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') {
        if (last_was_star) {
          token.prefix = true;
          token.text.pop_back();
        }
        return token;
      }
      last_was_star = c == '*';
      if (c != '\\') {
        token.text += c;
        continue;
      }
      if (pos_ >= text_.size()) break;
      const char escaped = text_[pos_++];
      switch (escaped) {
        case '"':
        case '\\':
        case '*':
          token.text += escaped;
          break;
        case 'n':
          token.text += '\n';
          break;
        case 't':
          token.text += '\t';
          break;
        default:
          return Error(pos_ - 2, absl::StrCat("unknown escape '\\",
                                              std::string(1, escaped), "'"));
      }
    }
    return Error(token.pos, "unterminated string");
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

class Parser {
 public:
  explicit Parser(absl::string_view text) : lexer_(text) {}

  absl::StatusOr<FilterNode> Parse() {
    if (absl::Status s = Advance(); !s.ok()) return s;
    absl::StatusOr<FilterNode> node = And(0);
    if (!node.ok()) return node;
    if (token_.kind == Token::Kind::kRParen) {
      return Error(token_.pos, "unbalanced ')'");
    }
    if (token_.kind != Token::Kind::kEnd) return MissingOperator();
    return node;
  }

 private:
  absl::Status Advance() {
    absl::StatusOr<Token> next = lexer_.Next();
    if (!next.ok()) return next.status();
    token_ = std::move(*next);
    return absl::OkStatus();
  }

  bool AtKeyword(absl::string_view keyword) const {
    return token_.kind == Token::Kind::kIdent && token_.text == keyword;
  }

  absl::Status MissingOperator() const {
    return Error(token_.pos,
                 "expected AND or OR between two restrictions, or the end");
  }

  absl::StatusOr<FilterNode> Combine(FilterNode::Kind kind, int depth,
                                     absl::string_view keyword) {
    absl::StatusOr<FilterNode> first =
        kind == FilterNode::Kind::kAnd ? Or(depth) : Unary(depth);
    if (!first.ok() || !AtKeyword(keyword)) return first;
    FilterNode node;
    node.kind = kind;
    node.children.push_back(std::move(*first));
    while (AtKeyword(keyword)) {
      if (absl::Status s = Advance(); !s.ok()) return s;
      absl::StatusOr<FilterNode> next =
          kind == FilterNode::Kind::kAnd ? Or(depth) : Unary(depth);
      if (!next.ok()) return next;
      node.children.push_back(std::move(*next));
    }
    return node;
  }

  absl::StatusOr<FilterNode> And(int depth) {
    return Combine(FilterNode::Kind::kAnd, depth, "AND");
  }
  absl::StatusOr<FilterNode> Or(int depth) {
    return Combine(FilterNode::Kind::kOr, depth, "OR");
  }

  absl::StatusOr<FilterNode> Unary(int depth) {
    if (depth >= kMaxFilterDepth) {
      return Error(token_.pos, absl::StrCat("nesting deeper than ",
                                            kMaxFilterDepth, " levels"));
    }
    if (AtKeyword("NOT")) {
      if (absl::Status s = Advance(); !s.ok()) return s;
      absl::StatusOr<FilterNode> operand = Unary(depth + 1);
      if (!operand.ok()) return operand;
      FilterNode node;
      node.kind = FilterNode::Kind::kNot;
      node.children.push_back(std::move(*operand));
      return node;
    }
    if (token_.kind == Token::Kind::kLParen) {
      const size_t open = token_.pos;
      if (absl::Status s = Advance(); !s.ok()) return s;
      absl::StatusOr<FilterNode> inner = And(depth + 1);
      if (!inner.ok()) return inner;
      if (token_.kind == Token::Kind::kEnd) {
        return Error(open, "unbalanced '('");
      }
      if (token_.kind != Token::Kind::kRParen) return MissingOperator();
      if (absl::Status s = Advance(); !s.ok()) return s;
      return inner;
    }
    return Restriction();
  }

  absl::StatusOr<FilterNode> Restriction() {
    if (token_.kind == Token::Kind::kEnd) {
      return Error(token_.pos, "expected a restriction, found the end");
    }
    if (token_.kind != Token::Kind::kIdent || AtKeyword("AND") ||
        AtKeyword("OR")) {
      return Error(token_.pos, "expected a field name");
    }
    FilterNode node;
    node.field = token_.text;
    if (absl::Status s = Advance(); !s.ok()) return s;
    if (token_.kind != Token::Kind::kOp) {
      return Error(token_.pos, absl::StrCat("expected an operator after '",
                                            node.field, "'"));
    }
    static constexpr std::pair<absl::string_view, FilterOp> kOps[] = {
        {"=", FilterOp::kEq}, {"!=", FilterOp::kNe}, {"<", FilterOp::kLt},
        {"<=", FilterOp::kLe}, {">", FilterOp::kGt}, {">=", FilterOp::kGe},
        {":", FilterOp::kHas}};
    for (const auto& [text, op] : kOps) {
      if (token_.text == text) node.op = op;
    }
    if (absl::Status s = Advance(); !s.ok()) return s;
    switch (token_.kind) {
      case Token::Kind::kString:
        node.value.kind = FilterValue::Kind::kString;
        node.value.text = token_.text;
        node.value.prefix = token_.prefix;
        break;
      case Token::Kind::kNumber:
        node.value.kind = FilterValue::Kind::kNumber;
        node.value.text = token_.text;
        break;
      case Token::Kind::kIdent:
        if (token_.text == "true" || token_.text == "false") {
          node.value.kind = FilterValue::Kind::kBool;
          node.value.bool_value = token_.text == "true";
        } else if (token_.text == "null") {
          node.value.kind = FilterValue::Kind::kNull;
        } else {
          node.value.kind = FilterValue::Kind::kName;
          node.value.text = token_.text;
        }
        break;
      default:
        return Error(token_.pos,
                     "expected a value: a quoted string, a number, true, "
                     "false, null or an enum value's name");
    }
    if (absl::Status s = Advance(); !s.ok()) return s;
    return node;
  }

  Lexer lexer_;
  Token token_;
};

absl::string_view OpSql(FilterOp op) {
  switch (op) {
    case FilterOp::kEq:
      return "=";
    case FilterOp::kNe:
      return "<>";
    case FilterOp::kLt:
      return "<";
    case FilterOp::kLe:
      return "<=";
    case FilterOp::kGt:
      return ">";
    case FilterOp::kGe:
      return ">=";
    case FilterOp::kHas:
      return "@>";
  }
  return "=";
}

absl::Status FieldError(const Column& column, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("filter: field '", column.name, "' ", what));
}

// `%`, `_` and `\` match themselves in a prefix.
std::string LikePrefix(absl::string_view prefix) {
  std::string pattern;
  pattern.reserve(prefix.size() + 2);
  for (char c : prefix) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';
    pattern += c;
  }
  pattern += '%';
  return pattern;
}

absl::StatusOr<std::string> CompileRestriction(const FilterNode& node,
                                               const TableSchema& table,
                                               Params* params) {
  const Column* column = table.FindColumn(node.field);
  if (column == nullptr) {
    for (const Relation& relation : table.relations()) {
      if (relation.field->name() == node.field) {
        return absl::InvalidArgumentError(absl::StrCat(
            "filter: field '", node.field, "' is a relationship and cannot be filtered"));
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "filter: unknown field '", node.field, "' (", table.descriptor()->name(),
        " has no such field)"));
  }
  const std::string& col = column->quoted;
  const FilterValue& value = node.value;
  if (value.kind == FilterValue::Kind::kNull) {
    // Presence: `optional` fields and message-typed ones (a wrapper, a
    // Timestamp, a nested message left unset is NULL; one the server always
    // sets simply never matches `= null`).
    if (!column->field->has_presence()) {
      return FieldError(*column, "has no presence (not optional, not a message), so it is never null");
    }
    if (node.op == FilterOp::kEq) return absl::StrCat(col, " IS NULL");
    if (node.op == FilterOp::kNe) return absl::StrCat(col, " IS NOT NULL");
    return FieldError(*column, "compares with null only by = or !=");
  }
  if (column->repeated) {
    if (node.op != FilterOp::kHas) {
      return FieldError(*column, "is repeated: only ':' (has) applies, e.g. tags:\"x\"");
    }
  } else if (node.op == FilterOp::kHas) {
    return FieldError(*column, "is not repeated: ':' (has) applies to repeated fields only");
  } else if (!column->comparable()) {
    return FieldError(*column, "cannot be filtered");
  }
  if (column->type == ColumnType::kBytes || column->type == ColumnType::kJson) {
    return FieldError(*column, "cannot be filtered");
  }
  if (value.prefix) {
    if (column->type != ColumnType::kString || column->repeated) {
      return FieldError(*column, "is not a string: a prefix match ('*') is not allowed");
    }
    if (node.op != FilterOp::kEq && node.op != FilterOp::kNe) {
      return FieldError(*column, "takes a prefix ('*') only with = or !=");
    }
    if (absl::Status s = CheckStorableText(value.text, "filter"); !s.ok()) return s;
    params->AddText(LikePrefix(value.text));
    const std::string like = absl::StrCat(col, " LIKE $", params->size());
    if (node.op == FilterOp::kEq) {
      return column->nullable ? absl::StrCat("(", col, " IS NOT NULL AND ", like, ")")
                              : like;
    }
    return column->nullable
               ? absl::StrCat("(", col, " IS NULL OR NOT ", like, ")")
               : absl::StrCat("NOT ", like);
  }
  if (column->type == ColumnType::kBool && node.op != FilterOp::kEq &&
      node.op != FilterOp::kNe && node.op != FilterOp::kHas) {
    return FieldError(*column, "is a bool: only = and != apply");
  }
  absl::StatusOr<Value> literal = LiteralValue(*column, value);
  if (!literal.ok()) return literal.status();
  absl::StatusOr<std::string> param =
      BindValue(*column, *std::move(literal), ValueUse::kCompare,
                absl::StrCat("filter: field '", column->name, "'"), params);
  if (!param.ok()) return param.status();
  if (column->repeated) {
    // An array never NULL, so containment is two-valued; `@>` can use a GIN
    // index.
    return absl::StrCat(col, " @> ARRAY[", *param, "::", ElementTypeName(*column), "]");
  }
  if (!column->nullable) {
    return absl::StrCat(col, " ", OpSql(node.op), " ", *param);
  }
  if (node.op == FilterOp::kNe) {
    return absl::StrCat(col, " IS DISTINCT FROM ", *param);
  }
  return absl::StrCat("(", col, " IS NOT NULL AND ", col, " ", OpSql(node.op),
                      " ", *param, ")");
}

// -1, 0 or 1 as `a` sorts before, with or after `b`, both non-NULL values
// of `column`, as PostgreSQL compares them.
int CompareValues(const Column& column, const Value& a, const Value& b) {
  const auto order = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
  switch (a.kind) {
    case Value::Kind::kBool:
      return order(a.boolean, b.boolean);
    case Value::Kind::kInt:
    case Value::Kind::kMicros:
      return order(a.integer, b.integer);
    case Value::Kind::kUint:
      return order(a.unsigned_integer, b.unsigned_integer);
    case Value::Kind::kDouble: {
      // A `real` column compares in single precision; NaN equals itself
      // and sorts after every number.
      const double x = column.type == ColumnType::kFloat ? static_cast<float>(a.number) : a.number;
      const double y = column.type == ColumnType::kFloat ? static_cast<float>(b.number) : b.number;
      if (std::isnan(x) || std::isnan(y)) return order(std::isnan(x), std::isnan(y));
      return order(x, y);
    }
    case Value::Kind::kText: {
      const int c = a.text.compare(b.text);  // bytes: code points in UTF-8
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case Value::Kind::kNull:
      break;
  }
  return 0;
}

bool Holds(FilterOp op, int order) {
  switch (op) {
    case FilterOp::kEq:
    case FilterOp::kHas:
      return order == 0;
    case FilterOp::kNe:
      return order != 0;
    case FilterOp::kLt:
      return order < 0;
    case FilterOp::kLe:
      return order <= 0;
    case FilterOp::kGt:
      return order > 0;
    case FilterOp::kGe:
      return order >= 0;
  }
  return false;
}

absl::StatusOr<bool> MatchRestriction(const FilterNode& node, const TableSchema& table,
                                      const google::protobuf::Message& row) {
  const Column* column = table.FindColumn(node.field);
  if (column == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("filter: unknown field '", node.field, "'"));
  }
  const FilterValue& literal = node.value;
  const std::string what = absl::StrCat("filter: field '", column->name, "'");
  if (column->repeated) {
    absl::StatusOr<Value> wanted = LiteralValue(*column, literal);
    if (!wanted.ok()) return wanted.status();
    const int n = row.GetReflection()->FieldSize(row, column->field);
    for (int i = 0; i < n; ++i) {
      absl::StatusOr<Value> element = FieldValue(row, *column, i, what);
      if (!element.ok()) return element.status();
      if (CompareValues(*column, *element, *wanted) == 0) return true;
    }
    return false;
  }
  absl::StatusOr<Value> value = FieldValue(row, *column, -1, what);
  if (!value.ok()) return value.status();
  const bool unset = value->kind == Value::Kind::kNull;
  if (literal.kind == FilterValue::Kind::kNull) return (node.op == FilterOp::kEq) == unset;
  if (literal.prefix) {
    const bool starts = !unset && absl::StartsWith(value->text, literal.text);
    return node.op == FilterOp::kEq ? starts : !starts;
  }
  // Two-valued: an unset field differs from every value and is neither
  // less nor more than any.
  if (unset) return node.op == FilterOp::kNe;
  absl::StatusOr<Value> wanted = LiteralValue(*column, literal);
  if (!wanted.ok()) return wanted.status();
  if (column->type == ColumnType::kUuid) {
    absl::StatusOr<std::string> canonical = CanonicalUuid(wanted->text, what);
    if (!canonical.ok()) return canonical.status();
    wanted->text = *std::move(canonical);
  }
  return Holds(node.op, CompareValues(*column, *value, *wanted));
}

}  // namespace

absl::StatusOr<bool> MatchFilter(const FilterNode& filter, const TableSchema& table,
                                 const google::protobuf::Message& row) {
  switch (filter.kind) {
    case FilterNode::Kind::kRestriction:
      return MatchRestriction(filter, table, row);
    case FilterNode::Kind::kNot: {
      absl::StatusOr<bool> operand = MatchFilter(filter.children.front(), table, row);
      if (!operand.ok()) return operand;
      return !*operand;
    }
    case FilterNode::Kind::kAnd:
    case FilterNode::Kind::kOr: {
      const bool all = filter.kind == FilterNode::Kind::kAnd;
      // Every child is evaluated, so an invalid one fails whatever the rest say.
      bool result = all;
      for (const FilterNode& child : filter.children) {
        absl::StatusOr<bool> part = MatchFilter(child, table, row);
        if (!part.ok()) return part;
        result = all ? (result && *part) : (result || *part);
      }
      return result;
    }
  }
  return absl::InternalError("filter: unknown node");
}

absl::StatusOr<FilterNode> ParseFilter(absl::string_view filter) {
  if (filter.size() > kMaxFilterLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "filter: longer than the limit of ", kMaxFilterLength, " bytes"));
  }
  return Parser(filter).Parse();
}

absl::StatusOr<std::string> CompileFilter(const FilterNode& filter,
                                          const TableSchema& table,
                                          Params* params) {
  switch (filter.kind) {
    case FilterNode::Kind::kRestriction:
      return CompileRestriction(filter, table, params);
    case FilterNode::Kind::kNot: {
      absl::StatusOr<std::string> operand =
          CompileFilter(filter.children.front(), table, params);
      if (!operand.ok()) return operand;
      return absl::StrCat("(NOT ", *operand, ")");
    }
    case FilterNode::Kind::kAnd:
    case FilterNode::Kind::kOr: {
      std::vector<std::string> parts;
      for (const FilterNode& child : filter.children) {
        absl::StatusOr<std::string> part = CompileFilter(child, table, params);
        if (!part.ok()) return part;
        parts.push_back(*std::move(part));
      }
      return absl::StrCat(
          "(",
          absl::StrJoin(parts, filter.kind == FilterNode::Kind::kAnd ? " AND " : " OR "),
          ")");
    }
  }
  return absl::InternalError("filter: unknown node");
}

}  // namespace protomodel::db
