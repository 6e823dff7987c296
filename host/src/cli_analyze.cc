// `act analyze quant --model M.onnx --data D [options]`: per-layer quantization sensitivity.
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "act/host/analyze.h"
#include "act/kernel/parallel.h"
#include "cli_data_options.h"
#include "commands.h"

namespace act::host {

namespace po = boost::program_options;

int run_analyze(const std::vector<std::string>& args) {
  po::options_description visible(
      "act analyze quant --model M.onnx --data D [options]\n\n"
      "Per-layer sensitivity to post-training quantization. The recipe is the config's\n"
      "QuantPost section (ACT's defaults without one). For each layer QuantPost quantizes,\n"
      "the model is quantized with only that layer and compared with the float model on the\n"
      "evaluation data: SQNR (dB) and cosine of the model's output, top-1 and its drop (in\n"
      "points) when the data has labels. Layers are printed most sensitive first. Then ACT's\n"
      "fallback: quantize every layer and leave the most sensitive ones in float, one at a\n"
      "time, until the target holds (default: at most 0.5 point below float; without labels,\n"
      "an output SQNR of --min-sqnr). It prints the layers left in float as the QuantPost line\n"
      "that does the same in 'act compress'; with --save-dir it writes OUT/model.onnx and\n"
      "OUT/analysis.json. Exit codes: 0 done, 1 failed or the target needs every layer in\n"
      "float, 2 usage error.\n\noptions");
  visible.add_options()("help,h", "show this help")("model,m", po::value<std::string>(),
                                                    "input model (.onnx); overrides Global.model")(
      "data,d", po::value<std::string>(),
      "calibration data (and evaluation data unless --eval-data); overrides Global.data")(
      "eval-data,e", po::value<std::string>(), "evaluation data; overrides Global.eval_data")(
      "config,c", po::value<std::string>(),
      "YAML config: QuantPost (the recipe), Global (model, data, input_list), "
      "TrainConfig.target_metric")("target-metric", po::value<double>(),
                                   "top-1 (a fraction, e.g. 0.88) the fallback must reach")(
      "max-drop", po::value<double>(),
      "or: at most this many points below the float model's top-1 (default 0.5)")(
      "min-sqnr", po::value<double>()->default_value(30.0),
      "the target for data without labels: output SQNR in dB")(
      "limit,n", po::value<std::int64_t>()->default_value(-1),
      "evaluate on the first N samples only")("save-dir,o", po::value<std::string>(),
                                              "write OUT/model.onnx and OUT/analysis.json")(
      "top", po::value<std::int64_t>()->default_value(-1),
      "print only the N most sensitive layers (the JSON has all)")(
      "json", po::value<std::string>(), "also write the table as JSON to this file")(
      "plugin-dir", po::value<std::vector<std::string>>()->composing(),
      "also search this folder for plugins (before ACT_PLUGIN_PATH and the install's)")(
      "threads,t", po::value<int>(), "CPU threads (default: all cores, or ACT_NUM_THREADS)");
  add_data_options(visible);
  po::options_description all;
  all.add(visible).add_options()("what", po::value<std::string>(), "what to analyze");
  po::positional_options_description positional;
  positional.add("what", 1);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "act analyze: %s\n\n", e.what());
    std::cerr << visible << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << visible << "\n";
    return 0;
  }
  if (!vm.count("what")) {
    std::fprintf(stderr, "act analyze: say what to analyze: act analyze quant ...\n\n");
    std::cerr << visible << "\n";
    return 2;
  }
  const std::string what = vm["what"].as<std::string>();
  if (what != "quant") {
    std::fprintf(stderr, "act analyze: unknown analysis '%s' (known: quant)\n", what.c_str());
    return 2;
  }
  if (vm.count("target-metric") && vm.count("max-drop")) {
    std::fprintf(stderr, "act analyze: give --target-metric or --max-drop, not both\n");
    return 2;
  }
  AnalyzeOptions options;
  if (vm.count("config")) options.config = vm["config"].as<std::string>();
  if (vm.count("model")) options.model = vm["model"].as<std::string>();
  if (vm.count("data")) options.data = vm["data"].as<std::string>();
  if (vm.count("eval-data")) options.eval_data = vm["eval-data"].as<std::string>();
  if (options.model.empty() && options.config.empty()) {
    std::fprintf(stderr, "act analyze: --model is required (or a --config with Global.model)\n");
    return 2;
  }
  if (options.data.empty() && options.config.empty()) {
    std::fprintf(stderr, "act analyze: --data is required (or a --config with Global.data)\n");
    return 2;
  }
  if (vm.count("target-metric")) {
    options.target_metric = vm["target-metric"].as<double>();
    if (!(*options.target_metric >= 0.0 && *options.target_metric <= 1.0)) {
      std::fprintf(stderr, "act analyze: --target-metric is a top-1 fraction in [0, 1]\n");
      return 2;
    }
  }
  if (vm.count("max-drop")) {
    options.max_drop = vm["max-drop"].as<double>();
    if (!(*options.max_drop >= 0.0 && *options.max_drop <= 100.0)) {
      std::fprintf(stderr, "act analyze: --max-drop is in points, 0 to 100\n");
      return 2;
    }
  }
  options.min_sqnr_db = vm["min-sqnr"].as<double>();
  options.limit = vm["limit"].as<std::int64_t>();
  if (options.limit == 0 || options.limit < -1) {
    std::fprintf(stderr, "act analyze: --limit must be at least 1\n");
    return 2;
  }
  options.top = vm["top"].as<std::int64_t>();
  if (options.top == 0 || options.top < -1) {
    std::fprintf(stderr, "act analyze: --top must be at least 1\n");
    return 2;
  }
  if (vm.count("save-dir")) options.save_dir = vm["save-dir"].as<std::string>();
  if (vm.count("json")) options.json = vm["json"].as<std::string>();
  if (vm.count("plugin-dir")) options.plugin_dirs = vm["plugin-dir"].as<std::vector<std::string>>();
  options.env_plugin_path = std::getenv("ACT_PLUGIN_PATH");
  options.data_options = read_data_options(vm);
  if (vm.count("threads")) {
    const int threads = vm["threads"].as<int>();
    if (threads < 1) {
      std::fprintf(stderr, "act analyze: --threads must be at least 1\n");
      return 2;
    }
    set_num_threads(threads);
  }
  return analyze_quant(options);
}

}  // namespace act::host
