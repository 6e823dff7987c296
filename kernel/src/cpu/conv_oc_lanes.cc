#include "cpu/conv_oc_lanes.h"

#include <algorithm>
#include <cstring>

#include "act/kernel/parallel.h"
#include "cpu/nn_internal.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#define ACT_OC_LANES 1
#else
#define ACT_OC_LANES 0
#endif

namespace act::cpu {

namespace {
constexpr std::int64_t kMaxPixels = 12;  // pixels per register block: 24 accumulators
// Seven pixels (14 accumulators) still keep the FMA pipes full: ResNet's 512-channel 7x7 layer
// runs at 111 GFLOP/s of the one-core 116 peak (conv_bench). Fewer (4x4 maps) are left to
// conv_gemm. Earlier measurements that had 7-pixel blocks losing were taken while every call
// repacked its weights (docs/decisions.md, Kernel).
constexpr std::int64_t kMinPixels = 7;
// Rows narrower than kMinPixels (4 to 6 pixels: the 4x4 maps of a ResNet on 32x32 images) go
// two at a time, 8 to 12 pixels per block.
constexpr std::int64_t kMinPairWidth = 4;
// Batches whose zero-bordered copies fit in this many floats (4 MiB) run weights-outer.
constexpr std::int64_t kBatchCopyFloats = std::int64_t{1} << 20;
}  // namespace

bool conv_oc_lanes_applicable(const WindowGeometry& g, std::int64_t group, std::int64_t c) {
  const std::int64_t taps = g.kernel[1] * g.kernel[2];
  const std::int64_t s = g.stride[1], ow = g.out[2];
  const std::int64_t blocks_per_row = (ow + kMaxPixels - 1) / kMaxPixels;
  return ACT_OC_LANES != 0 && group == 1 && g.in[0] == 1 && g.out[0] == 1 && g.kernel[0] == 1 &&
         g.pad_begin[0] == 0 && g.pad_end[0] == 0 && (s == 1 || s == 2) && g.stride[2] == s &&
         taps > 1 && c * taps >= 64 &&
         (ow / blocks_per_row >= kMinPixels ||
          (ow >= kMinPairWidth && ow < kMinPixels && g.out[1] >= 2)) &&
         c * g.read_extent(1) * g.read_extent(2) < (std::int64_t{1} << 31);
}

std::vector<float> pack_oc_lanes(const float* w, std::int64_t m, std::int64_t k) {
  const std::int64_t blocks = (m + kOcLanes - 1) / kOcLanes;
  std::vector<float> out(static_cast<std::size_t>(blocks * k * kOcLanes), 0.0F);
  for (std::int64_t oc = 0; oc < m; ++oc) {
    float* dst = out.data() + (oc / kOcLanes) * k * kOcLanes + oc % kOcLanes;
    const float* src = w + oc * k;
    for (std::int64_t p = 0; p < k; ++p) dst[p * kOcLanes] = src[p];
  }
  return out;
}

#if ACT_OC_LANES
namespace {

// out[j][0..32) = sum over k of x[toff[k] + j * S] * w[k][0..32), for j < NP.
template <int NP, int S>
[[gnu::always_inline]] inline void oc_block(std::int64_t kdim, const float* __restrict w,
                                            const float* __restrict x,
                                            const std::int32_t* __restrict toff,
                                            float* __restrict out) {
  __m512 lo[NP], hi[NP];
#pragma GCC unroll 12
  for (int j = 0; j < NP; ++j) lo[j] = hi[j] = _mm512_setzero_ps();
  for (std::int64_t k = 0; k < kdim; ++k) {
    const __m512 w0 = _mm512_loadu_ps(w + k * kOcLanes);
    const __m512 w1 = _mm512_loadu_ps(w + k * kOcLanes + 16);
    const float* xk = x + toff[k];
#pragma GCC unroll 12
    for (int j = 0; j < NP; ++j) {
      const __m512 v = _mm512_set1_ps(xk[j * S]);
      lo[j] = _mm512_fmadd_ps(v, w0, lo[j]);
      hi[j] = _mm512_fmadd_ps(v, w1, hi[j]);
    }
  }
#pragma GCC unroll 12
  for (int j = 0; j < NP; ++j) {
    _mm512_storeu_ps(out + j * kOcLanes, lo[j]);
    _mm512_storeu_ps(out + j * kOcLanes + 16, hi[j]);
  }
}

// The same for two rows of W pixels each, the second row_pitch floats after the first:
// out[r * W + j] for pixel j of row r.
template <int W, int S>
[[gnu::always_inline]] inline void oc_block_pair(std::int64_t kdim, const float* __restrict w,
                                                 const float* __restrict x,
                                                 const std::int32_t* __restrict toff,
                                                 std::int64_t row_pitch, float* __restrict out) {
  __m512 lo[2 * W], hi[2 * W];
#pragma GCC unroll 12
  for (int j = 0; j < 2 * W; ++j) lo[j] = hi[j] = _mm512_setzero_ps();
  for (std::int64_t k = 0; k < kdim; ++k) {
    const __m512 w0 = _mm512_loadu_ps(w + k * kOcLanes);
    const __m512 w1 = _mm512_loadu_ps(w + k * kOcLanes + 16);
    const float* x0 = x + toff[k];
    const float* x1 = x0 + row_pitch;
#pragma GCC unroll 6
    for (int j = 0; j < W; ++j) {
      const __m512 v = _mm512_set1_ps(x0[j * S]);
      lo[j] = _mm512_fmadd_ps(v, w0, lo[j]);
      hi[j] = _mm512_fmadd_ps(v, w1, hi[j]);
      const __m512 u = _mm512_set1_ps(x1[j * S]);
      lo[W + j] = _mm512_fmadd_ps(u, w0, lo[W + j]);
      hi[W + j] = _mm512_fmadd_ps(u, w1, hi[W + j]);
    }
  }
#pragma GCC unroll 12
  for (int j = 0; j < 2 * W; ++j) {
    _mm512_storeu_ps(out + j * kOcLanes, lo[j]);
    _mm512_storeu_ps(out + j * kOcLanes + 16, hi[j]);
  }
}

// Row pairs of 4 to 6 pixels.
template <int S>
void oc_block_pair_n(std::int64_t width, std::int64_t kdim, const float* w, const float* x,
                     const std::int32_t* toff, std::int64_t row_pitch, float* out) {
  switch (width) {
    case 4:
      return oc_block_pair<4, S>(kdim, w, x, toff, row_pitch, out);
    case 5:
      return oc_block_pair<5, S>(kdim, w, x, toff, row_pitch, out);
    default:
      return oc_block_pair<6, S>(kdim, w, x, toff, row_pitch, out);
  }
}

// Blocks of 7 to 12 pixels (conv_oc_lanes_applicable keeps rows that would need fewer away).
template <int S>
void oc_block_n(std::int64_t np, std::int64_t kdim, const float* w, const float* x,
                const std::int32_t* toff, float* out) {
  switch (np) {
    case 7:
      return oc_block<7, S>(kdim, w, x, toff, out);
    case 8:
      return oc_block<8, S>(kdim, w, x, toff, out);
    case 9:
      return oc_block<9, S>(kdim, w, x, toff, out);
    case 10:
      return oc_block<10, S>(kdim, w, x, toff, out);
    case 11:
      return oc_block<11, S>(kdim, w, x, toff, out);
    default:
      return oc_block<12, S>(kdim, w, x, toff, out);
  }
}

// One image's input with zero borders, cut to what the windows read.
struct Padded {
  std::int64_t hp = 0, wp = 0;
  std::vector<std::int32_t> toff;  // K step (channel, kh, kw) -> offset in the copy

