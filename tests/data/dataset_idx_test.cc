#include <zlib.h>

#include <algorithm>
#include <filesystem>

#include "act/host/dataset.h"
#include "act/kernel/error.h"
#include "test_util.h"

namespace act::host {
namespace {

using act::test::ScratchDir;

std::vector<std::uint8_t> idx_bytes(std::uint8_t rank, const std::vector<std::uint32_t>& dims,
                                    const std::vector<std::uint8_t>& values) {
  std::vector<std::uint8_t> out = {0, 0, 0x08, rank};
  for (std::uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(d >> s));
  }
  out.insert(out.end(), values.begin(), values.end());
  return out;
}

void write_gz(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  gzclose(f);
}

std::vector<std::uint8_t> pixels(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * 37 + 11) % 256);
  return v;
}

// Expects act::Error whose message contains every part.
template <typename Fn>
void expect_error(Fn fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(DatasetIdx, RoundTripsGzippedAndPlain) {
  ScratchDir dir;
  const auto px = pixels(3 * 4 * 5);
  const std::vector<std::uint8_t> labels = {7, 0, 9};
  for (bool gz : {true, false}) {
    const std::string suffix = gz ? ".gz" : "";
    const std::string images = dir.file("toy-images-idx3-ubyte" + suffix);
    if (gz) {
      write_gz(images, idx_bytes(3, {3, 4, 5}, px));
      write_gz(dir.file("toy-labels-idx1-ubyte.gz"), idx_bytes(1, {3}, labels));
    } else {
      act::test::write_bytes(images, idx_bytes(3, {3, 4, 5}, px));
      act::test::write_bytes(dir.file("toy-labels-idx1-ubyte"), idx_bytes(1, {3}, labels));
    }
    EXPECT_EQ(default_idx_labels_path(images), dir.file("toy-labels-idx1-ubyte" + suffix));
    auto ds = open_dataset(images);
    ASSERT_EQ(ds->size(), 3);
    EXPECT_EQ(ds->sample_shape(), (Shape{1, 4, 5}));
    ASSERT_TRUE(ds->has_labels());
    const std::vector<std::int64_t> idx = {2, 0};
    Batch b = ds->get(idx);
    ASSERT_EQ(b.images.shape(), (Shape{2, 1, 4, 5}));
    const float* p = b.images.data<float>();
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(p[i], static_cast<float>(px[40 + i]) / 255.0f);
      EXPECT_EQ(p[20 + i], static_cast<float>(px[i]) / 255.0f);
    }
    ASSERT_TRUE(b.labels.has_value());
    EXPECT_EQ(b.labels->values<std::int64_t>()[0], 9);
    EXPECT_EQ(b.labels->values<std::int64_t>()[1], 7);
  }
}

TEST(DatasetIdx, AppliesMeanStdAfterScaling) {
  ScratchDir dir;
  const auto px = pixels(2 * 2 * 2);
  const std::string images = dir.file("n-images-idx3-ubyte");
  act::test::write_bytes(images, idx_bytes(3, {2, 2, 2}, px));
  DatasetOptions opt;
  opt.normalization.mean = {0.5f};
  opt.normalization.std = {0.25f};
  auto ds = open_idx(images, opt);
  EXPECT_FALSE(ds->has_labels());
  const std::vector<std::int64_t> idx = {1};
  Batch b = ds->get(idx);
  for (int i = 0; i < 4; ++i) {
    EXPECT_FLOAT_EQ(b.images.data<float>()[i],
                    (static_cast<float>(px[4 + i]) / 255.0f - 0.5f) / 0.25f);
  }
  EXPECT_FALSE(b.labels.has_value());
}

TEST(DatasetIdx, TruncatedPixelsNameFileAndSizes) {
  ScratchDir dir;
  const std::string images = dir.file("short-images-idx3-ubyte.gz");
  write_gz(images, idx_bytes(3, {10, 28, 28}, pixels(1234)));
  expect_error([&] { open_idx(images); }, {"short-images-idx3-ubyte.gz",
                                           "truncated: expected 7840 bytes of pixels, got 1234"});
}

