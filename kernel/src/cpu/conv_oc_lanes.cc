#include "cpu/conv_oc_lanes.h"

#include <algorithm>
#include <cstring>

#include "act/kernel/parallel.h"
#include "cpu/avx512_lanes.h"
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
// Pointwise (1x1) layers come here only on maps of at most this many pixels (MobileNetV2's 7x7
// and 14x14 stages), where conv_gemm's 16-pixel panels waste columns or each thread packs the
// whole map. Row by row, 14x14 maps measured 10% slower than conv_gemm at one thread (blocks
// of 7 pixels); as runs of 49 (pointwise_as_runs) the 576->96 layer is 15% faster.
constexpr std::int64_t kMaxPointwisePixels = 256;
// Longest run pointwise_as_runs makes.
constexpr std::int64_t kMaxRun = 64;
// Batches whose zero-bordered copies fit in this many floats (4 MiB) run weights-outer.
constexpr std::int64_t kBatchCopyFloats = std::int64_t{1} << 20;
}  // namespace

bool conv_oc_lanes_applicable(const WindowGeometry& g, std::int64_t group, std::int64_t c) {
  const std::int64_t taps = g.kernel[1] * g.kernel[2];
  const std::int64_t s = g.stride[1], ow = g.out[2];
  const std::int64_t blocks_per_row = (ow + kMaxPixels - 1) / kMaxPixels;
  return ACT_OC_LANES != 0 && group == 1 && g.in[0] == 1 && g.out[0] == 1 && g.kernel[0] == 1 &&
         g.pad_begin[0] == 0 && g.pad_end[0] == 0 && (s == 1 || s == 2) && g.stride[2] == s &&
         (taps > 1 || (s == 1 && g.out[1] * g.out[2] <= kMaxPointwisePixels)) && c * taps >= 64 &&
         (ow / blocks_per_row >= kMinPixels ||
          (ow >= kMinPairWidth && ow < kMinPixels && g.out[1] >= 2)) &&
         c * g.read_extent(1) * g.read_extent(2) < (std::int64_t{1} << 31);
}

std::optional<WindowGeometry> pointwise_as_runs(const WindowGeometry& g, std::int64_t lanes,
                                                int threads) {
  const bool unit = g.in.size() == 3 && g.in[0] == 1 && g.kernel[0] == 1 && g.kernel[1] == 1 &&
                    g.kernel[2] == 1 && g.stride[1] == 1 && g.stride[2] == 1;
  if (!unit) return std::nullopt;
  for (std::size_t i = 0; i < 3; ++i) {
    if (g.pad_begin[i] != 0 || g.pad_end[i] != 0) return std::nullopt;
  }
  const std::int64_t pixels = g.out[1] * g.out[2];
  if (pixels > kMaxPointwisePixels || g.in[1] != g.out[1] || g.in[2] != g.out[2]) {
    return std::nullopt;
  }
  const std::int64_t blocks = (lanes + kOcLanes - 1) / kOcLanes;
  std::int64_t best = 0;  // rows of the chosen runs
  for (std::int64_t rows = 1; rows <= pixels; ++rows) {
    if (pixels % rows != 0 || pixels / rows > kMaxRun) continue;
    if (pixels / rows < kMinPixels) break;
    best = rows;
    if (blocks * rows >= 4 * threads) break;
  }
  if (best == 0) return std::nullopt;
  WindowGeometry runs = g;
  runs.in[1] = runs.out[1] = best;
  runs.in[2] = runs.out[2] = pixels / best;
  return runs;
}

