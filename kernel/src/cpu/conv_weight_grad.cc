#include "cpu/conv_weight_grad.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/conv_gemm.h"
#include "cpu/micro_kernel.h"
#include "cpu/nn_internal.h"

namespace act::cpu {

namespace {
// Output pixels per image below which the im2col path stays: on ResNet-18's 8x8 and 4x4 maps
// (batch 32, one thread) the tap products ran 10-20% slower than im2col over the image,
// while the 32x32 and 16x16 layers ran 5-17% faster (docs/benchmarks.md (e), fourth pass).
constexpr std::int64_t kMinPixels = 256;
}  // namespace

bool weight_grad_taps_applicable(const WindowGeometry& g, std::int64_t cg) {
  return ACT_MICRO_KERNEL_AVX2 != 0 && g.in[0] == 1 && g.out[0] == 1 && g.kernel[0] == 1 &&
         cg >= 8 && g.out[1] * g.out[2] >= kMinPixels;
}

#if ACT_MICRO_KERNEL_AVX2
namespace {

// Pixels per K block: the tap operand of one block (kKc rows of 64 bytes per panel) stays in
// L1 while every row block of dY passes over it.
constexpr std::int64_t kKc = 256;
// Floats of copied images per chunk (1 MiB, this machine's L2): see weight_grad_taps.
constexpr std::int64_t kChunkFloats = std::int64_t{1} << 18;

// x [cg][ih][iw] into dst [hp][wp] pixels of `ps` floats (channels first, zero outside the
// image and past cg); (pt, pl) is where the image's corner lands. 8x8 blocks go through
// registers; edges element by element.
void to_channels_last(const float* x, std::int64_t cg, std::int64_t ih, std::int64_t iw,
                      std::int64_t hp, std::int64_t wp, std::int64_t ps, std::int64_t pt,
                      std::int64_t pl, float* dst) {
  std::memset(dst, 0, static_cast<std::size_t>(hp * wp * ps) * sizeof(float));
  const std::int64_t plane = ih * iw;
  const std::int64_t rows = std::min(ih, hp - pt), cols = std::min(iw, wp - pl);
  const std::int64_t c8 = cg / 8 * 8, w8 = cols / 8 * 8;
  for (std::int64_t r = 0; r < rows; ++r) {
    float* drow = dst + ((r + pt) * wp + pl) * ps;
    for (std::int64_t c = 0; c < c8; c += 8) {
      const float* src = x + c * plane + r * iw;
      for (std::int64_t q = 0; q < w8; q += 8) transpose_8x8(src + q, plane, drow + q * ps + c, ps);
      for (std::int64_t q = w8; q < cols; ++q) {
        for (std::int64_t i = 0; i < 8; ++i) drow[q * ps + c + i] = src[i * plane + q];
      }
    }
    for (std::int64_t c = c8; c < cg; ++c) {
      const float* src = x + c * plane + r * iw;
      for (std::int64_t q = 0; q < cols; ++q) drow[q * ps + c] = src[q];
    }
  }
}

}  // namespace

void weight_grad_taps(const WindowGeometry& g, std::int64_t cg, std::int64_t mg, const float* x,
                      std::int64_t x_stride, const float* dy, std::int64_t dy_stride,
                      std::int64_t images, float* acc) {
  const std::int64_t ih = g.in[1], iw = g.in[2], oh = g.out[1], ow = g.out[2];
  const std::int64_t kh = g.kernel[1], kw = g.kernel[2];
  const std::int64_t sh = g.stride[1], sw = g.stride[2], dh = g.dilation[1], dw = g.dilation[2];
  // The padded plane holds exactly what some window reads.
  const std::int64_t hp = g.read_extent(1), wp = g.read_extent(2);
  const std::int64_t cgp = (cg + kNr - 1) / kNr * kNr, panels = cgp / kNr;
  // Floats per pixel of the planes. A product step reads one 64-byte line per pixel, kKc
  // pixels apart by this stride; a multiple of 256 bytes would put those lines in a few L1
  // sets (ResNet's 128 and 512 channels: 8 and 2 of 64 sets), so such strides get a line more.
  const std::int64_t ps = cgp % 64 == 0 ? cgp + kNr : cgp;
  const std::int64_t pixels = oh * ow, taps = kh * kw, plane = hp * wp * ps;
  const std::int64_t mblocks = (mg + kMr - 1) / kMr, rows = mblocks * kMr;
  // K runs over the pixels of every image (the by-tap sums in ct carry over from one chunk of
  // images to the next), so dW is written to `acc` once per call. The images go in chunks
  // whose copies (channels-last planes and packed dY, about kChunkFloats) are still in L2
  // when they are multiplied: copying all the images first sent 20 MB out to memory and back
  // for a 64-channel 32x32 layer at batch 32, and took a fifth of its time. ResNet-18's
  // ConvGradWeight at one thread: 395 -> 360 ms per step (train_bench --profile 1; two or more
  // images per chunk measured slower than one there).
  const std::int64_t per_image = plane + pixels * mblocks * kMr;
  const std::int64_t chunk = std::clamp<std::int64_t>(kChunkFloats / per_image, 1, images);
  const std::int64_t kmax = chunk * pixels;

  float* xp = scratch_f32(chunk * per_image + taps * rows * cgp);
  float* ap = xp + chunk * plane;
  float* ct = ap + mblocks * kmax * kMr;  // [tap][rows][cgp]: dW by tap, channels last
  // Step k of a chunk's product reads the planes at offset[k] plus its tap's offset.
  thread_local std::vector<std::int64_t> offset;
  offset.resize(static_cast<std::size_t>(kmax));
  for (std::int64_t b = 0; b < chunk; ++b) {
    for (std::int64_t y = 0; y < oh; ++y) {
      for (std::int64_t q = 0; q < ow; ++q) {
        offset[static_cast<std::size_t>((b * oh + y) * ow + q)] =
            b * plane + (y * sh * wp + q * sw) * ps;
      }
    }
  }

  for (std::int64_t b0 = 0; b0 < images; b0 += chunk) {
    const std::int64_t nb = std::min(chunk, images - b0), k = nb * pixels;
    for (std::int64_t b = 0; b < nb; ++b) {
      to_channels_last(x + (b0 + b) * x_stride, cg, ih, iw, hp, wp, ps, g.pad_begin[1],
                       g.pad_begin[2], xp + b * plane);
      pack_a_into(dy + (b0 + b) * dy_stride, pixels, mg, pixels, k * kMr, ap + b * pixels * kMr);
    }
    // Per K block and tap, each row block of dY (a micro-panel, in L1) meets every channel
    // panel in turn, so consecutive calls write neighbouring 64-byte pieces of the same dW rows.
    for (std::int64_t pc = 0; pc < k; pc += kKc) {
      const std::int64_t kc = std::min(kKc, k - pc);
      const std::int64_t* off = offset.data() + pc;
      const bool add = b0 > 0 || pc > 0;
      for (std::int64_t t = 0; t < taps; ++t) {
        const std::int64_t tap_off = ((t / kw) * dh * wp + (t % kw) * dw) * ps;
        for (std::int64_t mb = 0; mb < mblocks; ++mb) {
          const float* a = ap + (mb * k + pc) * kMr;
          float* cb = ct + (t * rows + mb * kMr) * cgp;
          for (std::int64_t j = 0; j < panels; ++j) {
            const float* base = xp + tap_off + j * kNr;
            const auto b_row = [base, off](std::int64_t p) { return base + off[p]; };
            micro_6x16(kc, a, b_row, cb + j * kNr, cgp, add);
          }
        }
      }
    }
  }

  for (std::int64_t m = 0; m < mg; ++m) {
    float* dst = acc + m * cg * taps;
    for (std::int64_t t = 0; t < taps; ++t) {
      const float* src = ct + (t * rows + m) * cgp;
      for (std::int64_t c = 0; c < cg; ++c) dst[c * taps + t] += src[c];
    }
  }
}
#else
void weight_grad_taps(const WindowGeometry&, std::int64_t, std::int64_t, const float*, std::int64_t,
                      const float*, std::int64_t, std::int64_t, float*) {}
#endif

}  // namespace act::cpu