  Padded(const WindowGeometry& g, std::int64_t c) {
    const std::int64_t kh = g.kernel[1], kw = g.kernel[2];
    hp = g.read_extent(1);
    wp = g.read_extent(2);
    toff.resize(static_cast<std::size_t>(c * kh * kw));
    for (std::int64_t ci = 0; ci < c; ++ci) {
      for (std::int64_t a = 0; a < kh; ++a) {
        for (std::int64_t b = 0; b < kw; ++b) {
          toff[static_cast<std::size_t>((ci * kh + a) * kw + b)] =
              static_cast<std::int32_t>(ci * hp * wp + a * g.dilation[1] * wp + b * g.dilation[2]);
        }
      }
    }
  }

  std::int64_t size(std::int64_t c) const { return c * hp * wp; }

  // Channels [c0, c1) of x [c][ih][iw] into dst.
  void copy(const WindowGeometry& g, const float* x, std::int64_t c0, std::int64_t c1,
            float* dst) const {
    const std::int64_t ih = g.in[1], iw = g.in[2], pt = g.pad_begin[1], pl = g.pad_begin[2];
    const std::int64_t lo = std::min(pl, wp), hi = std::clamp(pl + iw, lo, wp);
    for (std::int64_t ci = c0; ci < c1; ++ci) {
      for (std::int64_t r = 0; r < hp; ++r) {
        float* d = dst + (ci * hp + r) * wp;
        const std::int64_t sr = r - pt;
        if (sr < 0 || sr >= ih) {
          std::memset(d, 0, static_cast<std::size_t>(wp) * sizeof(float));
          continue;
        }
        std::memset(d, 0, static_cast<std::size_t>(lo) * sizeof(float));
        std::memcpy(d + lo, x + (ci * ih + sr) * iw + (lo - pl),
                    static_cast<std::size_t>(hi - lo) * sizeof(float));
        std::memset(d + hi, 0, static_cast<std::size_t>(wp - hi) * sizeof(float));
      }
    }
  }
};

// The copy every row item reads; each item's own scratch is on its stack.
float* padded_scratch(std::int64_t n) {
  return tagged_scratch_f32<struct OcLanesInputScratch>(n);
}

// Output rows of one image: `row` runs one row of one 32-channel block in register blocks of
// near-equal width, transposes them into y's channel rows, then applies the epilogue.
struct Rows {
  const WindowGeometry& g;
  const Padded& p;
  const float* packed;
  const float* xp;
  std::int64_t kdim, m;
  const float* bias;
  const float* sum;
  float* y;
  const ConvEpilogue& epi;

