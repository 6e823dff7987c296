// JSON text for the subcommands' --json output and the reports: quoted and escaped
// strings, numbers.
#pragma once

#include <cmath>
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

// `v` as a JSON number (6 significant digits), or null when it is not finite (JSON has no
// infinity or NaN).
inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace act::host
