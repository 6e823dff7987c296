// IDX files (the MNIST family's format): a big-endian header (two zero bytes, a type code, a
// rank, then rank 32-bit dims) followed by the raw values. Read through zlib's gz* API, which
// passes plain files through unchanged, so .gz and uncompressed files share one path.
#include <zlib.h>

#include <algorithm>
#include <filesystem>

#include "act/host/dataset.h"
#include "act/kernel/error.h"

namespace act::host {
namespace {

std::string base_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

struct IdxFile {
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> values;
};

// Reads the whole (decompressed) file. A gzip stream that ends early keeps what it decoded
// so the size check below can say how much is missing, which is the more useful message.
std::vector<std::uint8_t> read_all(const std::string& path, bool& stream_truncated) {
  gzFile f = gzopen(path.c_str(), "rb");
  ACT_CHECK(f != nullptr, base_name(path), ": cannot open (", path, ")");
  gzbuffer(f, 1 << 17);
  std::vector<std::uint8_t> out;
  std::vector<std::uint8_t> chunk(1 << 20);
  stream_truncated = false;
  for (;;) {
    const int got = gzread(f, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (got > 0) out.insert(out.end(), chunk.begin(), chunk.begin() + got);
    if (got < static_cast<int>(chunk.size())) {
      int err = Z_OK;
      const char* msg = gzerror(f, &err);
      if (err == Z_BUF_ERROR) {
        stream_truncated = true;
      } else if (err != Z_OK && err != Z_STREAM_END) {
        const std::string text = msg ? msg : "unknown zlib error";
        gzclose(f);
        fail(base_name(path), ": corrupt gzip data: ", text);
      }
      break;
    }
  }
  gzclose(f);
  return out;
}

std::uint32_t read_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

// `what` names the payload in messages ("pixels", "labels").
IdxFile read_idx(const std::string& path, int expected_rank, const char* what) {
  bool stream_truncated = false;
  std::vector<std::uint8_t> bytes = read_all(path, stream_truncated);
  const std::string name = base_name(path);
  ACT_CHECK(bytes.size() >= 4, name, ": truncated: ", bytes.size(),
            " bytes, too short for an IDX header");
  ACT_CHECK(bytes[0] == 0 && bytes[1] == 0, name, ": not an IDX file (bad magic ",
            static_cast<int>(bytes[0]), ",", static_cast<int>(bytes[1]), "; expected 0,0)");
  ACT_CHECK(bytes[2] == 0x08, name, ": unsupported IDX element type 0x", std::hex,
            static_cast<int>(bytes[2]), std::dec, " (only unsigned bytes, 0x08, are supported)");
  const int rank = bytes[3];
  ACT_CHECK(rank == expected_rank, name, ": expected a rank-", expected_rank,
            " IDX file (magic 0x0000080", expected_rank, "), got rank ", rank);
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(rank);
  ACT_CHECK(bytes.size() >= header, name, ": truncated: header needs ", header, " bytes, got ",
            bytes.size());
  IdxFile out;
  std::uint64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    const std::uint32_t d = read_be32(bytes.data() + 4 + 4 * i);
    ACT_CHECK(d > 0 || i == 0, name, ": dimension ", i, " is 0");
    out.dims.push_back(d);
    count *= d;
    ACT_CHECK(count < (std::uint64_t{1} << 40), name, ": dimensions too large");
  }
  const std::uint64_t got = bytes.size() - header;
  ACT_CHECK(got >= count, name, ": truncated: expected ", count, " bytes of ", what, ", got ", got,
            stream_truncated ? " (the gzip stream ends early)" : "");
  ACT_CHECK(got == count, name, ": ", got - count, " unexpected bytes after the ", count,
            " bytes of ", what);
  out.values.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return out;
}

class IdxDataset final : public Dataset {
 public:
  IdxDataset(const std::string& images_path, const DatasetOptions& options)
      : path_(images_path), normalization_(options.normalization) {
    IdxFile images = read_idx(images_path, 3, "pixels");
    count_ = images.dims[0];
    height_ = images.dims[1];
    width_ = images.dims[2];
    pixels_ = std::move(images.values);
    normalization_.check(1);
    labels_path_ =
        options.labels_path.empty() ? default_idx_labels_path(images_path) : options.labels_path;
    if (!labels_path_.empty()) {
      IdxFile labels = read_idx(labels_path_, 1, "labels");
      ACT_CHECK(labels.dims[0] == count_, base_name(labels_path_), ": ", labels.dims[0],
                " labels for ", count_, " images in ", base_name(images_path));
      labels_ = std::move(labels.values);
    }
  }

  std::int64_t size() const override { return count_; }
  Shape sample_shape() const override { return {1, height_, width_}; }
  bool has_labels() const override { return !labels_path_.empty(); }
  std::string describe() const override {
    return detail::concat(
        "IDX ", base_name(path_), ": ", count_, " x ", shape_to_string(sample_shape()),
        has_labels() ? ", labels from " + base_name(labels_path_) : ", no labels");
  }

  Batch get(std::span<const std::int64_t> indices) const override {
    const auto n = static_cast<std::int64_t>(indices.size());
    const std::int64_t plane = height_ * width_;
    Batch batch;
    batch.indices.assign(indices.begin(), indices.end());
    batch.images = Tensor(DType::kF32, {n, 1, height_, width_});
    float* out = batch.images.data<float>();
    std::int64_t* labels = nullptr;
    if (has_labels()) {
      batch.labels = Tensor(DType::kI64, {n});
      labels = batch.labels->data<std::int64_t>();
    }
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t idx = indices[static_cast<std::size_t>(i)];
      ACT_CHECK(idx >= 0 && idx < count_, base_name(path_), ": sample index ", idx,
                " out of range [0, ", count_, ")");
      const std::uint8_t* src = pixels_.data() + idx * plane;
      float* dst = out + i * plane;
      for (std::int64_t p = 0; p < plane; ++p) dst[p] = static_cast<float>(src[p]) / 255.0f;
      normalization_.apply(dst, 1, plane);
      if (labels) labels[i] = labels_[static_cast<std::size_t>(idx)];
    }
    return batch;
  }

 private:
  std::string path_;
  std::string labels_path_;
  Normalization normalization_;
  std::int64_t count_ = 0, height_ = 0, width_ = 0;
  std::vector<std::uint8_t> pixels_;
  std::vector<std::uint8_t> labels_;
};

}  // namespace

std::string default_idx_labels_path(const std::string& images_path) {
  namespace fs = std::filesystem;
  const fs::path p(images_path);
  std::string name = p.filename().string();
  const auto pos = name.find("-images-idx3-ubyte");
  if (pos == std::string::npos) return {};
  const std::string stem = name.substr(0, pos) + "-labels-idx1-ubyte";
  std::error_code ec;
  // Prefer the same compression as the images, then the other one.
  const bool gz = name.size() > 3 && name.substr(name.size() - 3) == ".gz";
  for (const std::string& candidate : gz ? std::vector<std::string>{stem + ".gz", stem}
                                         : std::vector<std::string>{stem, stem + ".gz"}) {
    const fs::path c = p.parent_path() / candidate;
    if (fs::is_regular_file(c, ec)) return c.string();
  }
  return {};
}

std::unique_ptr<Dataset> open_idx(const std::string& images_path, const DatasetOptions& options) {
  return std::make_unique<IdxDataset>(images_path, options);
}

}  // namespace act::host