void pack_oc_lanes(const float* w, std::int64_t m, std::int64_t k, std::vector<float>& out) {
  const std::int64_t blocks = (m + kOcLanes - 1) / kOcLanes;
  // Training repacks every step (the optimizer changes the weights), so this is on the step's
  // path: the buffer is reused (a fresh 9 MB vector per call paid its page faults every step),
  // and block by block with the k steps outer every 128-byte row of the result is written
  // whole while the block's source rows advance together. Channel by channel into a new
  // vector, a 512-channel 3x3 layer took 5 ms.
  out.resize(static_cast<std::size_t>(blocks * k * kOcLanes));
  parallel_for(blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      const std::int64_t rows = std::min(kOcLanes, m - b * kOcLanes);
      float* __restrict dst = out.data() + b * k * kOcLanes;
      const float* __restrict src = w + b * kOcLanes * k;
      for (std::int64_t p = 0; p < k; ++p) {
        float* d = dst + p * kOcLanes;
        for (std::int64_t i = 0; i < rows; ++i) d[i] = src[i * k + p];
        for (std::int64_t i = rows; i < kOcLanes; ++i) d[i] = 0.0F;
      }
    }
  });
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

// Rows j < np (the others read as zero) of the 16 x 16 block at src (row pitch ld floats),
// transposed: t[c] lane j = src[j * ld + c]. Four shuffle stages of 16 instructions each.
// The masked forms with every lane set: the plain ones start from an undefined vector that
// GCC 12 warns about.
[[gnu::always_inline]] inline __m512 unpack_lo(__m512 x, __m512 y) {
  return _mm512_mask_unpacklo_ps(x, 0xFFFF, x, y);
}
[[gnu::always_inline]] inline __m512 unpack_hi(__m512 x, __m512 y) {
  return _mm512_mask_unpackhi_ps(x, 0xFFFF, x, y);
}
template <int Imm>
[[gnu::always_inline]] inline __m512 lanes_of(__m512 x, __m512 y) {
  return _mm512_mask_shuffle_f32x4(x, 0xFFFF, x, y, Imm);
}

[[gnu::always_inline]] inline void transpose_16x16(const float* src, std::int64_t np,
                                                   std::int64_t ld, __m512 t[16]) {
  __m512 r[16], a[16];
#pragma GCC unroll 16
  for (int j = 0; j < 16; ++j) r[j] = j < np ? _mm512_loadu_ps(src + j * ld) : _mm512_setzero_ps();
    // Within each 128-bit lane k: a[2i] = (r2i[4k], r2i+1[4k], r2i[4k+1], r2i+1[4k+1]), a[2i+1]
    // the same for 4k+2 and 4k+3.
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    a[2 * i] = unpack_lo(r[2 * i], r[2 * i + 1]);
    a[2 * i + 1] = unpack_hi(r[2 * i], r[2 * i + 1]);
  }
  // r[4q + e] lane k: element 4k + e of rows 4q..4q+3.
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    r[4 * q] = _mm512_shuffle_ps(a[4 * q], a[4 * q + 2], 0x44);
    r[4 * q + 1] = _mm512_shuffle_ps(a[4 * q], a[4 * q + 2], 0xEE);
    r[4 * q + 2] = _mm512_shuffle_ps(a[4 * q + 1], a[4 * q + 3], 0x44);
    r[4 * q + 3] = _mm512_shuffle_ps(a[4 * q + 1], a[4 * q + 3], 0xEE);
  }
  // Gather lane k of the four row groups: element e + 4k of every row is column e + 4k.
#pragma GCC unroll 4
  for (int e = 0; e < 4; ++e) {
    const __m512 v0 = lanes_of<0x88>(r[e], r[4 + e]);
    const __m512 v1 = lanes_of<0xDD>(r[e], r[4 + e]);
    const __m512 w0 = lanes_of<0x88>(r[8 + e], r[12 + e]);
    const __m512 w1 = lanes_of<0xDD>(r[8 + e], r[12 + e]);
    t[e] = lanes_of<0x88>(v0, w0);
    t[e + 8] = lanes_of<0xDD>(v0, w0);
    t[e + 4] = lanes_of<0x88>(v1, w1);
    t[e + 12] = lanes_of<0xDD>(v1, w1);
  }
}

