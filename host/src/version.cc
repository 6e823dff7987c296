#include "act/host/version.h"

#include <google/protobuf/stubs/common.h>

namespace act::host {

std::string version() {
  return ACT_VERSION;
}

std::string build_info() {
  std::string out = "act " + version() + "\n";
  out += "protobuf " + google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION) + "\n";
  out += "compiler g++ " __VERSION__ "\n";
  return out;
}

}  // namespace act::host
