#include "cpu/conv_direct.h"

#include <algorithm>
#include <cstring>

#include "act/kernel/parallel.h"
#include "cpu/avx512_lanes.h"
#include "cpu/conv_gemm.h"
#include "cpu/micro_kernel.h"
#include "cpu/nn_internal.h"

#define ACT_CONV_DIRECT ACT_MICRO_KERNEL_AVX2

namespace act::cpu {

namespace {

constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return (a + b - 1) / b;
}

// The calling thread's input copy. It runs a chunk of every parallel_for itself, and those
// chunks take scratch_f32 for their output tiles, so the copy cannot share that buffer.
float* input_scratch(std::int64_t n) {
  return tagged_scratch_f32<struct DirectInputScratch>(n);
}

// Where one group of one image lives for the multiply: either the input itself (stride 1, no
// leading pads, rows already at the right pitch) or the phase-split padded copy.
struct Source {
  const float* data = nullptr;
  std::int64_t readable = 0;  // floats at data that may be read
};

// Where a tap of an output pixel lives. Output pixel (oh, ow) is "virtual" pixel
// v = oh * wq + ow, and tap k (channel, kh, kw) of it is the float at source + off[k] + v.
// The source is either the input itself (stride 1, no leading pads, rows already at the
// right pitch) or a copy with zero borders whose phase plane (a, b) of each channel holds the
// padded pixels (sh * i + a, sw * j + b); only phases some tap reads are built (a 1x1
// stride-2 layer needs one of four).
struct TapLayout {
  const WindowGeometry* g = nullptr;
  std::int64_t cg = 0, kdim = 0, ih_n = 0, iw_n = 0, oh_n = 0, ow_n = 0, in_plane = 0;
  std::int64_t hq = 0, wq = 0, phase = 0, cstride = 0, v_n = 0, max_off = 0, copy_size = 0;
  bool in_place = false;
  std::vector<std::int64_t> slot_phase;  // compact slot -> a * sw + b
  std::vector<std::int32_t> off;

  // False when the offsets would not fit 32 bits (one load per multiply-add step).
  bool init(const WindowGeometry& geom, std::int64_t channels) {
    g = &geom;
    cg = channels;
    ih_n = geom.in[1];
    iw_n = geom.in[2];
    oh_n = geom.out[1];
    ow_n = geom.out[2];
    const std::int64_t kh_n = geom.kernel[1], kw_n = geom.kernel[2];
    const std::int64_t sh = geom.stride[1], sw = geom.stride[2];
    const std::int64_t dh = geom.dilation[1], dw = geom.dilation[2];
    const std::int64_t pt = geom.pad_begin[1], pl = geom.pad_begin[2];
    kdim = cg * kh_n * kw_n;
    in_plane = ih_n * iw_n;
    // The padded extent the outputs read.
    const std::int64_t hp = geom.read_extent(1), wp = geom.read_extent(2);
    in_place = sh == 1 && sw == 1 && pt == 0 && pl == 0 && wp == iw_n && hp <= ih_n;
    hq = in_place ? ih_n : ceil_div(hp, sh);
    wq = in_place ? iw_n : ceil_div(wp, sw);
    phase = hq * wq;
    std::vector<std::int64_t> slot(static_cast<std::size_t>(sh * sw), -1);
    for (std::int64_t r = 0; r < kh_n; ++r) {
      for (std::int64_t s = 0; s < kw_n; ++s) {
        const std::int64_t ph = (r * dh % sh) * sw + s * dw % sw;
        auto& sl = slot[static_cast<std::size_t>(ph)];
        if (sl < 0) {
          sl = static_cast<std::int64_t>(slot_phase.size());
          slot_phase.push_back(ph);
        }
      }
    }
    cstride = in_place ? in_plane : static_cast<std::int64_t>(slot_phase.size()) * phase;
    if (cg * std::max(cstride, in_plane) + phase + 256 >= (std::int64_t{1} << 31)) return false;
    off.resize(static_cast<std::size_t>(kdim));
    for (std::int64_t ci = 0, k = 0; ci < cg; ++ci) {
      for (std::int64_t r = 0; r < kh_n; ++r) {
        for (std::int64_t s = 0; s < kw_n; ++s, ++k) {
          const std::int64_t rh = r * dh, rw = s * dw;
          const std::int64_t sl = slot[static_cast<std::size_t>((rh % sh) * sw + rw % sw)];
          const std::int64_t o = ci * cstride + sl * phase + (rh / sh) * wq + rw / sw;
          off[static_cast<std::size_t>(k)] = static_cast<std::int32_t>(o);
          max_off = std::max(max_off, o);
        }
      }
    }
    v_n = (oh_n - 1) * wq + ow_n;
    copy_size = std::max(cg * cstride, max_off + ceil_div(v_n, kNr) * kNr);
    return true;
  }

