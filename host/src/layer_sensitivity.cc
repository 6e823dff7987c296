#include "act/host/layer_sensitivity.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "act/kernel/error.h"

namespace act::host {

OutputError compare_outputs(const Tensor& reference, const Tensor& test) {
  ACT_CHECK(reference.shape() == test.shape() && reference.rank() >= 1,
            "comparing outputs of different shapes: ", shape_to_string(reference.shape()), " and ",
            shape_to_string(test.shape()));
  const std::int64_t samples = reference.shape()[0];
  ACT_CHECK(samples >= 1, "comparing outputs: no samples");
  const std::int64_t width = reference.numel() / samples;
  const float* r = reference.data<float>();
  const float* t = test.data<float>();
  double signal = 0.0, noise = 0.0, cosine_sum = 0.0;
  for (std::int64_t s = 0; s < samples; ++s) {
    double dot = 0.0, rr = 0.0, tt = 0.0;
    for (std::int64_t i = s * width; i < (s + 1) * width; ++i) {
      const double a = r[i], b = t[i];
      dot += a * b;
      rr += a * a;
      tt += b * b;
      noise += (a - b) * (a - b);
    }
    signal += rr;
    if (rr == 0.0 || tt == 0.0) {
      cosine_sum += rr == tt ? 1.0 : 0.0;
    } else {
      cosine_sum += dot / std::sqrt(rr * tt);
    }
  }
  OutputError out;
  out.sqnr_db =
      noise == 0.0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(signal / noise);
  out.cosine = cosine_sum / static_cast<double>(samples);
  return out;
}

void rank_layers(std::vector<LayerSensitivity>& rows, bool by_metric) {
  std::stable_sort(rows.begin(), rows.end(),
                   [by_metric](const LayerSensitivity& a, const LayerSensitivity& b) {
                     if (by_metric && a.drop != b.drop) return a.drop > b.drop;
                     return a.error.sqnr_db < b.error.sqnr_db;
                   });
}

}  // namespace act::host
