#include "db/sql/values.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace protomodel::db {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3339's date-time: YYYY-MM-DDTHH:MM:SS, an optional fraction, then Z or
// +hh:mm / -hh:mm. absl::ParseTime alone is laxer (one-digit fields, longer
// years, surrounding spaces, "infinite-future").
bool HasRfc3339Shape(absl::string_view t) {
  auto digits = [t](size_t pos, size_t n) {
    if (t.size() < pos + n) return false;
    for (size_t i = pos; i < pos + n; ++i) {
      if (!absl::ascii_isdigit(t[i])) return false;
    }
    return true;
  };
  if (t.size() < 20) return false;  // YYYY-MM-DDTHH:MM:SSZ
  if (!digits(0, 4) || t[4] != '-' || !digits(5, 2) || t[7] != '-' || !digits(8, 2) ||
      (t[10] != 'T' && t[10] != 't') || !digits(11, 2) || t[13] != ':' ||
      !digits(14, 2) || t[16] != ':' || !digits(17, 2)) {
    return false;
  }
  size_t pos = 19;
  if (pos < t.size() && t[pos] == '.') {
    const size_t begin = ++pos;
    while (pos < t.size() && absl::ascii_isdigit(t[pos])) ++pos;
    if (pos == begin) return false;
  }
  const absl::string_view zone = t.substr(pos);
  if (zone == "Z" || zone == "z") return true;
  return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && digits(pos + 1, 2) &&
         zone[3] == ':' && digits(pos + 4, 2);
}

// google.protobuf.Timestamp's range, 0001-01-01T00:00:00Z up to (excluded)
// 10000-01-01T00:00:00Z: what a timestamp column can hold.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kEndTimestampSeconds = 253402300800;

}  // namespace

absl::StatusOr<std::string> CanonicalUuid(absl::string_view text,
                                          absl::string_view what) {
  bool ok = text.size() == 36;
  for (size_t i = 0; ok && i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    ok = dash ? text[i] == '-' : HexDigit(text[i]) >= 0;
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": not a UUID (want 8-4-4-4-12 hexadecimal digits)"));
  }
  return absl::AsciiStrToLower(text);
}

absl::StatusOr<int64_t> ParseRfc3339Micros(absl::string_view text,
                                           absl::string_view what) {
  absl::Time time;
  std::string error;
  if (!HasRfc3339Shape(text) ||
      !absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": not an RFC 3339 timestamp with Z or an offset, e.g. "
              "\"2024-01-02T03:04:05Z\""));
  }
  if (time < absl::FromUnixSeconds(kMinTimestampSeconds) ||
      time >= absl::FromUnixSeconds(kEndTimestampSeconds)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z"));
  }
  return absl::ToUnixMicros(time);
}

std::string TimestampParam(int64_t micros) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00",
                          absl::FromUnixMicros(micros), absl::UTCTimeZone());
}

bool DecodeByteaHex(absl::string_view text, std::string* out) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' ||
      text.size() % 2 != 0) {
    return false;
  }
  const size_t begin = out->size();
  out->resize(begin + (text.size() - 2) / 2);
  char* dst = out->data() + begin;
  for (size_t i = 2; i < text.size(); i += 2) {
    const int hi = HexDigit(text[i]);
    const int lo = HexDigit(text[i + 1]);
    if (hi < 0 || lo < 0) return false;
    *dst++ = static_cast<char>((hi << 4) | lo);
  }
  return true;
}

absl::Status CheckStorableText(absl::string_view text, absl::string_view what) {
  if (text.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": text must not contain NUL characters"));
  }
  return absl::OkStatus();
}

std::string ArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    for (const char c : values[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

}  // namespace protomodel::db
