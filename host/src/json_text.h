// JSON text for the subcommands' --json output: quoting and escaping of strings.
#pragma once

#include <cstdio>
#include <string>

namespace act::host {

inline std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

// `s` as a JSON string literal.
inline std::string json_quote(const std::string& s) {
  // Built by appending: GCC 12 raises a false -Wrestrict on `"\"" + std::string&&`.
  std::string out = "\"";
  out += json_escape(s);
  out += '"';
  return out;
}

}  // namespace act::host
