#include "calibrator.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <mutex>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "act/kernel/error.h"
#include "act/kernel/parallel.h"
#include "value_range.h"

namespace act::quant {

namespace {
// Elements per chunk of the histogram pass.
constexpr std::int64_t kChunk = 16384;
}  // namespace

sdk::Status Calibrator::consume(std::int64_t batch, const char* value,
                                const Tensor& tensor) noexcept {
  try {
    ACT_CHECK(tensor.dtype() == DType::kF32, "calibration: '", value, "' is ",
              dtype_name(tensor.dtype()), ", not f32");
    batches_ = std::max(batches_, batch + 1);
    const float* x = tensor.data<float>();
    const std::int64_t n = tensor.numel();
    Stats& s = stats_[value];
    // Range first (value_range.h); the element that is not finite is looked for only when
    // there is one.
    const ValueRange range = value_range(x, n);
    if (!range.finite) {
      for (std::int64_t i = 0; i < n; ++i) {
        ACT_CHECK(std::isfinite(x[i]), "calibration: activation '", value, "' is ", x[i],
                  " in batch ", batch, " (element ", i, ")");
      }
    }
    const float lo = range.lo, hi = range.hi;
    if (n == 0) return sdk::Status::success();
    s.min = s.batches == 0 ? lo : std::min(s.min, lo);
    s.max = s.batches == 0 ? hi : std::max(s.max, hi);
    const float abs_max = std::max(std::fabs(lo), std::fabs(hi));
    s.sum_batch_absmax += abs_max;
    ++s.batches;
    if (histogram_) add_to_histogram(s, x, n, abs_max);
    if (auto axis = channel_axis_.find(value); axis != channel_axis_.end()) {
      add_to_channel_sums(s, tensor, axis->second);
    }
    return sdk::Status::success();
  } catch (const std::exception& e) {
    error_ = e.what();
    return sdk::Status::failure(error_.c_str());
  }
}

void Calibrator::add_to_histogram(Stats& s, const float* x, std::int64_t n, float abs_max) {
  if (s.hist.empty()) s.hist.assign(kBins, 0);
  if (s.hist_range == 0.0F) {
    s.hist_range = abs_max;  // zeros seen so far sit in bin 0 whatever the width
  }
  while (s.hist_range < abs_max) {
    // Doubling the range halves the resolution: bins 2i and 2i+1 become bin i.
    for (std::size_t b = 0; b < kBins / 2; ++b) s.hist[b] = s.hist[2 * b] + s.hist[2 * b + 1];
    std::fill(s.hist.begin() + kBins / 2, s.hist.end(), 0);
    s.hist_range *= 2.0F;
  }
  s.count += static_cast<std::uint64_t>(n);
  if (s.hist_range == 0.0F) {
    s.hist[0] += static_cast<std::uint64_t>(n);
    return;
  }
  // Per chunk, four partial histograms, so consecutive elements in one bin (the zeros after a
  // Relu, half of many tensors) do not wait on each other's increments; chunks are shared out
  // like the range pass and added under a lock.
  const float to_bin = static_cast<float>(kBins) / s.hist_range;
  const auto bin = [to_bin](float v) {
    return static_cast<std::size_t>(std::min(static_cast<int>(std::fabs(v) * to_bin), kBins - 1));
  };
  std::mutex merge;
  parallel_for(n, kChunk, [&](std::int64_t b0, std::int64_t b1) {
    std::vector<std::uint32_t> part(4 * static_cast<std::size_t>(kBins), 0);
    std::int64_t i = b0;
#if defined(__AVX512F__)
    // Sixteen bin indices per step in vector registers (|x| * to_bin, truncated, capped at
    // the last bin), then the increments; the scalar index arithmetic was most of this pass.
    const __m512 scale = _mm512_set1_ps(to_bin);
    const __m512i last = _mm512_set1_epi32(kBins - 1);
    alignas(64) std::int32_t idx[16];
    for (; i + 16 <= b1; i += 16) {
      const __m512 v = _mm512_abs_ps(_mm512_loadu_ps(x + i));
      // Masked forms with every lane set (GCC 12 warns on the plain ones' undefined start).
      const __m512i b = _mm512_mask_cvttps_epi32(last, 0xFFFF, _mm512_mul_ps(v, scale));
      _mm512_store_si512(idx, _mm512_mask_min_epi32(last, 0xFFFF, b, last));
      for (int k = 0; k < 16; k += 4) {
        ++part[static_cast<std::size_t>(idx[k])];
        ++part[kBins + static_cast<std::size_t>(idx[k + 1])];
        ++part[2 * kBins + static_cast<std::size_t>(idx[k + 2])];
        ++part[3 * kBins + static_cast<std::size_t>(idx[k + 3])];
      }
    }
#endif
    for (; i + 4 <= b1; i += 4) {
      ++part[bin(x[i])];
      ++part[kBins + bin(x[i + 1])];
      ++part[2 * kBins + bin(x[i + 2])];
      ++part[3 * kBins + bin(x[i + 3])];
    }
    for (; i < b1; ++i) ++part[bin(x[i])];
    const std::lock_guard<std::mutex> lock(merge);
    for (std::size_t b = 0; b < static_cast<std::size_t>(kBins); ++b) {
      s.hist[b] += static_cast<std::uint64_t>(part[b]) + part[kBins + b] + part[2 * kBins + b] +
                   part[3 * kBins + b];
    }
  });
}

void Calibrator::add_to_channel_sums(Stats& s, const Tensor& t, int axis) {
  const Shape& shape = t.shape();
  const int rank = static_cast<int>(shape.size());
  const int a = axis < 0 ? axis + rank : axis;
  ACT_CHECK(a >= 0 && a < rank, "calibration: channel axis ", axis, " of a rank-", rank, " tensor");
  std::int64_t outer = 1, inner = 1;
  for (int d = 0; d < a; ++d) outer *= shape[static_cast<std::size_t>(d)];
  for (int d = a + 1; d < rank; ++d) inner *= shape[static_cast<std::size_t>(d)];
  const std::int64_t channels = shape[static_cast<std::size_t>(a)];
  if (s.channel_sum.empty()) s.channel_sum.assign(static_cast<std::size_t>(channels), 0.0);
  ACT_CHECK(static_cast<std::int64_t>(s.channel_sum.size()) == channels,
            "calibration: the channel count changed between batches");
  const float* x = t.data<float>();
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t c = 0; c < channels; ++c) {
      const float* row = x + (o * channels + c) * inner;
      double sum = 0.0;
      for (std::int64_t i = 0; i < inner; ++i) sum += row[i];
      s.channel_sum[static_cast<std::size_t>(c)] += sum;
    }
  }
  s.per_channel_count += static_cast<std::uint64_t>(outer * inner);
}

