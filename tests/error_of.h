// The message of the act::Error a call throws: what refusal tests compare. A call that throws
// nothing gives a text no expected message contains.
#pragma once

#include <functional>
#include <string>

#include "act/kernel/error.h"

namespace act {

inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no act::Error thrown)";
}

}  // namespace act
