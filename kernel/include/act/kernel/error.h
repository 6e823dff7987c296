// Error type used inside the kernel and the host.
//
// Exceptions never cross the plugin boundary (the SDK converts them to status codes); inside
// one binary they are the way a failing check reports what went wrong, by name.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace act {

// Thrown for any user-visible failure: bad model, unsupported op, wrong shape, bad data.
// The message is meant to be shown to a user as-is and should name the offending thing.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <typename... Parts>
std::string concat(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}
}  // namespace detail

// Builds a message from streamable parts and throws act::Error.
template <typename... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  throw Error(detail::concat(std::forward<Parts>(parts)...));
}

}  // namespace act

// Checks a condition that depends on user input; throws act::Error with the parts otherwise.
#define ACT_CHECK(cond, ...)    \
  do {                          \
    if (!(cond)) {              \
      ::act::fail(__VA_ARGS__); \
    }                           \
  } while (false)
