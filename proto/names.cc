#include "protomodel/names.h"

#include <cctype>

namespace protomodel {

std::string LowerSnake(std::string_view name, char separator) {
  std::string out;
  out.reserve(name.size() + 4);
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (std::isupper(c) && i > 0) out.push_back(separator);
    out.push_back(static_cast<char>(std::tolower(c)));
  }
  return out;
}

}  // namespace protomodel
