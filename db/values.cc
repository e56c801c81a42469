#include "db/values.h"

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
  if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": not an RFC 3339 timestamp with Z or an offset, e.g. "
              "\"2024-01-02T03:04:05Z\""));
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

}  // namespace protomodel::db
