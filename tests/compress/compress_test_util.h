// Helpers for the `act compress` tests: small IDX subsets of the real Fashion-MNIST, configs
// written to scratch folders, and compress() with its output captured.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "act/host/compress.h"
#include "act/host/dataset.h"
#include "act/kernel/error.h"
#include "error_of.h"
#include "host/test_util.h"

namespace act::test {

// The number after "key": in a JSON text (report.json, a script's JSON line), or -1 when the
// key is absent.
inline double number_after(const std::string& text, const std::string& key, std::size_t from = 0) {
  const auto at = text.find("\"" + key + "\": ", from);
  if (at == std::string::npos) return -1.0;
  return std::stod(text.substr(at + key.size() + 4));
}

inline const std::string kFashionDir = "/usr/share/datasets/fashion-mnist";
inline const std::string kBundledModel = ACT_SOURCE_DIR "/models/fashion_cnn.onnx";
inline const std::string kProbeDir = ACT_PROBE_PLUGIN_DIR;
inline const std::string kAct = ACT_BINARY_DIR "/bin/act";

inline bool have_fashion() {
  return std::filesystem::exists(kFashionDir + "/t10k-images-idx3-ubyte.gz");
}

// Writes the first `count` samples of a Fashion-MNIST split as uncompressed IDX files
// <dir>/<stem>-images-idx3-ubyte and <dir>/<stem>-labels-idx1-ubyte; returns the images path.
inline std::string write_idx_subset(const std::string& split, std::int64_t count,
                                    const std::filesystem::path& dir, const std::string& stem) {
  auto data = host::open_idx(kFashionDir + "/" + split + "-images-idx3-ubyte.gz");
  std::vector<std::int64_t> idx(static_cast<std::size_t>(count));
  std::iota(idx.begin(), idx.end(), std::int64_t{0});
  const host::Batch batch = data->get(idx);
  auto be32 = [](std::string& s, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((v >> shift) & 0xFF);
  };
  std::string images, labels;
  be32(images, 0x00000803);
  be32(images, static_cast<std::uint32_t>(count));
  be32(images, 28);
  be32(images, 28);
  const float* px = batch.images.data<float>();
  for (std::int64_t i = 0; i < batch.images.numel(); ++i) {
    images += static_cast<char>(static_cast<unsigned char>(px[i] * 255.0F + 0.5F));
  }
  be32(labels, 0x00000801);
  be32(labels, static_cast<std::uint32_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    labels += static_cast<char>(batch.labels->data<std::int64_t>()[i]);
  }
  const std::string images_path = (dir / (stem + "-images-idx3-ubyte")).string();
  write_bytes(images_path, images);
  write_bytes((dir / (stem + "-labels-idx1-ubyte")).string(), labels);
  return images_path;
}

// Reads everything written to `file` since it was opened.
// The message host::compress(o) fails with (error_of.h).
inline std::string compress_error(const host::CompressOptions& o) {
  return error_of([&] { host::compress(o); });
}

inline std::string slurp(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, file)) > 0) out.append(buf, n);
  return out;
}

// The python interpreter for helper scripts: $ACT_PYTHON, else python3 on PATH.
inline std::string python() {
  const char* env = std::getenv("ACT_PYTHON");
  return env && *env ? env : "python3";
}

// Whether python() imports `modules` ("onnxruntime, numpy").
inline bool python_has(const std::string& modules) {
  return std::system((python() + " -c \"import " + modules + "\" >/dev/null 2>&1").c_str()) == 0;
}

// `act compress` of the bundled model over Fashion-MNIST subsets in a scratch folder, with the
// plugins of the build's plugin folder; output captured in log_. Derived fixtures call
// use_subsets() from SetUp.
class CompressFixture : public ::testing::Test {
 protected:
  void use_subsets(std::int64_t train, std::int64_t eval) {
    if (!have_fashion()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    train_ = write_idx_subset("train", train, dir_.path(), "train");
    eval_ = write_idx_subset("t10k", eval, dir_.path(), "t10k");
  }

  host::CompressOptions options(const std::string& yaml) {
    write_bytes(dir_.file("q.yaml"), yaml);
    host::CompressOptions o;
    o.config = dir_.file("q.yaml");
    o.model = kBundledModel;
    o.data = train_;
    o.eval_data = eval_;
    o.save_dir = dir_.file("out");
    o.plugin_dirs = {};  // the build's plugin folder
    o.log = log_.get();
    o.out = log_.get();
    return o;
  }

  // The message compress() fails with for this config.
  std::string error_of(const std::string& yaml) { return compress_error(options(yaml)); }

  ScratchDir dir_;
  std::string train_, eval_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> log_{std::tmpfile(), &std::fclose};
};

}  // namespace act::test