TEST(DatasetIdx, CutGzipStreamIsReportedAsTruncated) {
  ScratchDir dir;
  const std::string full = dir.file("full.gz");
  write_gz(full, idx_bytes(3, {50, 28, 28}, pixels(50 * 28 * 28)));
  auto bytes = act::test::read_bytes(full);
  bytes.resize(bytes.size() / 2);
  const std::string cut = dir.file("cut-images-idx3-ubyte.gz");
  act::test::write_bytes(cut, bytes);
  expect_error([&] { open_idx(cut); }, {"cut-images-idx3-ubyte.gz", "truncated"});
}

TEST(DatasetIdx, BadMagicRankAndTrailingBytesAreErrors) {
  ScratchDir dir;
  const std::string bad = dir.file("bad-images-idx3-ubyte");
  auto bytes = idx_bytes(3, {1, 2, 2}, pixels(4));
  bytes[0] = 0x1f;
  act::test::write_bytes(bad, bytes);
  expect_error([&] { open_idx(bad); }, {"bad-images-idx3-ubyte", "not an IDX file"});

  const std::string labels_as_images = dir.file("rank1");
  act::test::write_bytes(labels_as_images, idx_bytes(1, {4}, pixels(4)));
  expect_error([&] { open_idx(labels_as_images); }, {"rank1", "rank-3", "got rank 1"});

  const std::string extra = dir.file("extra");
  act::test::write_bytes(extra, idx_bytes(3, {1, 2, 2}, pixels(6)));
  expect_error([&] { open_idx(extra); }, {"extra", "2 unexpected bytes"});

  const std::string floats = dir.file("floats");
  bytes = idx_bytes(3, {1, 1, 1}, {0, 0, 0, 0});
  bytes[2] = 0x0D;
  act::test::write_bytes(floats, bytes);
  expect_error([&] { open_idx(floats); }, {"floats", "unsupported IDX element type 0xd"});
}

TEST(DatasetIdx, LabelCountMustMatchImages) {
  ScratchDir dir;
  const std::string images = dir.file("m-images-idx3-ubyte");
  act::test::write_bytes(images, idx_bytes(3, {3, 2, 2}, pixels(12)));
  act::test::write_bytes(dir.file("m-labels-idx1-ubyte"), idx_bytes(1, {2}, {1, 2}));
  expect_error([&] { open_idx(images); }, {"m-labels-idx1-ubyte", "2 labels for 3 images"});
}

TEST(DatasetIdx, MissingFileIsNamed) {
  expect_error([] { open_dataset("/nonexistent/t10k-images-idx3-ubyte.gz"); },
               {"t10k-images-idx3-ubyte.gz"});
}

const char* kFashion = "/usr/share/datasets/fashion-mnist";

TEST(DatasetIdx, ReadsRealFashionMnist) {
  const std::string test_images = std::string(kFashion) + "/t10k-images-idx3-ubyte.gz";
  if (!std::filesystem::exists(test_images))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  for (const auto& [prefix, count] :
       {std::pair<std::string, std::int64_t>{"t10k", 10000}, {"train", 60000}}) {
    auto ds = open_dataset(std::string(kFashion) + "/" + prefix + "-images-idx3-ubyte.gz");
    ASSERT_EQ(ds->size(), count);
    EXPECT_EQ(ds->sample_shape(), (Shape{1, 28, 28}));
    ASSERT_TRUE(ds->has_labels());
    // Fashion-MNIST is balanced: every one of the 10 classes has count / 10 samples.
    std::vector<std::int64_t> per_class(10, 0);
    BatchOptions bo;
    bo.batch_size = 4096;
    BatchIterator it(*ds, bo);
    Batch b;
    float lo = 1.0f, hi = 0.0f;
    while (it.next(b)) {
      for (std::int64_t l : b.labels->values<std::int64_t>()) {
        ASSERT_GE(l, 0);
        ASSERT_LT(l, 10);
        ++per_class[static_cast<std::size_t>(l)];
      }
      const auto v = b.images.values<float>();
      lo = std::min(lo, *std::min_element(v.begin(), v.end()));
      hi = std::max(hi, *std::max_element(v.begin(), v.end()));
    }
    for (std::int64_t c : per_class) EXPECT_EQ(c, count / 10);
    EXPECT_EQ(lo, 0.0f);
    EXPECT_EQ(hi, 1.0f);
  }
}

}  // namespace
}  // namespace act::host
