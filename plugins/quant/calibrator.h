// Activation statistics for post-training quantization, streamed batch by batch so memory
// does not grow with the number of samples.
//
// Pass 1 (kRange) records each tensor's min, max and the mean over batches of the per-batch
// absolute maximum. Pass 2 (kHistogram, only for algo hist) bins |x| into kBins bins over
// [0, max|x| of pass 1]. threshold() turns them into the clipping value the scale comes from:
//   abs_max  max |x| over all batches
//   avg      mean over batches of max |x| in the batch (PaddleSlim's "avg")
//   hist     the hist_percent quantile of |x| (upper edge of the bin where it falls)
//   mse      the clip that minimizes the expected squared error of quantizing the histogram
//            (clipping error above it, uniform rounding error step^2/12 below it)
//   KL       the clip whose quantized distribution is closest to the observed one in
//            Kullback-Leibler divergence (the entropy calibration TensorRT popularized),
//            searched from 128 bins up
// mse and KL need the histogram pass too (needs_histogram()).
//
// Ownership: owns its statistics. Threading: consume() is called on one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "act/sdk/model_data.h"

namespace act::quant {

class Calibrator final : public sdk::ActivationSinkV1 {
 public:
  static constexpr int kBins = 2048;
  enum class Pass { kRange, kHistogram };

  void set_pass(Pass pass) { pass_ = pass; }
  sdk::Status consume(std::int64_t batch, const char* value,
                      const Tensor& tensor) noexcept override;

  static bool needs_histogram(const std::string& algo) {
    return algo == "hist" || algo == "mse" || algo == "KL";
  }
  // Throws act::Error for a value that was never seen or an unknown algo. `levels` is the
  // number of positive quantization levels (127 for s8, 255 for u8).
  float threshold(const std::string& value, const std::string& algo, double hist_percent,
                  int levels = 127) const;
  float min_of(const std::string& value) const;
  float max_of(const std::string& value) const;
  std::int64_t batches_seen() const { return batches_; }

 private:
  struct Stats {
    float min = 0.0F, max = 0.0F;
    double sum_batch_absmax = 0.0;
    std::int64_t batches = 0;
    std::vector<std::uint64_t> hist;
    std::uint64_t count = 0;
  };
  const Stats& stats(const std::string& value) const;

  Pass pass_ = Pass::kRange;
  std::map<std::string, Stats> stats_;
  std::int64_t batches_ = 0;
  std::string error_;
};

}  // namespace act::quant
