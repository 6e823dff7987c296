// Helpers for the SDK tests: where the fixture plugins are, and `act` as a subprocess.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "host/test_util.h"

namespace act::test {

inline const std::filesystem::path kFixtureDir = ACT_FIXTURE_PLUGIN_DIR;
inline const std::string kActProgram = ACT_BINARY_DIR "/bin/act";

// <fixture dir>/<name>.so, e.g. fixture("fixture_good").
inline std::filesystem::path fixture(const std::string& name) {
  return kFixtureDir / (name + ".so");
}

struct CommandResult {
  bool exited = false;  // false: killed by a signal
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `command` with sh, stdin from /dev/null; captures stdout and stderr.
inline CommandResult run_command(const std::string& command) {
  ScratchDir dir;
  const std::string full = command + " </dev/null >" + dir.file("out") + " 2>" + dir.file("err");
  const int status = std::system(full.c_str());
  CommandResult r;
  r.exited = WIFEXITED(status);
  r.code = r.exited ? WEXITSTATUS(status) : -1;
  r.out = read_bytes(dir.file("out"));
  r.err = read_bytes(dir.file("err"));
  return r;
}

// Copies the good fixture to <dir>/<file_name>: the same plugin at another path.
inline std::filesystem::path copy_good_fixture(const std::filesystem::path& dir,
                                               const std::string& file_name = "good.so") {
  std::filesystem::create_directories(dir);
  const auto target = dir / file_name;
  std::filesystem::copy_file(fixture("fixture_good"), target);
  return target;
}

}  // namespace act::test
