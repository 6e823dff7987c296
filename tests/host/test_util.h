// Helpers shared by the host tests: scratch folders and small hand-built models.
#pragma once

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "act/kernel/graph.h"

namespace act::test {

// A fresh folder under the system temp dir, removed (recursively) on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("act_host_test_" + std::to_string(rd()) + "_" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Deterministic pseudo-random f32 tensor.
inline Tensor random_tensor(Shape shape, unsigned seed) {
  Tensor t(DType::kF32, std::move(shape));
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = dist(gen);
  return t;
}

inline ValueInfo tensor_info(const std::string& name, DType dtype, std::vector<Dim> dims) {
  ValueInfo v;
  v.name = name;
  v.dtype = dtype;
  v.has_dtype = true;
  v.has_shape = true;
  v.shape = std::move(dims);
  return v;
}

// x[N,3,8,8] -> Conv(W[4,3,3,3], B[4], pads 1, stride 2) -> c[N,4,4,4]
//   -> Reshape([-1, 64]) -> MatMul(M[64,5]) -> Add(b2[5]) -> y[N,5]
inline Model conv_matmul_model() {
  Model m;
  m.ir_version = 8;
  m.opset_imports = {{"", 13}};
  m.producer_name = "act-test";
  m.producer_version = "1";
  m.doc_string = "model doc";
  m.metadata_props = {{"author", "tests"}, {"purpose", "round trip"}};
  Graph& g = m.graph;
  g.name = "conv_matmul";
  g.doc_string = "graph doc";
  g.add_input(tensor_info("x", DType::kF32, {Dim{-1, "N"}, Dim{3, {}}, Dim{8, {}}, Dim{8, {}}}));
  g.add_output(tensor_info("y", DType::kF32, {Dim{-1, "N"}, Dim{5, {}}}));
  g.set_initializer("W", random_tensor({4, 3, 3, 3}, 1));
  g.set_initializer("B", random_tensor({4}, 2));
  g.set_initializer("shape", Tensor::from_vector<std::int64_t>({2}, {-1, 64}));
  g.set_initializer("M", random_tensor({64, 5}, 3));
  g.set_initializer("b2", random_tensor({5}, 4));
  Node conv{"conv1", "Conv", "", {"x", "W", "B"}, {"c"}, {}, "the conv"};
  conv.attrs.set("pads", std::vector<std::int64_t>{1, 1, 1, 1});
  conv.attrs.set("strides", std::vector<std::int64_t>{2, 2});
  conv.attrs.set("kernel_shape", std::vector<std::int64_t>{3, 3});
  g.add_node(conv);
  g.add_node(Node{"flat", "Reshape", "", {"c", "shape"}, {"r"}, {}, ""});
  g.add_node(Node{"fc", "MatMul", "", {"r", "M"}, {"mm"}, {}, ""});
  g.add_node(Node{"bias", "Add", "", {"mm", "b2"}, {"y"}, {}, ""});
  return m;
}

}  // namespace act::test
