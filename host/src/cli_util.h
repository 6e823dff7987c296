// Small parsing helpers shared by the subcommands.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "act/kernel/error.h"

namespace act::host {

// "0.5 0.5" arrives as separate tokens, "0.5,0.5" as one; accept both.
inline std::vector<float> parse_floats(const std::vector<std::string>& tokens, const char* flag) {
  std::vector<float> out;
  for (std::string token : tokens) {
    for (char& c : token)
      if (c == ',') c = ' ';
    std::istringstream in(token);
    std::string part;
    while (in >> part) {
      try {
        std::size_t used = 0;
        out.push_back(std::stof(part, &used));
        if (used != part.size()) throw std::invalid_argument(part);
      } catch (const std::exception&) {
        fail(flag, ": '", part, "' is not a number");
      }
    }
  }
  return out;
}

}  // namespace act::host
