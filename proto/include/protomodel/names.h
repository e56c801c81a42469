#ifndef PROTOMODEL_NAMES_H_
#define PROTOMODEL_NAMES_H_

#include <string>
#include <string_view>

namespace protomodel {

// A message or method name part in lower case, words joined by `separator`:
// "BookReview" -> "book_review", the name of a request's resource field;
// with '-', "BookReviews" -> "book-reviews", as the CLI spells resources.
std::string LowerSnake(std::string_view name, char separator = '_');

}  // namespace protomodel

#endif  // PROTOMODEL_NAMES_H_