// Rows [r0, r1) of channels [c0, c1) of dst [c][hp][wp], from x [c][ih][iw] with pixel (r, q)
// at (r + top, q + left), zero elsewhere; rows and columns past hp x wp are cut off.
void bordered_copy(const float* x, std::int64_t c0, std::int64_t c1, std::int64_t r0,
                   std::int64_t r1, std::int64_t ih, std::int64_t iw, std::int64_t top,
                   std::int64_t left, std::int64_t hp, std::int64_t wp, float* dst) {
  const std::int64_t lo = std::min(left, wp), hi = std::clamp(left + iw, lo, wp);
  for (std::int64_t ci = c0; ci < c1; ++ci) {
    for (std::int64_t r = r0; r < r1; ++r) {
      float* d = dst + (ci * hp + r) * wp;
      const std::int64_t sr = r - top;
      if (sr < 0 || sr >= ih) {
        std::memset(d, 0, static_cast<std::size_t>(wp) * sizeof(float));
        continue;
      }
      std::memset(d, 0, static_cast<std::size_t>(lo) * sizeof(float));
      std::memcpy(d + lo, x + (ci * ih + sr) * iw + (lo - left),
                  static_cast<std::size_t>(hi - lo) * sizeof(float));
      std::memset(d + hi, 0, static_cast<std::size_t>(wp - hi) * sizeof(float));
    }
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

  // Rows [r0, r1) (default: all) of channels [c0, c1) of x [c][ih][iw] into dst.
  void copy(const WindowGeometry& g, const float* x, std::int64_t c0, std::int64_t c1, float* dst,
            std::int64_t r0 = 0, std::int64_t r1 = -1) const {
    bordered_copy(x, c0, c1, r0, r1 < 0 ? hp : r1, g.in[1], g.in[2], g.pad_begin[1], g.pad_begin[2],
                  hp, wp, dst);
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
    const std::int64_t ow_n = g.out[2];
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
      store(out, np, oc0, rows, oh * ow_n + q0);
    }
  }

  // np pixels of block `out` ([pixel][32 channels]) into y's channel rows oc0.. at pixel
  // `pix`, finished there: bias, residual and a Relu or Clip in the same pass as the
  // transposition (a second pass over these short row pieces cost 6% of a small model's
  // batch inference); other activations through ConvEpilogue::apply afterwards.
  void store(const float* out, std::int64_t np, std::int64_t oc0, std::int64_t rows,
             std::int64_t pix) const {
    const std::int64_t out_plane = g.out[1] * g.out[2], at = oc0 * out_plane + pix;
    float* dst = y + at;
    const float* res = sum != nullptr ? sum + at : nullptr;
    float lo = 0.0F, hi = 0.0F;
    if (!epi.clamp_bounds(lo, hi)) {
      for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t j = 0; j < np; ++j) dst[r * out_plane + j] = out[j * kOcLanes + r];
      }
      epi.apply(dst, out_plane, rows, np, bias != nullptr ? bias + oc0 : nullptr, res, out_plane);
      return;
    }
    // Sixteen channels at a time through registers: the element-by-element transposition this
    // replaces cost as much as the multiplies on layers with short products (a 3-channel stem:
    // 27 multiply steps per block against 384 scalar moves).
    const __mmask16 keep = lanes_inside(0, np);
    const __m512 lo_v = _mm512_set1_ps(lo), hi_v = _mm512_set1_ps(hi);
    for (std::int64_t h = 0; h * 16 < rows; ++h) {
      __m512 t[16];
      transpose_16x16(out + h * 16, np, kOcLanes, t);
      const std::int64_t n = std::min<std::int64_t>(16, rows - h * 16);
      for (std::int64_t c = 0; c < n; ++c) {
        const std::int64_t r = h * 16 + c;
        const __m512 v =
            finish_lanes(t[c], bias != nullptr ? bias + oc0 + r : nullptr,
                         res != nullptr ? res + r * out_plane : nullptr, keep, lo_v, hi_v);
        _mm512_mask_storeu_ps(dst + r * out_plane, keep, v);
      }
    }
  }

  // Rows oh and oh + 1 of a narrow map (4 to 6 pixels) in one register block; only `keep`
  // rows from row `first` (oh or oh + 1) are written, so an odd last row can ride along with
  // the row above it without that row being written twice.
  void row_pair(std::int64_t ob, std::int64_t oh, std::int64_t first, std::int64_t keep) const {
    const std::int64_t ow_n = g.out[2];
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
    store(out + (first - oh) * ow_n * kOcLanes, keep * ow_n, oc0, rows, first * ow_n);
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
  // A window that reads no padding (a pointwise layer) sees the input itself at the copy's
  // layout, so no copy is made: at two threads a copy split between the cores left each
  // reading half of it from the other core's cache (7x7 pointwise layers 10-35% slower).
  const bool in_place =
      p.hp == g.in[1] && p.wp == g.in[2] && g.pad_begin[1] == 0 && g.pad_begin[2] == 0;
  // Image b's source: the input itself, or its copy in `copies` (images from b0 on).
  auto source = [&](std::int64_t b, std::int64_t b0, const float* copies) {
    return in_place ? x + b * in_image : copies + (b - b0) * image_copy;
  };
  if (n >= num_threads() && n * image_copy <= kBatchCopyFloats) {
    // Small maps (ResNet's 8x8 and 7x7 stages in training): each image uses every weight only
    // a few dozen times, so each thread takes a share of the images, copies them, and runs
    // them weights-outer: a block's weights stay in L2 while the thread's images pass.
    const std::int64_t parts = num_threads();
    parallel_for(parts, 1, [&](std::int64_t t0, std::int64_t t1) {
      for (std::int64_t t = t0; t < t1; ++t) {
        const std::int64_t b0 = t * n / parts, b1 = (t + 1) * n / parts;
        float* xp = in_place ? nullptr : padded_scratch((b1 - b0) * image_copy);
        for (std::int64_t b = b0; b < b1 && !in_place; ++b) {
          p.copy(g, x + b * in_image, 0, c, xp + (b - b0) * image_copy);
        }
        for (std::int64_t ob = 0; ob < blocks; ++ob) {
          for (std::int64_t b = b0; b < b1; ++b) {
            const Rows r = rows_of(b, source(b, b0, xp));
            for (std::int64_t i = 0; i < r.items(); ++i) r.rows(ob, i * r.rows_per_item());
          }
        }
      }
    });
    return;
  }
  if (n >= num_threads()) {
    // A share of the images per thread, each copied and multiplied while hot.
    parallel_for(n, 1, [&](std::int64_t b0, std::int64_t b1) {
      float* xp = in_place ? nullptr : padded_scratch(image_copy);
      for (std::int64_t b = b0; b < b1; ++b) {
        if (!in_place) p.copy(g, x + b * in_image, 0, c, xp);
        rows_of(b, source(b, b, xp)).image();
      }
    });
    return;
  }
  // Row items per channel block (the geometry's alone, the same for every image).
  const Rows probe = rows_of(0, x);
  const std::int64_t per = probe.rows_per_item(), items = probe.items();
  if (n == 1 && blocks * kdim * kOcLanes <= 2 * image_copy) {
    // Batch 1 with weights no larger than twice the input (ResNet's 56x56 and 28x28 stages):
    // each thread takes a band of output rows for every channel block, and copies the padded
    // rows under its band into its own buffer first, in the same loop: one pool barrier per
    // layer, not two. Consecutive layers split the same way, and the caller runs the first
    // chunk of a loop (the worker the second, unless it is late), so a thread mostly reads
    // what it wrote itself. Split by channel blocks, each thread read half of the input from
    // the other core's cache: in this machine's slow two-thread state ResNet-18 went from
    // 1.33x to 1.20x ONNX Runtime's time with bands, and from 1.10x to 1.08x otherwise.
    const std::int64_t parts = num_threads();
    const std::int64_t s = g.stride[1], span = (g.kernel[1] - 1) * g.dilation[1] + 1;
    parallel_for(parts, 1, [&](std::int64_t t0, std::int64_t t1) {
      const std::int64_t i0 = t0 * items / parts, i1 = t1 * items / parts;
      if (i0 == i1) return;
      float* own = in_place ? nullptr : padded_scratch(image_copy);
      if (!in_place) {
        // An odd last row is computed with the one above it (Rows::rows), so one row more.
        const std::int64_t first = std::max<std::int64_t>(0, i0 * per - 1);
        const std::int64_t last = std::min(g.out[1], i1 * per);
        p.copy(g, x, 0, c, own, first * s, std::min(p.hp, (last - 1) * s + span));
      }
      const Rows r = rows_of(0, source(0, 0, own));
      for (std::int64_t ob = 0; ob < blocks; ++ob) {
        for (std::int64_t i = i0; i < i1; ++i) r.rows(ob, i * per);
      }
    });
    return;
  }
  // Fewer images than threads, weights larger (ResNet's 14x14 and 7x7 stages at batch 1):
  // per image, (channel block, row) items are shared out, contiguous items keeping a thread on
  // one block's weights, and each thread makes its own copy of the whole padded input in the
  // same pool loop: one barrier per image instead of two, and no reads of the other core's
  // half of a shared copy. The copy is 50-260 KB against 1-9 MB of weights.
  for (std::int64_t b = 0; b < n; ++b) {
    parallel_for(blocks * items, 1, [&](std::int64_t i0, std::int64_t i1) {
      float* own = in_place ? nullptr : padded_scratch(image_copy);
      if (!in_place) p.copy(g, x + b * in_image, 0, c, own);
      const Rows r = rows_of(b, source(b, b, own));
      for (std::int64_t i = i0; i < i1; ++i) r.rows(i / items, i % items * per);
    });
  }
}
#else
void conv_oc_lanes(const WindowGeometry&, const std::vector<float>&, const float*, const float*,
                   const float*, float*, std::int64_t, std::int64_t, std::int64_t,
                   const ConvEpilogue&) {}
