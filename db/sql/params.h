#ifndef PROTOMODEL_DB_SQL_PARAMS_H_
#define PROTOMODEL_DB_SQL_PARAMS_H_

#include <string>
#include "absl/strings/string_view.h"
#include <iterator>
#include <utility>

#include <pqxx/binarystring>
#include <pqxx/prepared_statement>

namespace protomodel::db {

// Statement parameters built at run time, each text, binary or NULL.
//
// libpqxx 6.4 decides text/binary and NULL per parameter only from static
// argument types; its `internal::params` holds exactly what libpq needs, so
// this fills one directly. Binary parameters carry `bytea` values as raw
// bytes, not hex-escaped text.
class Params {
 public:
  void AddNull() {
    raw_.lengths.push_back(0);
    raw_.nonnulls.push_back(0);
    raw_.binaries.push_back(0);
  }
  void AddText(std::string value) {
    raw_.lengths.push_back(static_cast<int>(value.size()));
    raw_.nonnulls.push_back(1);
    raw_.binaries.push_back(0);
    raw_.strings.push_back(std::move(value));
  }
  void AddBinary(absl::string_view bytes) {
    raw_.lengths.push_back(static_cast<int>(bytes.size()));
    raw_.nonnulls.push_back(1);
    raw_.binaries.push_back(1);
    raw_.bin_strings.emplace_back(bytes.data(), bytes.size());
  }
  // Appends `other`'s parameters after these, in order.
  void Append(Params other) {
    auto move_all = [](auto& to, auto& from) {
      to.insert(to.end(), std::make_move_iterator(from.begin()),
                std::make_move_iterator(from.end()));
    };
    move_all(raw_.strings, other.raw_.strings);
    move_all(raw_.lengths, other.raw_.lengths);
    move_all(raw_.nonnulls, other.raw_.nonnulls);
    move_all(raw_.binaries, other.raw_.binaries);
    move_all(raw_.bin_strings, other.raw_.bin_strings);
  }
  // The bytes of all values.
  size_t bytes() const {
    size_t total = 0;
    for (const int length : raw_.lengths) total += static_cast<size_t>(length);
    return total;
  }
  // The number of parameters so far: the next one is `$size()+1`.
  int size() const { return static_cast<int>(raw_.lengths.size()); }

  pqxx::internal::params Release() && { return std::move(raw_); }
  // What libpq takes: each value's pointer (get_pointers()), length, NULL
  // flag and format.
  const pqxx::internal::params& raw() const { return raw_; }

 private:
  pqxx::internal::params raw_;
};

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_SQL_PARAMS_H_