  // The source for one image's group of channels at xg; a copy lives in the calling thread's
  // input_scratch until its next call.
  Source source(const float* xg) const {
    if (in_place) return Source{xg, cg * in_plane};
    const std::int64_t sw = g->stride[2], sh = g->stride[1];
    const std::int64_t pt = g->pad_begin[1], pl = g->pad_begin[2];
    const auto phases = static_cast<std::int64_t>(slot_phase.size());
    float* buf = input_scratch(copy_size);
    parallel_for(cg * phases * hq, 32, [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t idx = r0; idx < r1; ++idx) {
        const std::int64_t i = idx % hq, sl = (idx / hq) % phases, ci = idx / (hq * phases);
        const std::int64_t ph = slot_phase[static_cast<std::size_t>(sl)];
        const std::int64_t a = ph / sw, bb = ph % sw;
        float* dst = buf + ci * cstride + sl * phase + i * wq;
        const std::int64_t ih = i * sh + a - pt;
        if (ih < 0 || ih >= ih_n) {
          std::fill(dst, dst + wq, 0.0F);
          continue;
        }
        const float* row = xg + ci * in_plane + ih * iw_n;
        const auto [lo, hi] = valid_range(bb - pl, sw, iw_n, wq);
        std::fill(dst, dst + lo, 0.0F);
        if (sw == 1) {
          std::memcpy(dst + lo, row + lo + bb - pl,
                      static_cast<std::size_t>(hi - lo) * sizeof(float));
        } else {
          for (std::int64_t j = lo; j < hi; ++j) dst[j] = row[j * sw + bb - pl];
        }
        std::fill(dst + hi, dst + wq, 0.0F);
      }
    });
    std::fill(buf + cg * cstride, buf + copy_size, 0.0F);
    return Source{buf, copy_size};
  }
};

#if defined(__AVX512F__)
// One row block of a dense tile straight into y, finished in registers: + bias[r], + the
// residual row, clamped to [lo, hi]; the block's first `Rows` rows are real output channels.
// Inlined for whole blocks: as a call per 6x16 block (with a switch on the row count) it ran
// MobileNetV2's 16->96 layer 10% slower than storing plainly and finishing the tile after.
template <int Rows, class BRow>
[[gnu::always_inline]] inline void block_fused(std::int64_t kc, const float* a, BRow b_row,
                                               float* y, std::int64_t ld, const float* bias,
                                               const float* sum, __m512 lo, __m512 hi) {
  const auto store = [&](int r, __m512 v) {
    _mm512_storeu_ps(y + r * ld,
                     finish_lanes(v, bias != nullptr ? bias + r : nullptr,
                                  sum != nullptr ? sum + r * ld : nullptr, 0xFFFF, lo, hi));
  };
  micro_rows_x16<Rows>(kc, a, b_row, store);
}

// The last row block of a layer whose channels are not a multiple of six: `rows` (1..5).
template <class BRow>
void block_fused_partial(std::int64_t kc, const float* a, BRow b_row, std::int64_t rows, float* y,
                         std::int64_t ld, const float* bias, const float* sum, __m512 lo,
                         __m512 hi) {
  switch (rows) {
    case 1:
      return block_fused<1>(kc, a, b_row, y, ld, bias, sum, lo, hi);
    case 2:
      return block_fused<2>(kc, a, b_row, y, ld, bias, sum, lo, hi);
    case 3:
      return block_fused<3>(kc, a, b_row, y, ld, bias, sum, lo, hi);
    case 4:
      return block_fused<4>(kc, a, b_row, y, ld, bias, sum, lo, hi);
    default:
      return block_fused<5>(kc, a, b_row, y, ld, bias, sum, lo, hi);
  }
}
#endif

}  // namespace

bool conv_direct_applicable(const WindowGeometry& g) {
  return ACT_CONV_DIRECT != 0 && conv_gemm_available() && g.in[0] == 1 && g.kernel[0] == 1 &&
         g.pad_begin[0] == 0 && g.pad_end[0] == 0 && g.out[0] == 1;
}