#endif

// ConvGradInput of a strided layer, one stride phase at a time. Pixel (i, j) of phase (a, b)
// is dX pixel (sh * i + a, sw * j + b); the taps that reach it are those with
// (a + pad_h - kh * dil_h) divisible by sh (likewise along w), each reading dY at
// (i + eh, j + ew), e = (a + pad - k * dil) / s. So each phase is a stride-1 correlation of a
// zero-bordered dY with a subset of the taps, on the same register blocks as the forward.
namespace {

struct PhaseAxis {
  std::vector<std::int64_t> taps, shifts;  // kernel index and its dY offset e
  std::int64_t size = 0;                   // phase pixels along the axis
};

PhaseAxis phase_axis(const WindowGeometry& g, int axis, std::int64_t a) {
  PhaseAxis r;
  const std::int64_t s = g.stride[axis], pad = g.pad_begin[axis], d = g.dilation[axis];
  for (std::int64_t k = 0; k < g.kernel[axis]; ++k) {
    const std::int64_t e = a + pad - k * d;
    // Floor division: e may be negative.
    if (((e % s) + s) % s != 0) continue;
    r.taps.push_back(k);
    r.shifts.push_back(e >= 0 ? e / s : -((-e) / s));
  }
  r.size = g.in[axis] > a ? (g.in[axis] - a + s - 1) / s : 0;
  return r;
}

struct Phase {
  std::int64_t a = 0, b = 0;
  PhaseAxis h, w;
};

// Phases and the zero-bordered dY they read: [m][hp][wp], dY pixel (oh, ow) at
// (oh + top, ow + left).
struct PhasePlan {
  std::vector<Phase> phases;
  std::int64_t top = 0, left = 0, hp = 0, wp = 0;