  void row(std::int64_t ob, std::int64_t oh) const {
    const std::int64_t ow_n = g.out[2], out_plane = g.out[1] * ow_n;
    const std::int64_t tiles = (ow_n + kMaxPixels - 1) / kMaxPixels;
    const std::int64_t oc0 = ob * kOcLanes, rows = std::min(kOcLanes, m - oc0);
    const float* w = packed + ob * kdim * kOcLanes;
    alignas(64) float out[kMaxPixels * kOcLanes];
    for (std::int64_t t = 0; t < tiles; ++t) {
      const std::int64_t q0 = t * ow_n / tiles, np = (t + 1) * ow_n / tiles - q0;
      const std::int64_t s = g.stride[2];
      const float* x = xp + oh * g.stride[1] * p.wp + q0 * s;
      if (s == 1) {
        oc_block_n<1>(np, kdim, w, x, p.toff.data(), out);
      } else {
        oc_block_n<2>(np, kdim, w, x, p.toff.data(), out);
      }
      const std::int64_t at = oc0 * out_plane + oh * ow_n + q0;
      float* dst = y + at;
      for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t j = 0; j < np; ++j) dst[r * out_plane + j] = out[j * kOcLanes + r];
      }
      epi.apply(dst, out_plane, rows, np, bias != nullptr ? bias + oc0 : nullptr,
                sum != nullptr ? sum + at : nullptr, out_plane);
    }
  }

  // Rows oh and oh + 1 of a narrow map (4 to 6 pixels) in one register block; only `keep`
  // rows from row `first` (oh or oh + 1) are written, so an odd last row can ride along with
  // the row above it without that row being written twice.
  void row_pair(std::int64_t ob, std::int64_t oh, std::int64_t first, std::int64_t keep) const {
    const std::int64_t ow_n = g.out[2], out_plane = g.out[1] * ow_n;
    const std::int64_t oc0 = ob * kOcLanes, rows = std::min(kOcLanes, m - oc0);
    const float* w = packed + ob * kdim * kOcLanes;
    alignas(64) float out[kMaxPixels * kOcLanes];
    const std::int64_t pitch = g.stride[1] * p.wp;
    const float* x = xp + oh * pitch;
    if (g.stride[2] == 1) {
      oc_block_pair_n<1>(ow_n, kdim, w, x, p.toff.data(), pitch, out);
    } else {
      oc_block_pair_n<2>(ow_n, kdim, w, x, p.toff.data(), pitch, out);
    }
    // The kept rows are consecutive in y: keep * ow_n pixels from (first, 0).
    const float* src = out + (first - oh) * ow_n * kOcLanes;
    const std::int64_t np = keep * ow_n, at = oc0 * out_plane + first * ow_n;
    float* dst = y + at;
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t j = 0; j < np; ++j) dst[r * out_plane + j] = src[j * kOcLanes + r];
    }
    epi.apply(dst, out_plane, rows, np, bias != nullptr ? bias + oc0 : nullptr,
              sum != nullptr ? sum + at : nullptr, out_plane);
  }

  // Output rows per work item: two for narrow maps, one otherwise.
  std::int64_t rows_per_item() const { return g.out[2] < kMinPixels ? 2 : 1; }

  // Rows [oh, oh + rows_per_item()) of block ob, clamped to the map.
  void rows(std::int64_t ob, std::int64_t oh) const {
    if (rows_per_item() == 1) return row(ob, oh);
    if (oh + 1 < g.out[1]) return row_pair(ob, oh, oh, 2);
    row_pair(ob, oh - 1, oh, 1);  // an odd last row, computed with the one above
  }

  // Row items of one block.
  std::int64_t items() const { return (g.out[1] + rows_per_item() - 1) / rows_per_item(); }

  // Every row of every block, on the calling thread; a block's weights stay in L2 while its
  // rows pass.
  void image() const {
    const std::int64_t blocks = (m + kOcLanes - 1) / kOcLanes;
    for (std::int64_t ob = 0; ob < blocks; ++ob) {
      for (std::int64_t i = 0; i < items(); ++i) rows(ob, i * rows_per_item());
    }
  }
};

}  // namespace

