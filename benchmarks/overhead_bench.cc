// Executor overhead per node: a chain of 10000 trivial nodes on a 1-element tensor.
//
// Usage: overhead_bench [nodes]
// The ops live in a private OpRegistry so only the executor's dispatch is measured:
//   Pass  - forwards its input (set_output; no allocation): pure dispatch cost.
//   Clamp - allocates a fresh 1-element output and writes max(x, 0): dispatch + allocation,
//           what a real elementwise kernel such as Relu pays.
// If the global registry has a Relu kernel, that chain is timed too.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "act/kernel/executor.h"
#include "bench_util.h"

namespace {

// Built with += rather than "v" + to_string(i): GCC 12 warns falsely (-Wrestrict) on the latter.
std::string value_name(const char* prefix, int i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

act::Graph chain(const std::string& op, int nodes) {
  act::Graph g;
  act::ValueInfo x;
  x.name = "v0";
  x.has_dtype = true;
  x.has_shape = true;
  x.shape = {act::Dim{1, ""}};
  g.add_input(x);
  for (int i = 0; i < nodes; ++i) {
    act::Node n;
    n.name = value_name("n", i);
    n.op_type = op;
    n.inputs = {value_name("v", i)};
    n.outputs = {value_name("v", i + 1)};
    g.add_node(std::move(n));
  }
  g.add_output(act::ValueInfo{value_name("v", nodes)});
  return g;
}

void report(const char* label, const act::Graph& g, const act::OpRegistry& registry, int nodes) {
  act::Executor ex(g, 17, {}, registry);
  const std::vector<act::Tensor> feeds{act::Tensor::from_vector<float>({1}, {-1.5F})};
  const double t = act::bench::time_per_call([&] { ex.run(feeds); }, 0.3, 5);
  std::printf("%-34s %8.1f ns/node  (%.3f ms per run of %d nodes)\n", label, t / nodes * 1e9,
              t * 1e3, nodes);
}

}  // namespace

int main(int argc, char** argv) {
  const int nodes = argc > 1 ? std::atoi(argv[1]) : 10000;
  act::OpRegistry local;
  for (const char* name : {"Pass", "Clamp"}) {
    act::OpSchema s;
    s.name = name;
    s.domain = "bench";
    local.add_schema(s);
  }
  local.add_kernel(
      "Pass", "bench", act::DeviceKind::kCpu, {act::DType::kF32}, [](const act::KernelInit&) {
        return act::make_kernel([](act::KernelContext& ctx) { ctx.set_output(0, ctx.input(0)); });
      });
  local.add_kernel("Clamp", "bench", act::DeviceKind::kCpu, {act::DType::kF32},
                   [](const act::KernelInit&) {
                     return act::make_kernel([](act::KernelContext& ctx) {
                       const act::Tensor& x = ctx.input(0);
                       act::Tensor& y = ctx.allocate(0, act::DType::kF32, x.shape());
                       const float* xd = x.data<float>();
                       float* yd = y.data<float>();
                       for (long i = 0; i < x.numel(); ++i) yd[i] = xd[i] > 0.0F ? xd[i] : 0.0F;
                     });
                   });
  auto in_domain = [](act::Graph g) {
    for (auto& n : g.mutable_nodes()) n.domain = "bench";
    return g;
  };
  report("Pass (dispatch only)", in_domain(chain("Pass", nodes)), local, nodes);
  report("Clamp (dispatch + 1-elem alloc)", in_domain(chain("Clamp", nodes)), local, nodes);
  if (act::OpRegistry::global().supports("Relu", "", act::DeviceKind::kCpu, act::DType::kF32)) {
    report("Relu (global registry)", chain("Relu", nodes), act::OpRegistry::global(), nodes);
  } else {
    std::printf("Relu (global registry): no CPU kernel registered yet, skipped\n");
  }
  return 0;
}