  explicit PhasePlan(const WindowGeometry& g) {
    std::int64_t lo_h = 0, lo_w = 0, hi_h = g.out[1], hi_w = g.out[2];
    for (std::int64_t a = 0; a < g.stride[1]; ++a) {
      for (std::int64_t b = 0; b < g.stride[2]; ++b) {
        Phase p{a, b, phase_axis(g, 1, a), phase_axis(g, 2, b)};
        for (auto e : p.h.shifts) {
          lo_h = std::min(lo_h, e);
          hi_h = std::max(hi_h, p.h.size + e);
        }
        for (auto e : p.w.shifts) {
          lo_w = std::min(lo_w, e);
          hi_w = std::max(hi_w, p.w.size + e);
        }
        phases.push_back(std::move(p));
      }
    }
    top = -lo_h;
    left = -lo_w;
    hp = top + hi_h;
    wp = left + hi_w;
  }

  // A phase no tap reaches (a 1x1 window at stride 2 reaches one phase of four): its dX
  // pixels are zero.
  static bool empty(const Phase& p) { return p.h.taps.empty() || p.w.taps.empty(); }

  bool any_empty() const {
    return std::any_of(phases.begin(), phases.end(), [](const Phase& p) { return empty(p); });
  }

  // Row blocks of a phase: one row of 7+ pixels, or two rows of 4 to 6.
  static bool fits(const Phase& p) {
    const std::int64_t tiles = (p.w.size + kMaxPixels - 1) / kMaxPixels;
    const bool rows = p.w.size >= kMinPixels && p.w.size / tiles >= kMinPixels;
    const bool pairs = p.w.size >= kMinPairWidth && p.w.size < kMinPixels && p.h.size >= 2;
    return rows || pairs;
  }
};

}  // namespace

