// Activation statistics for post-training quantization, streamed batch by batch in one pass
// over the data, so neither memory nor passes grow with the number of samples.
//
// Every batch updates each tensor's min, max and the mean over batches of the per-batch
// absolute maximum; with a histogram (hist, mse, emd, KL) it also bins |x| into kBins bins over
// [0, range). The range starts at the first batch's max |x| and doubles whenever a batch
// exceeds it, merging neighbouring bins pairwise, so earlier counts stay exact and the bins
// end at most twice as wide as a second pass over the final range would make them.
// threshold() turns the statistics into the clipping value the scale comes from:
//   abs_max  max |x| over all batches
//   avg      mean over batches of max |x| in the batch (PaddleSlim's "avg")
//   hist     the hist_percent quantile of |x| (upper edge of the bin where it falls)
//   mse      the clip that minimizes the expected squared error of quantizing the histogram
//            (clipping error above it, uniform rounding error step^2/12 below it)
//   emd      the clip that minimizes the expected absolute error, which for a monotone map is
//            the earth mover's distance between the float and quantized distributions
//   KL       the clip whose quantized distribution is closest to the observed one in
//            Kullback-Leibler divergence (the entropy calibration TensorRT popularized),
//            searched from 128 bins up
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

  // `histogram`: also collect the |x| histogram (needed by hist, mse, emd and KL).
  explicit Calibrator(bool histogram = false) : histogram_(histogram) {}
  sdk::Status consume(std::int64_t batch, const char* value,
                      const Tensor& tensor) noexcept override;

  // Also accumulate the mean of `value` per channel along `axis` (negative: from the end), for
  // bias correction. Call before the first consume().
  void track_channel_means(const std::string& value, int axis) { channel_axis_[value] = axis; }
  // Throws act::Error for a value that was not tracked or never seen.
  std::vector<double> channel_means(const std::string& value) const;

  static bool needs_histogram(const std::string& algo) {
    return algo == "hist" || algo == "mse" || algo == "emd" || algo == "KL";
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
    float hist_range = 0.0F;
    std::vector<double> channel_sum;
    std::uint64_t per_channel_count =
        0;  // upper edge of the last bin; 0 until a nonzero |x| arrives
    std::uint64_t count = 0;
  };
  const Stats& stats(const std::string& value) const;

  void add_to_histogram(Stats& s, const float* x, std::int64_t n, float abs_max);

  void add_to_channel_sums(Stats& s, const Tensor& t, int axis);

  bool histogram_ = false;
  std::map<std::string, int> channel_axis_;
  std::map<std::string, Stats> stats_;
  std::int64_t batches_ = 0;
  std::string error_;
};

}  // namespace act::quant