std::vector<double> Calibrator::channel_means(const std::string& value) const {
  const Stats& s = stats(value);
  ACT_CHECK(s.per_channel_count > 0, "calibration: channel means of '", value,
            "' were not tracked");
  std::vector<double> means = s.channel_sum;
  for (double& m : means) m /= static_cast<double>(s.per_channel_count);
  return means;
}

const Calibrator::Stats& Calibrator::stats(const std::string& value) const {
  auto it = stats_.find(value);
  ACT_CHECK(it != stats_.end() && it->second.batches > 0, "calibration: no data reached '", value,
            "'");
  return it->second;
}

float Calibrator::min_of(const std::string& value) const {
  return stats(value).min;
}

float Calibrator::max_of(const std::string& value) const {
  return stats(value).max;
}

namespace {

// Expected error of quantizing the |x| histogram with clip `t` and `levels` steps: squared
// (mse) or absolute (emd). Above the clip a value loses its distance to it; below, rounding
// to a uniform grid of step s costs s^2/12 on average squared and s/4 absolute. Quantization
// maps x monotonically, so the absolute error is also the 1-D earth mover's distance between
// the float and the quantized distributions.
double quantization_error(const std::vector<std::uint64_t>& hist, double bin_width, double t,
                          int levels, bool squared) {
  const double step = t / levels;
  const double rounding = squared ? step * step / 12.0 : step / 4.0;
  double err = 0.0;
  for (std::size_t b = 0; b < hist.size(); ++b) {
    if (hist[b] == 0) continue;
    const double center = (static_cast<double>(b) + 0.5) * bin_width;
    const double clipped = center - t;
    const double e = center > t ? (squared ? clipped * clipped : clipped) : rounding;
    err += static_cast<double>(hist[b]) * e;
  }
  return err;
}

// KL(P || Q) where P is the histogram clipped at `bins` (the tail folded into the last bin)
// and Q is P merged into `levels` groups and spread back evenly over each group's nonzero bins.
// The first bin is left out of both: it holds the exact zeros of ReLU and Clip outputs, often
// most of the tensor, which every grid represents exactly. Counted, they dominated the first
// group of every candidate that merges bins, and KL took the smallest clip on offer (an eighth
// of the range): a MobileNetV2-style model scored 63% instead of 90%.
double clipped_kl(const std::vector<std::uint64_t>& hist, std::size_t bins, int levels) {
  std::vector<double> p(hist.begin(), hist.begin() + static_cast<std::ptrdiff_t>(bins));
  for (std::size_t b = bins; b < hist.size(); ++b) p[bins - 1] += static_cast<double>(hist[b]);
  p[0] = 0.0;
  std::vector<double> q(bins, 0.0);
  const double per_level = static_cast<double>(bins - 1) / levels;
  for (int l = 0; l < levels; ++l) {
    const auto lo = 1 + static_cast<std::size_t>(std::floor(l * per_level));
    const auto hi = std::min(bins, 1 + static_cast<std::size_t>(std::floor((l + 1) * per_level)));
    double mass = 0.0;
    std::size_t nonzero = 0;
    for (std::size_t b = lo; b < hi; ++b) {
      mass += static_cast<double>(hist[b]);
      if (hist[b] != 0) ++nonzero;
    }
    for (std::size_t b = lo; b < hi; ++b) {
      if (hist[b] != 0) q[b] = mass / static_cast<double>(nonzero);
    }
  }
  double p_sum = 0.0, q_sum = 0.0;
  for (std::size_t b = 0; b < bins; ++b) {
    p_sum += p[b];
    q_sum += q[b];
  }
  if (p_sum <= 0.0 || q_sum <= 0.0) return INFINITY;
  double kl = 0.0;
  for (std::size_t b = 0; b < bins; ++b) {
    if (p[b] <= 0.0) continue;
    const double pb = p[b] / p_sum;
    // A bin P has and Q lacks (the folded tail's last bin when its group was empty) gets a
    // small floor instead of an infinite divergence.
    const double qb = std::max(q[b] / q_sum, 1e-12);
    kl += pb * std::log(pb / qb);
  }
  return kl;
}

}  // namespace

