#pragma once
// Argument checks at the public boundary: build a message and throw InvalidArgument.

#include <sstream>
#include <string>
#include <utility>

#include "eplb/error.h"

namespace eplb::detail {

/// Concatenates `parts` with operator<< into one message.
template <typename... Parts>
std::string message(Parts&&... parts) {
  std::ostringstream stream;
  (stream << ... << std::forward<Parts>(parts));
  return stream.str();
}

/// Throws InvalidArgument with the concatenation of `parts`.
template <typename... Parts>
[[noreturn]] void throw_invalid(Parts&&... parts) {
  throw InvalidArgument(message(std::forward<Parts>(parts)...));
}

/// Throws InvalidSizes (a size condition the reference asserts) with the concatenation of
/// `parts`.
template <typename... Parts>
[[noreturn]] void throw_invalid_sizes(Parts&&... parts) {
  throw InvalidSizes(message(std::forward<Parts>(parts)...));
}

}  // namespace eplb::detail

/// Aborts when `condition` is false in debug and sanitizer builds; nothing in release builds.
#ifdef NDEBUG
#define EPLB_DCHECK(condition) static_cast<void>(0)
#else
#include <cstdlib>
#define EPLB_DCHECK(condition) \
  do {                         \
    if (!(condition)) std::abort(); \
  } while (false)
#endif