bool conv_grad_input_phases_applicable(const WindowGeometry& g, std::int64_t group,
                                       std::int64_t m) {
  if (ACT_OC_LANES == 0 || group != 1 || g.in[0] != 1 || g.out[0] != 1 || g.kernel[0] != 1 ||
      g.pad_begin[0] != 0 || (g.stride[1] < 2 && g.stride[2] < 2)) {
    return false;
  }
  const PhasePlan plan(g);
  bool any = false;
  for (const Phase& p : plan.phases) {
    if (PhasePlan::empty(p)) continue;
    any = true;
    if (!PhasePlan::fits(p) ||
        m * static_cast<std::int64_t>(p.h.taps.size() * p.w.taps.size()) < 16) {
      return false;
    }
  }
  return any && m * plan.hp * plan.wp < (std::int64_t{1} << 31);
}

void pack_grad_input_phases(const WindowGeometry& g, const float* w, std::int64_t m, std::int64_t c,
                            std::vector<std::vector<float>>& packed) {
  const PhasePlan plan(g);
  const std::int64_t kh_n = g.kernel[1], kw_n = g.kernel[2];
  const std::int64_t blocks = (c + kOcLanes - 1) / kOcLanes;
  packed.resize(plan.phases.size());
  for (std::size_t pi = 0; pi < plan.phases.size(); ++pi) {
    const Phase& p = plan.phases[pi];
    const auto th = static_cast<std::int64_t>(p.h.taps.size());
    const auto tw = static_cast<std::int64_t>(p.w.taps.size());
    const std::int64_t k = m * th * tw;
    // As pack_oc_lanes: storage reused, whole destination rows, input-channel blocks
    // shared out (repacked on every training step).
    std::vector<float>& out = packed[pi];
    out.resize(static_cast<std::size_t>(blocks * k * kOcLanes));
    const std::int64_t ksize = kh_n * kw_n;
    parallel_for(blocks, 1, [&](std::int64_t cb0, std::int64_t cb1) {
      for (std::int64_t cb = cb0; cb < cb1; ++cb) {
        const std::int64_t rows = std::min(kOcLanes, c - cb * kOcLanes);
        float* __restrict dst = out.data() + cb * k * kOcLanes;
        for (std::int64_t oc = 0; oc < m; ++oc) {
          const float* wk = w + (oc * c + cb * kOcLanes) * ksize;
          for (std::int64_t i = 0; i < th; ++i) {
            for (std::int64_t j = 0; j < tw; ++j) {
              const std::int64_t step = (oc * th + i) * tw + j;
              const float* __restrict src = wk + p.h.taps[static_cast<std::size_t>(i)] * kw_n +
                                            p.w.taps[static_cast<std::size_t>(j)];
              float* d = dst + step * kOcLanes;
              for (std::int64_t r = 0; r < rows; ++r) d[r] = src[r * ksize];
              for (std::int64_t r = rows; r < kOcLanes; ++r) d[r] = 0.0F;
            }
          }
        }
      }
    });
  }
}

