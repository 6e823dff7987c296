#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "act/host/dataset.h"
#include "act/kernel/error.h"

namespace act::host {
namespace {

// Sample i is a [1] tensor holding i; label i % 3.
class CountingDataset final : public Dataset {
 public:
  explicit CountingDataset(std::int64_t n) : n_(n) {}
  std::int64_t size() const override { return n_; }
  Shape sample_shape() const override { return {1}; }
  bool has_labels() const override { return true; }
  std::string describe() const override { return "counting"; }
  Batch get(std::span<const std::int64_t> indices) const override {
    Batch b;
    b.indices.assign(indices.begin(), indices.end());
    const auto n = static_cast<std::int64_t>(indices.size());
    b.images = Tensor(DType::kF32, {n, 1});
    b.labels = Tensor(DType::kI64, {n});
    for (std::int64_t i = 0; i < n; ++i) {
      b.images.data<float>()[i] = static_cast<float>(indices[static_cast<std::size_t>(i)]);
      b.labels->data<std::int64_t>()[i] = indices[static_cast<std::size_t>(i)] % 3;
    }
    return b;
  }

 private:
  std::int64_t n_;
};

std::vector<std::int64_t> epoch(BatchIterator& it, std::vector<std::int64_t>* sizes = nullptr) {
  std::vector<std::int64_t> seen;
  Batch b;
  while (it.next(b)) {
    if (sizes) sizes->push_back(b.images.dim(0));
    for (float v : b.images.values<float>()) seen.push_back(static_cast<std::int64_t>(v));
  }
  return seen;
}

TEST(DatasetBatch, SequentialCoversEverySampleOnce) {
  CountingDataset ds(10);
  BatchOptions opt;
  opt.batch_size = 4;
  BatchIterator it(ds, opt);
  EXPECT_EQ(it.num_batches(), 3);
  std::vector<std::int64_t> sizes;
  const auto seen = epoch(it, &sizes);
  std::vector<std::int64_t> expect(10);
  std::iota(expect.begin(), expect.end(), 0);
  EXPECT_EQ(seen, expect);
  EXPECT_EQ(sizes, (std::vector<std::int64_t>{4, 4, 2}));
}

TEST(DatasetBatch, DropLastAndLimit) {
  CountingDataset ds(10);
  BatchOptions opt;
  opt.batch_size = 4;
  opt.drop_last = true;
  BatchIterator it(ds, opt);
  EXPECT_EQ(it.num_batches(), 2);
  EXPECT_EQ(epoch(it).size(), 8u);
  opt.drop_last = false;
  opt.limit = 5;
  BatchIterator limited(ds, opt);
  EXPECT_EQ(epoch(limited), (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
}

TEST(DatasetBatch, ShuffleIsDeterministicPerSeed) {
  CountingDataset ds(100);
  BatchOptions opt;
  opt.batch_size = 7;
  opt.shuffle = true;
  opt.seed = 42;
  BatchIterator a(ds, opt), b(ds, opt);
  const auto ea = epoch(a), eb = epoch(b);
  EXPECT_EQ(ea, eb);
  std::vector<std::int64_t> sorted = ea;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int64_t> expect(100);
  std::iota(expect.begin(), expect.end(), 0);
  EXPECT_EQ(sorted, expect);  // a permutation
  EXPECT_NE(ea, expect);      // and actually shuffled

  opt.seed = 43;
  BatchIterator c(ds, opt);
  EXPECT_NE(epoch(c), ea);

  // A new epoch draws a new order, the same one for two iterators with the same seed.
  a.reset();
  b.reset();
  const auto a2 = epoch(a);
  EXPECT_NE(a2, ea);
  EXPECT_EQ(a2, epoch(b));
}

TEST(DatasetBatch, LabelsFollowShuffledSamples) {
  CountingDataset ds(20);
  BatchOptions opt;
  opt.batch_size = 6;
  opt.shuffle = true;
  opt.seed = 7;
  BatchIterator it(ds, opt);
  Batch b;
  while (it.next(b)) {
    for (std::int64_t i = 0; i < b.images.dim(0); ++i) {
      EXPECT_EQ(b.labels->data<std::int64_t>()[i],
                static_cast<std::int64_t>(b.images.data<float>()[i]) % 3);
      EXPECT_EQ(b.indices[static_cast<std::size_t>(i)],
                static_cast<std::int64_t>(b.images.data<float>()[i]));
    }
  }
}

TEST(DatasetBatch, RejectsZeroBatch) {
  CountingDataset ds(3);
  BatchOptions opt;
  opt.batch_size = 0;
  EXPECT_THROW(BatchIterator(ds, opt), Error);
}

TEST(DatasetNormalization, ChecksChannelCountsAndStd) {
  Normalization n;
  n.mean = {0.1f, 0.2f};
  EXPECT_THROW(n.check(3), Error);
  EXPECT_NO_THROW(n.check(2));
  n.std = {0.0f};
  EXPECT_THROW(n.check(2), Error);
}

}  // namespace
}  // namespace act::host
