// `act inspect MODEL [--json]`: what is in a model, without running it.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "act/host/model_stats.h"
#include "act/host/onnx_io.h"
#include "act/kernel/error.h"
#include "commands.h"
#include "json_text.h"

namespace act::host {

namespace po = boost::program_options;

namespace {

std::string q(const std::string& s) {
  return json_quote(s);
}

std::string dtype_text(const ValueInfo& v) {
  return v.has_dtype ? std::string(dtype_name(v.dtype)) : std::string("?");
}

// 1234567 -> "1.23 M"; keeps tables narrow.
std::string human(double v) {
  const char* units[] = {"", " K", " M", " G", " T", " P"};
  int u = 0;
  while (v >= 1000.0 && u < 5) {
    v /= 1000.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f%s" : "%.0f%s", v, units[u]);
  return buf;
}

std::string human_bytes(double v) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", v, units[u]);
  return buf;
}

void print_json(const std::string& path, const Model& model, const ModelStats& s) {
  std::ostringstream o;
  auto values = [&](const std::vector<ValueInfo>& vs) {
    o << "[";
    for (std::size_t i = 0; i < vs.size(); ++i) {
      o << (i ? ", " : "") << "{\"name\": " << q(vs[i].name)
        << ", \"dtype\": " << q(dtype_text(vs[i])) << ", \"shape\": " << q(vs[i].shape_string())
        << "}";
    }
    o << "]";
  };
  o << "{\n  \"model\": " << q(path) << ",\n  \"ir_version\": " << model.ir_version
    << ",\n  \"opset\": " << model.default_opset()
    << ",\n  \"producer\": " << q(model.producer_name) << ",\n  \"inputs\": ";
  values(s.inputs);
  o << ",\n  \"outputs\": ";
  values(s.outputs);
  o << ",\n  \"node_count\": " << s.node_count << ",\n  \"ops\": {";
  bool first = true;
  for (const auto& [op, n] : s.op_histogram) {
    o << (first ? "" : ", ") << q(op) << ": " << n;
    first = false;
  }
  o << "},\n  \"parameters\": " << s.parameter_count
    << ",\n  \"parameter_bytes\": " << s.parameter_bytes
    << ",\n  \"total_flops\": " << s.total_flops
    << ",\n  \"flops_complete\": " << (s.flops_complete ? "true" : "false")
    << ",\n  \"symbolic_dims_as_one\": " << (s.symbolic_dims_as_one ? "true" : "false")
    << ",\n  \"layers\": [";
  for (std::size_t i = 0; i < s.layers.size(); ++i) {
    const auto& l = s.layers[i];
    o << (i ? "," : "") << "\n    {\"node\": " << q(l.node) << ", \"op\": " << q(l.op_type)
      << ", \"output\": " << q(l.output) << ", \"shape\": " << q(l.output_shape)
      << ", \"params\": " << l.params << ", \"macs\": " << l.macs << ", \"flops\": ";
    if (l.flops_known) {
      o << l.flops;
    } else {
      o << "null";
    }
    o << "}";
  }
  o << "\n  ],\n  \"distill_nodes\": [";
  for (std::size_t i = 0; i < s.distill_candidates.size(); ++i) {
    const auto& d = s.distill_candidates[i];
    o << (i ? ", " : "") << "{\"value\": " << q(d.value) << ", \"op\": " << q(d.op_type)
      << ", \"shape\": " << q(d.shape) << "}";
  }
  o << "]\n}\n";
  std::fputs(o.str().c_str(), stdout);
}

void print_text(const std::string& path, const Model& model, const ModelStats& s) {
  std::printf("model: %s\n  ir_version %lld, opset %lld", path.c_str(),
              static_cast<long long>(model.ir_version),
              static_cast<long long>(model.default_opset()));
  if (!model.producer_name.empty()) {
    std::printf(", producer %s %s", model.producer_name.c_str(), model.producer_version.c_str());
  }
  std::printf("\n\ninputs:\n");
  for (const auto& v : s.inputs) {
    std::printf("  %-32s %-5s %s\n", v.name.c_str(), dtype_text(v).c_str(),
                v.shape_string().c_str());
  }
  std::printf("outputs:\n");
  for (const auto& v : s.outputs) {
    std::printf("  %-32s %-5s %s\n", v.name.c_str(), dtype_text(v).c_str(),
                v.shape_string().c_str());
  }
  std::printf("\nops (%lld nodes):\n", static_cast<long long>(s.node_count));
  for (const auto& [op, n] : s.op_histogram)
    std::printf("  %-24s %lld\n", op.c_str(), static_cast<long long>(n));
  std::printf("\nparameters: %lld (%s), %s\n", static_cast<long long>(s.parameter_count),
              human(static_cast<double>(s.parameter_count)).c_str(),
              human_bytes(static_cast<double>(s.parameter_bytes)).c_str());

  if (!s.layers.empty()) {
    std::printf("\nFLOPs per layer (2 x multiply-adds):\n");
    std::printf("  %-28s %-14s %-22s %12s %12s\n", "node", "op", "output shape", "params", "FLOPs");
    for (const auto& l : s.layers) {
      std::printf("  %-28s %-14s %-22s %12lld %12s\n", l.node.c_str(), l.op_type.c_str(),
                  l.output_shape.c_str(), static_cast<long long>(l.params),
                  l.flops_known ? human(static_cast<double>(l.flops)).c_str() : "?");
    }
  }
  std::printf("\ntotal FLOPs: %lld (%s)%s%s\n", static_cast<long long>(s.total_flops),
              human(static_cast<double>(s.total_flops)).c_str(),
              s.flops_complete ? "" : "; some layers have unknown shapes and are not counted",
              s.symbolic_dims_as_one ? "; symbolic dims taken as 1" : "");

  std::printf("\ndistillation node candidates (outputs of layers with weights):\n");
  if (s.distill_candidates.empty()) std::printf("  (none)\n");
  for (const auto& d : s.distill_candidates) {
    std::printf("  %-32s %-14s %s\n", d.value.c_str(), d.op_type.c_str(), d.shape.c_str());
  }
}

}  // namespace

int run_inspect(const std::vector<std::string>& args) {
  po::options_description visible("options");
  visible.add_options()("help,h", "show this help")("json", "print JSON instead of text");
  po::options_description all;
  all.add(visible).add_options()("model", po::value<std::string>(), "model file");
  po::positional_options_description positional;
  positional.add("model", 1);

  auto usage = [&](std::FILE* out) {
    std::ostringstream o;
    o << visible;
    std::fprintf(out,
                 "usage: act inspect MODEL [--json]\n\n"
                 "Prints a model's inputs and outputs, op histogram, parameter count and bytes,\n"
                 "FLOPs per layer and in total, and the values usable as distillation nodes.\n\n%s",
                 o.str().c_str());
  };

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "act inspect: %s\n\n", e.what());
    usage(stderr);
    return 2;
  }
  if (vm.count("help")) {
    usage(stdout);
    return 0;
  }
  if (!vm.count("model")) {
    std::fprintf(stderr, "act inspect: missing MODEL argument\n\n");
    usage(stderr);
    return 2;
  }
  const std::string path = vm["model"].as<std::string>();
  const Model model = load_onnx(path);
  const ModelStats stats = compute_model_stats(model);
  if (vm.count("json")) {
    print_json(path, model, stats);
  } else {
    print_text(path, model, stats);
  }
  return 0;
}

}  // namespace act::host
