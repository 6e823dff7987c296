#include "calibrator.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include "act/kernel/error.h"

namespace act::quant {

sdk::Status Calibrator::consume(std::int64_t batch, const char* value,
                                const Tensor& tensor) noexcept {
  try {
    ACT_CHECK(tensor.dtype() == DType::kF32, "calibration: '", value, "' is ",
              dtype_name(tensor.dtype()), ", not f32");
    batches_ = std::max(batches_, batch + 1);
    const float* x = tensor.data<float>();
    const std::int64_t n = tensor.numel();
    Stats& s = stats_[value];
    if (pass_ == Pass::kRange) {
      float lo = INFINITY, hi = -INFINITY;
      for (std::int64_t i = 0; i < n; ++i) {
        ACT_CHECK(std::isfinite(x[i]), "calibration: activation '", value, "' is ", x[i],
                  " in batch ", batch, " (element ", i, ")");
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
      }
      if (n == 0) return sdk::Status::success();
      s.min = s.batches == 0 ? lo : std::min(s.min, lo);
      s.max = s.batches == 0 ? hi : std::max(s.max, hi);
      s.sum_batch_absmax += std::max(std::fabs(lo), std::fabs(hi));
      ++s.batches;
    } else {
      if (s.hist.empty()) s.hist.assign(kBins, 0);
      const float range = std::max(std::fabs(s.min), std::fabs(s.max));
      if (range <= 0.0F) return sdk::Status::success();
      const float to_bin = static_cast<float>(kBins) / range;
      for (std::int64_t i = 0; i < n; ++i) {
        const auto b = static_cast<int>(std::fabs(x[i]) * to_bin);
        ++s.hist[static_cast<std::size_t>(std::min(b, kBins - 1))];
      }
      s.count += static_cast<std::uint64_t>(n);
    }
    return sdk::Status::success();
  } catch (const std::exception& e) {
    error_ = e.what();
    return sdk::Status::failure(error_.c_str());
  }
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

float Calibrator::threshold(const std::string& value, const std::string& algo,
                            double hist_percent) const {
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
      if (seen >= target) return abs_max * static_cast<float>(b + 1) / kBins;
    }
    return abs_max;
  }
  fail("QuantPost.algo: '", algo, "' is not implemented");
}

}  // namespace act::quant
