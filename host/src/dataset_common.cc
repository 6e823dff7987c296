// Pieces shared by every dataset format: normalization, finiteness checks, batching, and the
// choice of format by path.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <random>

#include "act/host/dataset.h"
#include "act/kernel/error.h"

namespace act::host {

void Normalization::check(std::int64_t channels) const {
  auto fits = [&](const std::vector<float>& v) {
    return v.empty() || v.size() == 1 || static_cast<std::int64_t>(v.size()) == channels;
  };
  ACT_CHECK(fits(mean), "normalization: ", mean.size(), " mean values for ", channels,
            " channels (give 1 or ", channels, ")");
  ACT_CHECK(fits(std), "normalization: ", std.size(), " std values for ", channels,
            " channels (give 1 or ", channels, ")");
  for (float s : std)
    ACT_CHECK(s > 0.0f && std::isfinite(s), "normalization: std ", s, " is not positive");
}

void Normalization::apply(float* data, std::int64_t channels, std::int64_t plane) const {
  if (empty()) return;
  for (std::int64_t c = 0; c < channels; ++c) {
    const float m = mean.empty() ? 0.0f : mean[mean.size() == 1 ? 0 : static_cast<std::size_t>(c)];
    const float s = std.empty() ? 1.0f : std[std.size() == 1 ? 0 : static_cast<std::size_t>(c)];
    // Multiplying by the reciprocal would differ from (x - m) / s in the last bit; keep the
    // division so results match the usual Python preprocessing exactly.
    float* p = data + c * plane;
    for (std::int64_t i = 0; i < plane; ++i) p[i] = (p[i] - m) / s;
  }
}

void check_finite(const Tensor& tensor, const std::string& what) {
  auto scan = [&](const auto* p) {
    for (std::int64_t i = 0; i < tensor.numel(); ++i) {
      if (!std::isfinite(p[i])) {
        fail(what, ": ", std::isnan(p[i]) ? "NaN" : "Inf", " at index ", i, " (shape ",
             shape_to_string(tensor.shape()), ")");
      }
    }
  };
  if (tensor.dtype() == DType::kF32) scan(tensor.data<float>());
  if (tensor.dtype() == DType::kF64) scan(tensor.data<double>());
}

BatchIterator::BatchIterator(const Dataset& dataset, BatchOptions options)
    : dataset_(dataset), options_(options) {
  ACT_CHECK(options_.batch_size >= 1, "batch size must be at least 1, got ", options_.batch_size);
  std::int64_t n = dataset_.size();
  if (options_.limit >= 0) n = std::min(n, options_.limit);
  order_.resize(static_cast<std::size_t>(n));
  std::iota(order_.begin(), order_.end(), std::int64_t{0});
  if (options_.shuffle) shuffle_order();
}

void BatchIterator::shuffle_order() {
  std::iota(order_.begin(), order_.end(), std::int64_t{0});
  // mt19937_64's output sequence is fixed by the standard, but std::shuffle and
  // uniform_int_distribution are not; drawing by rejection ourselves keeps orders identical
  // across standard libraries.
  std::mt19937_64 rng(options_.seed + 0x9E3779B97F4A7C15ULL * epoch_);
  for (std::size_t i = order_.size(); i > 1; --i) {
    const std::uint64_t bound = i;
    const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() -
                                std::numeric_limits<std::uint64_t>::max() % bound;
    std::uint64_t r;
    do {
      r = rng();
    } while (r >= limit);
    std::swap(order_[i - 1], order_[static_cast<std::size_t>(r % bound)]);
  }
}

void BatchIterator::reset() {
  position_ = 0;
  ++epoch_;
  if (options_.shuffle) shuffle_order();
}

void BatchIterator::skip(std::int64_t batches) {
  position_ =
      std::min(num_samples(), position_ + std::max<std::int64_t>(batches, 0) * options_.batch_size);
}

std::int64_t BatchIterator::num_samples() const {
  const auto n = static_cast<std::int64_t>(order_.size());
  return options_.drop_last ? n - n % options_.batch_size : n;
}

std::int64_t BatchIterator::num_batches() const {
  return (num_samples() + options_.batch_size - 1) / options_.batch_size;
}

bool BatchIterator::next(Batch& batch) {
  const std::int64_t end_all = num_samples();
  if (position_ >= end_all) return false;
  const std::int64_t end = std::min(end_all, position_ + options_.batch_size);
  std::span<const std::int64_t> indices(order_.data() + position_,
                                        static_cast<std::size_t>(end - position_));
  batch = dataset_.get(indices);
  position_ = end;
  return true;
}

std::unique_ptr<Dataset> open_dataset(const std::string& path, const DatasetOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  ACT_CHECK(fs::exists(path, ec), path, ": no such file or directory");
  if (fs::is_directory(path, ec)) return open_image_folder(path, options);
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char ch) { return std::tolower(ch); });
  if (ext == ".npy" || ext == ".npz") return open_npy(path, options);
  return open_idx(path, options);
}

}  // namespace act::host
