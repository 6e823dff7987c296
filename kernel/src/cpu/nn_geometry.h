// Sliding-window geometry shared by Conv, ConvTranspose and the pools: kernel, strides,
// dilations, pads (auto_pad resolved) and output sizes along each spatial axis.
//
// Used both by schema inference (sizes may be unknown: -1) and by the CPU kernels (all known).
// Units: elements along one spatial axis. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "act/kernel/attributes.h"

namespace act::cpu {

struct WindowGeometry {
  std::vector<std::int64_t> in;  // input spatial sizes (-1: unknown)
  std::vector<std::int64_t> kernel;
  std::vector<std::int64_t> stride;
  std::vector<std::int64_t> dilation;
  std::vector<std::int64_t> pad_begin;  // unknown (0) when auto_pad needs an unknown input
  std::vector<std::int64_t> pad_end;
  std::vector<std::int64_t> out;             // output spatial sizes (-1: unknown)
  std::vector<std::int64_t> output_padding;  // ConvTranspose only

  int rank() const { return static_cast<int>(in.size()); }
  // Extent of one dilated window along axis i.
  std::int64_t span(int i) const {
    return (kernel[static_cast<std::size_t>(i)] - 1) * dilation[static_cast<std::size_t>(i)] + 1;
  }
  // Extent of the (padded) input that some window reads along axis i: all of it but what a
  // stride skips past the last window.
  std::int64_t read_extent(int i) const {
    return (out[static_cast<std::size_t>(i)] - 1) * stride[static_cast<std::size_t>(i)] + span(i);
  }
};

// Conv and pools. `op` names the op in error messages; `kernel` comes from kernel_shape or
// the weight; `allow_ceil` enables the pools' ceil_mode attribute.
// Throws act::Error on malformed attributes or an empty output.
WindowGeometry resolve_window(const std::string& op, const Attributes& attrs,
                              const std::vector<std::int64_t>& in,
                              const std::vector<std::int64_t>& kernel, bool allow_ceil);

// ConvTranspose: output_shape / output_padding / auto_pad resolved into pads and sizes.
WindowGeometry resolve_transposed_window(const std::string& op, const Attributes& attrs,
                                         const std::vector<std::int64_t>& in,
                                         const std::vector<std::int64_t>& kernel);

// Padded to exactly 3 spatial axes (leading axes of size 1) so kernels have one code path for
// 1-D, 2-D and 3-D windows. Throws for more than 3 spatial axes.
WindowGeometry as_3d(const std::string& op, const WindowGeometry& g);

}  // namespace act::cpu