#if ACT_OC_LANES
namespace {

// One image's dX from its zero-bordered dY copy `dyp`: work items are (phase, 32-channel
// block, row item), run as [i0, i1).
struct PhaseRows {
  const WindowGeometry& g;
  const PhasePlan& plan;
  const std::vector<std::vector<std::int32_t>>& toff;  // per phase
  const std::vector<std::vector<float>>& packed;
  const float* dyp;
  float* dx;  // this image's [c][ih][iw]
  std::int64_t c, m;

  std::int64_t blocks() const { return (c + kOcLanes - 1) / kOcLanes; }
  static std::int64_t row_items(const Phase& p) {
    if (PhasePlan::empty(p)) return 0;
    return p.w.size >= kMinPixels ? p.h.size : (p.h.size + 1) / 2;
  }
  std::int64_t items() const {
    std::int64_t n = 0;
    for (const Phase& p : plan.phases) n += blocks() * row_items(p);
    return n;
  }

  void run(std::int64_t item) const {
    std::size_t pi = 0;
    while (item >= blocks() * row_items(plan.phases[pi])) {
      item -= blocks() * row_items(plan.phases[pi]);
      ++pi;
    }
    const Phase& p = plan.phases[pi];
    run(pi, item / row_items(p), item % row_items(p));
  }

  // Row item ri of channel block cb of phase pi.
  void run(std::size_t pi, std::int64_t cb, std::int64_t ri) const {
    const Phase& p = plan.phases[pi];
    const std::int64_t kdim = m * static_cast<std::int64_t>(p.h.taps.size() * p.w.taps.size());
    const float* w = packed[pi].data() + cb * kdim * kOcLanes;
    const std::int32_t* t = toff[pi].data();
    const std::int64_t c0 = cb * kOcLanes, lanes = std::min(kOcLanes, c - c0);
    const std::int64_t ih_n = g.in[1], iw_n = g.in[2], in_plane = ih_n * iw_n;
    const std::int64_t sh = g.stride[1], sw = g.stride[2];
    alignas(64) float out[kMaxPixels * kOcLanes];
    // Writes `rows` phase rows from i of `np` pixels from column q0, out[(r * np + j) * 32].
    auto store = [&](std::int64_t i, std::int64_t rows, std::int64_t first, std::int64_t q0,
                     std::int64_t np) {
      for (std::int64_t r = first; r < rows; ++r) {
        const std::int64_t row = (sh * (i + r) + p.a) * iw_n + p.b;
        for (std::int64_t ln = 0; ln < lanes; ++ln) {
          float* d = dx + (c0 + ln) * in_plane + row + sw * q0;
          for (std::int64_t j = 0; j < np; ++j) d[sw * j] = out[(r * np + j) * kOcLanes + ln];
        }
      }
    };
    if (p.w.size >= kMinPixels) {
      const std::int64_t tiles = (p.w.size + kMaxPixels - 1) / kMaxPixels;
      for (std::int64_t tl = 0; tl < tiles; ++tl) {
        const std::int64_t q0 = tl * p.w.size / tiles, np = (tl + 1) * p.w.size / tiles - q0;
        oc_block_n<1>(np, kdim, w, dyp + ri * plan.wp + q0, t, out);
        store(ri, 1, 0, q0, np);
      }
      return;
    }
    // Two phase rows; an odd last one is computed with the row above and stored alone.
    const std::int64_t i = std::min(2 * ri, p.h.size - 2);
    oc_block_pair_n<1>(p.w.size, kdim, w, dyp + i * plan.wp, t, plan.wp, out);
    store(i, 2, 2 * ri - i, 0, p.w.size);
  }
};

}  // namespace