bool conv_direct(const WindowGeometry& g, const std::vector<std::vector<float>>& packed,
                 const float* x, const float* bias, const float* sum, float* y, std::int64_t n,
                 std::int64_t c, std::int64_t m, std::int64_t group, const ConvEpilogue& epi) {
#if ACT_CONV_DIRECT
  const std::int64_t cg = c / group, mg = m / group;
  TapLayout t;
  if (!t.init(g, cg)) return false;
  const std::int64_t kdim = t.kdim, in_plane = t.in_plane, oh_n = t.oh_n, ow_n = t.ow_n;
  const std::int64_t out_plane = oh_n * ow_n, wq = t.wq, v_n = t.v_n, max_off = t.max_off;
  const std::vector<std::int32_t>& off = t.off;
  const bool dense = wq == ow_n;
  std::vector<std::int32_t> tail_off(static_cast<std::size_t>(kdim));
  for (std::int64_t k = 0; k < kdim; ++k)
    tail_off[static_cast<std::size_t>(k)] = static_cast<std::int32_t>(k * kNr);

  // Work items: pixel tiles x row-block chunks. The output tile (rows x width) should stay in
  // L2; maps too small to give every thread a tile are split by output channels instead, so
  // each thread streams only its share of the weights.
  const std::int64_t mblocks = ceil_div(mg, kMr);
  const std::int64_t rows = mblocks * kMr;
  const std::int64_t threads = num_threads();
  std::int64_t tw = std::clamp<std::int64_t>(65536 / rows / kNr * kNr, kNr, 256);
  std::int64_t tiles = ceil_div(v_n, tw);
  std::int64_t chunks = 1;
  if (tiles >= threads) {
    tiles = ceil_div(tiles, threads) * threads;
    tw = ceil_div(ceil_div(v_n, tiles), kNr) * kNr;
    tiles = ceil_div(v_n, tw);
  } else {
    chunks = std::min(mblocks, ceil_div(threads, tiles));
  }
  // K in near-equal blocks of at most 256, so an A micro-panel stays in L1 while it sweeps
  // the tile's panels.
  const std::int64_t kblocks = ceil_div(kdim, 256);
  const std::int64_t kc = ceil_div(kdim, kblocks);
  // Dense tiles with one K block and a clamp epilogue finish their blocks in registers
  // (block_fused), the last partial row block included, instead of storing the tile and
  // passing over it again for bias, residual and activation: that pass re-read ~250 KiB per
  // tile from L2, and the partial block went through ct and a copy.
#if defined(__AVX512F__)
  float lo_f = 0.0F, hi_f = 0.0F;
  const bool fused = dense && kblocks == 1 && epi.clamp_bounds(lo_f, hi_f);
  const __m512 lo_v = _mm512_set1_ps(lo_f), hi_v = _mm512_set1_ps(hi_f);
#else
  const bool fused = false;
#endif

  for (std::int64_t b = 0; b < n; ++b) {
    for (std::int64_t gi = 0; gi < group; ++gi) {
      const float* xg = x + (b * c + gi * cg) * in_plane;
      const Source src = t.source(xg);
      const float* ag = packed[static_cast<std::size_t>(gi)].data();
      const std::int64_t yoff = (b * m + gi * mg) * out_plane;
      float* yg = y + yoff;
      const float* sg = sum != nullptr ? sum + yoff : nullptr;
      const float* bg = bias != nullptr ? bias + gi * mg : nullptr;
      parallel_for(tiles * chunks, 1, [&](std::int64_t i0, std::int64_t i1) {
        for (std::int64_t item = i0; item < i1; ++item) {
          const std::int64_t tile = item / chunks, q = item % chunks;
          const std::int64_t mb0 = q * mblocks / chunks, mb1 = (q + 1) * mblocks / chunks;
          const std::int64_t v0 = tile * tw, v1 = std::min(v_n, v0 + tw);
          const std::int64_t panels = ceil_div(v1 - v0, kNr);
          const std::int64_t ldc = panels * kNr;
          // Panels whose 16 columns would read past the source (in place, the last panel of
          // the image) are copied into `tail`, [panel][k][16], with the reads clamped.
          std::int64_t safe = panels;
          while (safe > 0 && v0 + safe * kNr + max_off > src.readable) --safe;
          float* ct = scratch_f32((mb1 - mb0) * kMr * ldc + (panels - safe) * kdim * kNr);
          float* tail = ct + (mb1 - mb0) * kMr * ldc;
          for (std::int64_t j = safe; j < panels; ++j) {
            const std::int64_t v = v0 + j * kNr;
            float* tj = tail + (j - safe) * kdim * kNr;
            for (std::int64_t k = 0; k < kdim; ++k) {
              const std::int64_t base = off[static_cast<std::size_t>(k)] + v;
              for (std::int64_t e = 0; e < kNr; ++e) {
                tj[k * kNr + e] = base + e < src.readable ? src.data[base + e] : 0.0F;
              }
            }
          }
          // When the pitch is the output width (1x1 without padding), virtual pixels are
          // real ones and whole 6x16 blocks go straight to y; the rest goes through ct.
          const std::int64_t full_panels = dense ? (v1 - v0) / kNr : 0;
          const std::int64_t full_mb = fused ? mb1 : dense ? std::min(mb1, mg / kMr) : mb0;
          for (std::int64_t pc = 0; pc < kdim; pc += kc) {
            const std::int64_t kcc = std::min(kc, kdim - pc);
            const bool add = pc > 0;
            // Panel-outer within row-block chunks: the panel's taps (kc rows of 16 floats,
            // scattered over the input) stay in L1 while a chunk of A (~128 KiB) streams
            // past them from L2 for every panel of the tile. Short products (K <= 128) go
            // row block by row block instead: panel-outer, a panel's stores hit every row of
            // the tile, more write streams than the prefetcher follows, and with so few
            // multiplies per store that showed (MobileNetV2's 16->96 at 112x112 with cold
            // caches: 0.90 -> 0.57 ms; the model -3% at one thread).
            const std::int64_t chunk =
                kdim <= 128 ? 1 : std::max<std::int64_t>(1, 32768 / (kcc * kMr));
            for (std::int64_t mc = mb0; mc < mb1; mc += chunk) {
              const std::int64_t mc1 = std::min(mb1, mc + chunk);
              for (std::int64_t j = 0; j < panels; ++j) {
                const bool packed_tail = j >= safe;
                const float* bj =
                    packed_tail ? tail + (j - safe) * kdim * kNr : src.data + v0 + j * kNr;
                const std::int32_t* oj = (packed_tail ? tail_off.data() : off.data()) + pc;
                // Row p of B is the tap at offset oj[p] from the panel's first pixel.
                const auto b_row = [bj, oj](std::int64_t p) { return bj + oj[p]; };
                for (std::int64_t mb = mc; mb < mc1; ++mb) {
                  const float* a = ag + mb * kdim * kMr + pc * kMr;
                  if (mb < full_mb && j < std::min(full_panels, safe)) {
                    float* yb = yg + mb * kMr * out_plane + v0 + j * kNr;
#if defined(__AVX512F__)
                    if (fused) {
                      const std::int64_t row = mb * kMr;
                      const float* br = bg != nullptr ? bg + row : nullptr;
                      const float* sr =
                          sg != nullptr ? sg + row * out_plane + v0 + j * kNr : nullptr;
                      if (mg - row >= kMr) {
                        block_fused<6>(kcc, a, b_row, yb, out_plane, br, sr, lo_v, hi_v);
                      } else {
                        block_fused_partial(kcc, a, b_row, mg - row, yb, out_plane, br, sr, lo_v,
                                            hi_v);
                      }
                      continue;
                    }
#endif
                    micro_6x16(kcc, a, b_row, yb, out_plane, add);
                  } else {
                    micro_6x16(kcc, a, b_row, ct + (mb - mb0) * kMr * ldc + j * kNr, ldc, add);
                  }
                }
              }
            }
          }
          const std::int64_t r0 = mb0 * kMr, r1 = std::min(mg, mb1 * kMr);
          if (dense) {
            // Blocks that went through ct: the rows past the last whole row block, and the
            // columns past the whole panels (or past `safe`).
            const std::int64_t direct_cols = std::min(full_panels, safe) * kNr;
            for (std::int64_t r = r0; r < r1; ++r) {
              const std::int64_t from = r < full_mb * kMr ? direct_cols : 0;
              std::memcpy(yg + r * out_plane + v0 + from, ct + (r - r0) * ldc + from,
                          static_cast<std::size_t>(v1 - v0 - from) * sizeof(float));
            }
            // Fused blocks are finished; only the columns that went through ct still need it.
            const std::int64_t done = fused ? direct_cols : 0;
            epi.apply(yg + r0 * out_plane + v0 + done, out_plane, r1 - r0, v1 - v0 - done,
                      bg != nullptr ? bg + r0 : nullptr,
                      sg != nullptr ? sg + r0 * out_plane + v0 + done : nullptr, out_plane);
            continue;
          }
          // Keep the pixels that are real outputs, row segment by row segment, and finish them
          // while they are in cache.
          for (std::int64_t orow = v0 / wq; orow < oh_n && orow * wq < v1; ++orow) {
            const std::int64_t a = std::max(v0, orow * wq), e = std::min(v1, orow * wq + ow_n);
            if (e <= a) continue;
            const std::int64_t len = e - a, pix = orow * ow_n + (a - orow * wq);
            for (std::int64_t r = r0; r < r1; ++r) {
              std::memcpy(yg + r * out_plane + pix, ct + (r - r0) * ldc + (a - v0),
                          static_cast<std::size_t>(len) * sizeof(float));
            }
            epi.apply(yg + r0 * out_plane + pix, out_plane, r1 - r0, len,
                      bg != nullptr ? bg + r0 : nullptr,
                      sg != nullptr ? sg + r0 * out_plane + pix : nullptr, out_plane);
          }
        }
      });
    }
  }
#else
  (void)g, (void)packed, (void)x, (void)bias, (void)sum, (void)y, (void)n, (void)c, (void)m,
      (void)group, (void)epi;
  return false;
#endif
  return true;
}

}  // namespace act::cpu
