// The bundled CNN as a model exported without BatchNorm folding would look: an inference
// BatchNormalization after every Conv, near the identity (the model still classifies), so
// the quantizers must fold them before placing Q/DQ. Ownership: writes one file.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "act/host/onnx_io.h"
#include "compress/compress_test_util.h"

namespace act::test {

// Writes the model to `path` and returns `path`.
inline std::string bundled_model_with_batch_norm(const std::string& path) {
  Model m = host::load_onnx(kBundledModel);
  Graph& g = m.graph;
  std::vector<Node> convs;
  for (const Node& n : g.nodes()) {
    if (n.op_type == "Conv") convs.push_back(n);
  }
  for (const Node& conv : convs) {
    const std::int64_t c = g.initializer(conv.inputs[1])->shape()[0];
    const std::string raw = g.unique_name(conv.outputs[0] + "_before_bn");
    for (Node& n : g.mutable_nodes()) {
      if (n.name == conv.name) n.outputs[0] = raw;
    }
    std::vector<float> gamma, beta, mean, var;
    for (std::int64_t i = 0; i < c; ++i) {
      const auto f = static_cast<float>(i % 5);
      gamma.push_back(1.0F + 0.02F * f);
      beta.push_back(0.01F * f - 0.02F);
      mean.push_back(0.03F * f - 0.05F);
      var.push_back(1.0F + 0.1F * f);
    }
    Node bn;
    bn.name = conv.name + "_bn";
    bn.op_type = "BatchNormalization";
    bn.inputs = {raw};
    for (const auto& [suffix, values] : std::vector<std::pair<std::string, std::vector<float>>>{
             {"_gamma", gamma}, {"_beta", beta}, {"_mean", mean}, {"_var", var}}) {
      g.set_initializer(bn.name + suffix, Tensor::from_vector(Shape{c}, values));
      bn.inputs.push_back(bn.name + suffix);
    }
    bn.outputs = {conv.outputs[0]};
    g.add_node(std::move(bn));
  }
  g.clear_value_infos();
  g.topological_sort();
  host::save_onnx(m, path);
  return path;
}

// Fails the test for every BatchNormalization left in the model at `path`.
inline void expect_no_batch_norm(const std::string& path) {
  for (const Node& n : host::load_onnx(path).graph.nodes()) {
    EXPECT_NE(n.op_type, "BatchNormalization") << n.name << " was not folded";
  }
}

}  // namespace act::test