float Calibrator::threshold(const std::string& value, const std::string& algo, double hist_percent,
                            int levels) const {
  const Stats& s = stats(value);
  const float abs_max = std::max(std::fabs(s.min), std::fabs(s.max));
  if (algo == "abs_max") return abs_max;
  if (algo == "avg") return static_cast<float>(s.sum_batch_absmax / static_cast<double>(s.batches));
  if (algo == "hist") {
    ACT_CHECK(s.count > 0, "calibration: no histogram for '", value, "'");
    const auto target =
        static_cast<std::uint64_t>(std::ceil(hist_percent * static_cast<double>(s.count)));
    std::uint64_t seen = 0;
    for (int b = 0; b < kBins; ++b) {
      seen += s.hist[static_cast<std::size_t>(b)];
      if (seen >= target) {
        return std::min(abs_max, s.hist_range * static_cast<float>(b + 1) / kBins);
      }
    }
    return abs_max;
  }
  if (algo == "mse" || algo == "emd" || algo == "KL") {
    ACT_CHECK(s.count > 0, "calibration: no histogram for '", value, "'");
    if (abs_max <= 0.0F) return abs_max;
    const double width = static_cast<double>(s.hist_range) / kBins;
    std::size_t best_bins = kBins;
    double best = INFINITY;
    for (std::size_t bins = static_cast<std::size_t>(levels) + 1; bins <= kBins; bins += 8) {
      const double t = static_cast<double>(bins) * width;
      const double cost = algo == "KL"
                              ? clipped_kl(s.hist, bins, levels)
                              : quantization_error(s.hist, width, t, levels, algo == "mse");
      if (cost < best) {
        best = cost;
        best_bins = bins;
      }
    }
    return std::min(abs_max, static_cast<float>(static_cast<double>(best_bins) * width));
  }
  fail("QuantPost.algo: '", algo, "' is not implemented");
}

}  // namespace act::quant