void conv_oc_lanes(const WindowGeometry& g, const std::vector<float>& packed, const float* x,
                   const float* bias, const float* sum, float* y, std::int64_t n, std::int64_t c,
                   std::int64_t m, const ConvEpilogue& epi) {
  const Padded p(g, c);
  const std::int64_t kdim = c * g.kernel[1] * g.kernel[2];
  const std::int64_t in_image = c * g.in[1] * g.in[2], out_image = m * g.out[1] * g.out[2];
  auto rows_of = [&](std::int64_t b, const float* xp) {
    return Rows{g,
                p,
                packed.data(),
                xp,
                kdim,
                m,
                bias,
                sum != nullptr ? sum + b * out_image : nullptr,
                y + b * out_image,
                epi};
  };
  const std::int64_t blocks = (m + kOcLanes - 1) / kOcLanes;
  const std::int64_t image_copy = p.size(c);
  if (n >= num_threads() && n * image_copy <= kBatchCopyFloats) {
    // Small maps (ResNet's 8x8 and 7x7 stages in training): each image uses every weight only
    // a few dozen times, so weights-outer order keeps a block's weights in L2 while all the
    // images pass; the copies of the whole batch are made first and stay in L2/L3.
    float* xp = padded_scratch(n * image_copy);
    parallel_for(n * c, 8, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) {
        const std::int64_t b = i / c, ch = i % c;
        p.copy(g, x + b * in_image, ch, ch + 1, xp + b * image_copy);
      }
    });
    parallel_for(blocks * n, 1, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) {
        const std::int64_t ob = i / n, b = i % n;
        const Rows r = rows_of(b, xp + b * image_copy);
        for (std::int64_t i = 0; i < r.items(); ++i) r.rows(ob, i * r.rows_per_item());
      }
    });
    return;
  }
  if (n >= num_threads()) {
    // A share of the images per thread, each copied and multiplied while hot.
    parallel_for(n, 1, [&](std::int64_t b0, std::int64_t b1) {
      float* xp = padded_scratch(image_copy);
      for (std::int64_t b = b0; b < b1; ++b) {
        p.copy(g, x + b * in_image, 0, c, xp);
        rows_of(b, xp).image();
      }
    });
    return;
  }
  // Fewer images than threads (batch-1 inference): the copy, then (channel block, row) items
  // are shared out; contiguous items keep a thread on one block's weights.
  float* xp = padded_scratch(image_copy);
  for (std::int64_t b = 0; b < n; ++b) {
    parallel_for(
        c, 8, [&](std::int64_t c0, std::int64_t c1) { p.copy(g, x + b * in_image, c0, c1, xp); });
    const Rows r = rows_of(b, xp);
    const std::int64_t items = r.items(), per = r.rows_per_item();
    parallel_for(blocks * items, 1, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) r.rows(i / items, i % items * per);
    });
  }
}
#else
void conv_oc_lanes(const WindowGeometry&, const std::vector<float>&, const float*, const float*,
                   const float*, float*, std::int64_t, std::int64_t, std::int64_t,
                   const ConvEpilogue&) {}
#endif

}  // namespace act::cpu
