#include "act/host/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "act/kernel/error.h"

namespace act::host {
namespace {

namespace fs = std::filesystem;

// Removes the temporary file unless released, so every failure path cleans up.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

void write_all(int fd, std::string_view bytes, const std::string& what) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ACT_CHECK(n > 0, what, ": write failed (", std::strerror(errno), ")");
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

void write_file_atomically(const std::string& path, std::string_view bytes,
                           const std::function<void(const std::string&)>& check) {
  const fs::path target(path);
  fs::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  // Built with append(): gcc 12 warns falsely (-Wrestrict) on the operator+ form.
  std::string leaf(".");
  leaf.append(target.filename().string()).append(".tmp-XXXXXX");
  std::string tmpl = (dir / leaf).string();
  const int fd = ::mkstemp(tmpl.data());
  ACT_CHECK(fd >= 0, path, ": cannot create a temporary file in '", dir.string(), "' (",
            std::strerror(errno), ")");
  TempFile tmp(tmpl);
  try {
    // mkstemp makes 0600 files; the result should be as readable as the file it replaces.
    struct stat st {};
    const mode_t mode = ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
    ::fchmod(fd, mode);
    write_all(fd, bytes, path);
    ACT_CHECK(::fsync(fd) == 0, path, ": fsync failed (", std::strerror(errno), ")");
  } catch (...) {
    ::close(fd);
    throw;
  }
  ACT_CHECK(::close(fd) == 0, path, ": close failed (", std::strerror(errno), ")");
  if (check) check(tmp.path());
  ACT_CHECK(std::rename(tmp.path().c_str(), path.c_str()) == 0, path, ": rename failed (",
            std::strerror(errno), ")");
  tmp.release();
}

std::string read_whole_file(const std::string& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  ACT_CHECK(fs::exists(status), path, ": no such file");
  ACT_CHECK(!fs::is_directory(status), path, ": is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  ACT_CHECK(in.is_open(), path, ": cannot open (", std::strerror(errno), ")");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ACT_CHECK(!in.bad(), path, ": read failed");
  return bytes;
}

}  // namespace act::host