void conv_grad_input_phases(const WindowGeometry& g, const std::vector<std::vector<float>>& packed,
                            const float* dy, float* dx, std::int64_t n, std::int64_t c,
                            std::int64_t m) {
  const PhasePlan plan(g);
  // dY tap offsets per phase, K step (oc, tap h, tap w) as in pack_grad_input_phases.
  std::vector<std::vector<std::int32_t>> toff;
  for (const Phase& p : plan.phases) {
    auto& t = toff.emplace_back();
    for (std::int64_t oc = 0; oc < m; ++oc) {
      for (auto eh : p.h.shifts) {
        for (auto ew : p.w.shifts) {
          t.push_back(static_cast<std::int32_t>(oc * plan.hp * plan.wp + (eh + plan.top) * plan.wp +
                                                ew + plan.left));
        }
      }
    }
  }
  const std::int64_t oh_n = g.out[1], ow_n = g.out[2], copy = m * plan.hp * plan.wp;
  const std::int64_t dy_image = m * oh_n * ow_n, dx_image = c * g.in[1] * g.in[2];
  if (plan.any_empty()) {
    // Phases no tap reaches stay zero; the others are overwritten below.
    parallel_for(n * c, 16, [&](std::int64_t p0, std::int64_t p1) {
      std::fill(dx + p0 * (dx_image / c), dx + p1 * (dx_image / c), 0.0F);
    });
  }
  auto pad_copy = [&](const float* src, std::int64_t oc0, std::int64_t oc1, float* dst) {
    bordered_copy(src, oc0, oc1, 0, plan.hp, oh_n, ow_n, plan.top, plan.left, plan.hp, plan.wp,
                  dst);
  };
  auto rows_of = [&](std::int64_t b, const float* dyp) {
    return PhaseRows{g, plan, toff, packed, dyp, dx + b * dx_image, c, m};
  };
  if (n >= num_threads() && n * copy <= kBatchCopyFloats) {
    // Small maps, as in the forward: each thread copies a share of the images and runs them
    // with (channel block, phase) outer, so those weights stay in L2 while its images pass.
    const std::int64_t parts = num_threads();
    const auto phases = static_cast<std::int64_t>(plan.phases.size());
    parallel_for(parts, 1, [&](std::int64_t t0, std::int64_t t1) {
      for (std::int64_t t = t0; t < t1; ++t) {
        const std::int64_t b0 = t * n / parts, b1 = (t + 1) * n / parts;
        float* dyp = padded_scratch((b1 - b0) * copy);
        for (std::int64_t b = b0; b < b1; ++b)
          pad_copy(dy + b * dy_image, 0, m, dyp + (b - b0) * copy);
        const std::int64_t blocks = (c + kOcLanes - 1) / kOcLanes;
        for (std::int64_t cb = 0; cb < blocks; ++cb) {
          for (std::int64_t pi = 0; pi < phases; ++pi) {
            const auto ps = static_cast<std::size_t>(pi);
            for (std::int64_t b = b0; b < b1; ++b) {
              const PhaseRows rows = rows_of(b, dyp + (b - b0) * copy);
              for (std::int64_t ri = 0; ri < PhaseRows::row_items(plan.phases[ps]); ++ri) {
                rows.run(ps, cb, ri);
              }
            }
          }
        }
      }
    });
    return;
  }
  if (n >= num_threads()) {
    parallel_for(n, 1, [&](std::int64_t b0, std::int64_t b1) {
      float* dyp = padded_scratch(copy);
      for (std::int64_t b = b0; b < b1; ++b) {
        pad_copy(dy + b * dy_image, 0, m, dyp);
        const PhaseRows rows = rows_of(b, dyp);
        for (std::int64_t i = 0, e = rows.items(); i < e; ++i) rows.run(i);
      }
    });
    return;
  }
  float* dyp = padded_scratch(copy);
  for (std::int64_t b = 0; b < n; ++b) {
    parallel_for(
        m, 8, [&](std::int64_t o0, std::int64_t o1) { pad_copy(dy + b * dy_image, o0, o1, dyp); });
    const PhaseRows rows = rows_of(b, dyp);
    parallel_for(rows.items(), 1, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) rows.run(i);
    });
  }
}
#else
void conv_grad_input_phases(const WindowGeometry&, const std::vector<std::vector<float>>&,
                            const float*, float*, std::int64_t, std::int64_t, std::int64_t) {}
#endif

}  // namespace act::cpu
