// The regions of region-wise reconstruction (region_recon.h): spans of the graph from one
// tensor to another, each holding one or more quantized layers, e.g. a residual block.
//
// A region from `start` to `end` is every node on a path from start to end, plus the nodes
// that feed those only with constants (a Shape/Constant chain computed without the data), so
// the region runs by itself from the values in `inputs`.
//
// Automatic regions (QuantPost without `regions`): a cut point is a tensor that every path from
// the graph's inputs to its outputs passes through (the only live tensor at that point of the
// topological order: a residual block's input and output, every tensor of a plain chain).
// Regions run from each cut point that a quantized layer reads to the next such cut point, the
// last one to the graph's output. So a ResNet gives one region per residual block (plus the
// stem and the head), a plain CNN one region per layer with its activation and pooling. Layers
// before the first such cut point, or after the last when the graph has several outputs, fall
// in no region.
//
// Ownership: plain values (node indices refer to the graph they were made from, unedited).
// Threading: none.
#pragma once

#include <string>
#include <vector>

#include "act/kernel/graph.h"
#include "quant_targets.h"

namespace act::quant {

struct Region {
  std::string start, end;
  std::vector<std::size_t> nodes;    // indices into graph.nodes(), in graph order
  std::vector<std::string> inputs;   // data values the nodes read and none produces; start first
  std::vector<std::size_t> targets;  // indices into `targets` of the quantized layers inside
};

// The region from `start` to `end`. Throws act::Error "<where>: ..." when a name is not a value
// of the graph (with the closest name as a suggestion), when end is not reachable from start,
// or when the span holds none of `targets`.
Region make_region(const Graph& graph, const std::string& start, const std::string& end,
                   const std::vector<Target>& targets, const std::string& where);

// The automatic regions described above, in graph order (empty when there is no cut point
// that a target reads).
std::vector<Region> find_regions(const Graph& graph, const std::vector<Target>& targets);

}  // namespace act::quant
