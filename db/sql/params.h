#ifndef PROTOMODEL_DB_SQL_PARAMS_H_
#define PROTOMODEL_DB_SQL_PARAMS_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/binarystring>
#include <pqxx/prepared_statement>

#include "absl/strings/string_view.h"

namespace protomodel::db {

// Statement parameters built at run time, each text, binary or NULL.
//
// Binary parameters carry `bytea` values as raw bytes, not hex-escaped text;
// AddBinaryView does not even copy them: a document of many MiB goes from
// the request's message straight into libpq's output buffer.
class Params {
 public:
  void AddNull() { params_.push_back({Kind::kNull, 0, {}}); }
  void AddText(std::string value) {
    params_.push_back({Kind::kOwnedText, owned_.size(), {}});
    owned_.push_back(std::move(value));
  }
  // Copies `bytes`.
  void AddBinary(absl::string_view bytes) {
    params_.push_back({Kind::kOwnedBinary, owned_.size(), {}});
    owned_.emplace_back(bytes);
  }
  // Refers to `bytes`, which must outlive every use of these parameters.
  void AddBinaryView(absl::string_view bytes) {
    params_.push_back({Kind::kViewBinary, 0, bytes});
  }
  // Appends `other`'s parameters after these, in order.
  void Append(Params other) {
    const size_t base = owned_.size();
    for (Param& param : other.params_) {
      if (param.kind == Kind::kOwnedText || param.kind == Kind::kOwnedBinary) param.owned += base;
      params_.push_back(param);
    }
    for (std::string& value : other.owned_) owned_.push_back(std::move(value));
  }
  // The bytes of all values.
  size_t bytes() const {
    size_t total = 0;
    for (const Param& param : params_) total += Value(param).size();
    return total;
  }
  // The number of parameters so far: the next one is `$size()+1`.
  int size() const { return static_cast<int>(params_.size()); }

  // What libpq takes, pointing into these parameters (valid while they
  // stay as they are).
  struct Libpq {
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;
  };
  Libpq ToLibpq() const {
    Libpq out;
    out.values.reserve(params_.size());
    out.lengths.reserve(params_.size());
    out.formats.reserve(params_.size());
    for (const Param& param : params_) {
      const absl::string_view value = Value(param);
      out.values.push_back(param.kind == Kind::kNull ? nullptr : value.data());
      out.lengths.push_back(static_cast<int>(value.size()));
      out.formats.push_back(param.kind == Kind::kOwnedBinary || param.kind == Kind::kViewBinary);
    }
    return out;
  }

  // For libpqxx (the pool's transactions): every value copied.
  pqxx::internal::params Release() && {
    pqxx::internal::params raw;
    for (const Param& param : params_) {
      const absl::string_view value = Value(param);
      const bool binary = param.kind == Kind::kOwnedBinary || param.kind == Kind::kViewBinary;
      raw.lengths.push_back(static_cast<int>(value.size()));
      raw.nonnulls.push_back(param.kind != Kind::kNull);
      raw.binaries.push_back(binary);
      if (binary) {
        raw.bin_strings.emplace_back(value.data(), value.size());
      } else if (param.kind != Kind::kNull) {
        raw.strings.emplace_back(value);
      }
    }
    return raw;
  }

 private:
  enum class Kind { kNull, kOwnedText, kOwnedBinary, kViewBinary };
  struct Param {
    Kind kind;
    size_t owned;            // index into owned_
    absl::string_view view;  // kViewBinary
  };
  absl::string_view Value(const Param& param) const {
    switch (param.kind) {
      case Kind::kNull:
        return {};
      case Kind::kViewBinary:
        return param.view;
      default:
        return owned_[param.owned];
    }
  }

  std::vector<Param> params_;
  std::vector<std::string> owned_;
};

}  // namespace protomodel::db

#endif  // PROTOMODEL_DB_SQL_PARAMS_H_
