#include "act/host/checkpoint.h"

#include <cstdint>
#include <cstring>

#include "act/host/atomic_file.h"
#include "act/kernel/error.h"
#include "fnv1a.h"

namespace act::host {
namespace {

constexpr char kMagic[] = "ACTCKPT1";
constexpr std::size_t kMagicSize = 8;

template <class T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

void put_string(std::string& out, const std::string& s) {
  put(out, static_cast<std::uint32_t>(s.size()));
  out += s;
}

// Bounds-checked reads; every failure names the file.
class Reader {
 public:
  Reader(const std::string& path, const std::string& bytes, std::size_t end)
      : path_(path), bytes_(bytes), end_(end) {}

  template <class T>
  T get() {
    T value;
    need(sizeof value);
    std::memcpy(&value, bytes_.data() + pos_, sizeof value);
    pos_ += sizeof value;
    return value;
  }
  std::string get_string() {
    const auto n = get<std::uint32_t>();
    need(n);
    std::string s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  const char* take(std::size_t n) {
    need(n);
    const char* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }
  bool done() const { return pos_ == end_; }

 private:
  void need(std::size_t n) const {
    ACT_CHECK(n <= end_ - pos_, path_, ": checkpoint is corrupted (a record runs past the end)");
  }
  const std::string& path_;
  const std::string& bytes_;
  std::size_t end_;
  std::size_t pos_ = kMagicSize;
};

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  std::string out(kMagic, kMagicSize);
  put(out, static_cast<std::uint32_t>(checkpoint.meta.size()));
  for (const auto& [key, value] : checkpoint.meta) {
    put_string(out, key);
    put_string(out, value);
  }
  put(out, static_cast<std::uint32_t>(checkpoint.tensors.size()));
  for (const auto& [name, t] : checkpoint.tensors) {
    put_string(out, name);
    put(out, static_cast<std::uint8_t>(t.dtype()));
    put(out, static_cast<std::uint32_t>(t.rank()));
    for (std::int64_t d : t.shape()) put(out, d);
    put(out, static_cast<std::uint64_t>(t.nbytes()));
    if (t.nbytes() > 0) out.append(static_cast<const char*>(t.raw_data()), t.nbytes());
  }
  put(out, fnv1a(out));
  write_file_atomically(path, out);
}

Checkpoint load_checkpoint(const std::string& path) {
  const std::string bytes = read_whole_file(path);
  ACT_CHECK(bytes.size() >= kMagicSize + sizeof(std::uint64_t) &&
                std::memcmp(bytes.data(), kMagic, kMagicSize) == 0,
            path, ": not an ACT checkpoint (bad magic or too short)");
  const std::size_t end = bytes.size() - sizeof(std::uint64_t);
  std::uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + end, sizeof stored);
  ACT_CHECK(stored == fnv1a(std::string_view(bytes).substr(0, end)), path,
            ": checkpoint is corrupted (checksum mismatch); delete it to start over");
  Reader in(path, bytes, end);
  Checkpoint ck;
  const auto metas = in.get<std::uint32_t>();
  for (std::uint32_t i = 0; i < metas; ++i) {
    std::string key = in.get_string();
    ck.meta[key] = in.get_string();
  }
  const auto count = in.get<std::uint32_t>();
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::string name = in.get_string();
    const auto dtype = in.get<std::uint8_t>();
    ACT_CHECK(dtype < kNumDTypes, path, ": tensor '", name, "' has unknown dtype ", int{dtype});
    const auto rank = in.get<std::uint32_t>();
    ACT_CHECK(rank <= 16, path, ": tensor '", name, "' has rank ", rank);
    Shape shape(rank);
    for (auto& d : shape) {
      d = in.get<std::int64_t>();
      ACT_CHECK(d >= 0, path, ": tensor '", name, "' has a negative dimension");
    }
    const auto nbytes = in.get<std::uint64_t>();
    const char* data = in.take(nbytes);
    Tensor t(static_cast<DType>(dtype), shape);
    ACT_CHECK(nbytes == t.nbytes(), path, ": tensor '", name, "' holds ", nbytes,
              " bytes, its shape needs ", t.nbytes());
    if (nbytes > 0) std::memcpy(t.raw_data(), data, nbytes);
    ck.tensors[name] = std::move(t);
  }
  ACT_CHECK(in.done(), path, ": checkpoint is corrupted (trailing bytes)");
  return ck;
}

}  // namespace act::host
