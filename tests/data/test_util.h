// Helpers shared by the data tests: scratch folders, raw file writes, and finding python.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace act::test {

// A fresh folder under the system temp dir, removed when the test ends.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("act_data_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The python interpreter for helper scripts: $ACT_PYTHON, else python3 on PATH.
inline std::string python() {
  const char* env = std::getenv("ACT_PYTHON");
  return env && *env ? env : "python3";
}

// True if `python -c "import <modules>"` succeeds.
inline bool python_has(const std::string& modules) {
  const std::string cmd = python() + " -c \"import " + modules + "\" >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

inline int run(const std::string& cmd) {
  return std::system(cmd.c_str());
}

}  // namespace act::test
