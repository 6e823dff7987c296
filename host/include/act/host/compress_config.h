// The YAML config of `act compress`, in the key names of PaddleSlim's Auto Compression Toolkit.
//
// A config is a map of sections. `Global` (model, inputs, batch size, data) and `TrainConfig`
// (epochs or iterations, learning rate, optimizer, eval cadence) are read and validated here;
// every other top-level key (QuantAware, Distillation, a third-party plugin's section...) is
// kept as text key/value pairs for the plugin that declares it, which the scheduler finds.
//
//   Global:
//     model_dir: ./mobilenet_v2.onnx        # or model_dir + model_filename, or model
//     batch_size: 32
//   QuantAware:
//     quantize_op_types: [conv2d, depthwise_conv2d]
//   TrainConfig:
//     epochs: 1
//     eval_iter: 500
//     learning_rate: {type: CosineAnnealingDecay, learning_rate: 0.015}
//     optimizer_builder:
//       optimizer: {type: Momentum}
//       weight_decay: 4.0e-05
//
// Unlike ACT, which drops what it does not know, mistakes are errors: an unknown or misspelled
// key or section, a value of the wrong type, an out-of-range value. Every message reads
// "<file>:<line>: <Section.key>: <problem>" (line 1-based), with "did you mean 'X'?" when a
// known name is close. ACT keys this tool does not implement are refused when ignoring them
// would change the result (use_fleet: true, amp_config), and otherwise accepted with a warning
// in CompressConfig::warnings (docs/decisions.md, "Config", lists each).
//
// Units: steps and iterations count optimizer updates (batches); epochs count passes over the
// training data; learning rates and decays are plain factors; metrics are in the units of the
// evaluation (ACT: top-1 accuracy as a fraction).
// Paths: relative model and data paths are resolved against the folder of the config file
// (ACT resolves them against the working directory; a config moved next to its model works
// from anywhere). `--model`/`--data` on the command line override them.
// Ownership: every struct owns plain values; make_lr_schedule returns a schedule the caller
// owns. Threading: all functions are reentrant; nothing here keeps global state.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "act/kernel/optimizer.h"
#include "act/sdk/config_reader.h"

namespace act::host {

// A learning-rate schedule as configured (TrainConfig.learning_rate); built into an
// act::LrSchedule by make_lr_schedule. A plain number in the file is type "Constant".
struct LrConfig {
  // Constant, PiecewiseDecay, CosineAnnealingDecay, ExponentialDecay or LinearWarmup
  // (Paddle's paddle.optimizer.lr class names; optimizer.h has the formulas).
  std::string type = "Constant";
  double learning_rate = 0.001;          // the base / initial lr (PiecewiseDecay: values[0])
  std::vector<std::int64_t> boundaries;  // PiecewiseDecay: strictly increasing steps
  std::vector<double> values;            // PiecewiseDecay: boundaries.size() + 1 rates
  std::int64_t t_max = -1;               // CosineAnnealingDecay (T_max): -1 = the run's total steps
  double eta_min = 0.0;                  // CosineAnnealingDecay
  double gamma = 0.1;                    // ExponentialDecay: lr * gamma^step
  std::int64_t warmup_steps = 0;         // LinearWarmup
  double start_lr = 0.0, end_lr = 0.0;   // LinearWarmup (end_lr defaults to the inner lr)
  // LinearWarmup's schedule after warmup: its `learning_rate`, a number (a Constant) or a
  // nested schedule map. nullptr: constant end_lr.
  std::shared_ptr<LrConfig> after;
};

struct TrainSettings {
  // At least one is set. With both, training stops at whichever ends first (as in ACT).
  std::optional<std::int64_t> epochs, train_iter;
  std::int64_t eval_iter = -1;       // evaluate every N steps; -1: once per epoch (or at the
                                     // end when only train_iter is set)
  std::int64_t logging_iter = 10;    // log every N steps
  std::int64_t checkpoint_iter = 0;  // ACT extension: checkpoint every N steps, 0 = never;
                                     // the CLI may override
  // ACT's meaning: origin_metric checks the data pipeline against the uncompressed model's
  // known metric; target_metric stops training once reached.
  std::optional<double> origin_metric, target_metric;
  LrConfig learning_rate;
  // optimizer_builder.optimizer.type and its arguments; weight_decay from optimizer_builder
  // (or regularizer: {type: L2Decay, coeff}); AdamW defaults to Paddle's 0.01 when unset.
  OptimizerConfig optimizer;
  double clip_norm = 0.0;  // grad_clip: {type: ClipGradByGlobalNorm, clip_norm}; 0 = none
};

struct GlobalSettings {
  // The model file: Global.model (ACT extension), or model_dir joined with model_filename
  // (model_dir alone may name the file, as ACT allows for ONNX). Resolved against the config's
  // folder; empty when the config names none (the CLI must then give --model).
  std::string model;
  // Model inputs fed with data (input_list; ACT's example scripts' input_name/input_names are
  // accepted too). Empty: the model's first input.
  std::vector<std::string> input_list;
  std::int64_t batch_size = 32;
  std::string data, eval_data;  // dataset paths, resolved like model (optional; CLI overrides)
  std::uint64_t seed = 0;
  std::string deploy_backend = "onnxruntime";  // onnxruntime | tensorrt (lower-cased)
  // opset_version (ACT extension, paddle2onnx's name): the model's default-domain opset is
  // raised to at least this with ONNX's version converter before anything runs (per-channel
  // int8 needs 13); 0: the model as it is.
  std::int64_t opset_version = 0;
};

// One strategy section as text key/value pairs for act::sdk::KeyValueConfig: a scalar as
// written (quotes removed), a null as "", a sequence or map in YAML flow style re-emitted by
// yaml-cpp ("[conv2d, depthwise_conv2d]", "{a: 1, b: [2, 3]}"), so the text is canonical
// whatever style the file used (config_view.h).
struct SectionConfig {
  std::string name;
  int line = 0;  // 1-based line of the section key in the file
  std::vector<std::pair<std::string, std::string>> entries;  // file order, keys unique
};

struct CompressConfig {
  std::string path;  // the file it came from (parse_compress_config: the origin)
  GlobalSettings global;
  std::optional<TrainSettings> train;   // absent when the config has no TrainConfig
  std::vector<SectionConfig> sections;  // every other top-level section, in file order
  // "<file>:<line>: <Section.key>: ignored: <why>" for accepted keys this tool does not act
  // on; the CLI prints them before running.
  std::vector<std::string> warnings;
};

// Reads, parses and validates the file. Throws act::Error "<file>:<line>: <Section.key>:
// <problem>" for: an unreadable or missing file; a YAML syntax error (yaml-cpp's position);
// a top level that is not a map; a section or key given twice; an unknown key in Global,
// TrainConfig, learning_rate or optimizer_builder; a top-level key close to Global or
// TrainConfig ("Globals"); a wrong type ("TrainConfig.epochs: expected an integer, got
// 'ten'"); an out-of-range value (epochs < 1, a negative lr, boundaries not increasing,
// values.size() != boundaries.size() + 1, an unknown lr or optimizer type).
CompressConfig load_compress_config(const std::string& path);

// The same from text; `origin` names it in messages and its folder anchors relative paths.
CompressConfig parse_compress_config(const std::string& yaml_text, const std::string& origin);

// The schedule of `config` with every learning rate (values, start/end, eta_min) multiplied
// by lr_scale (ACT's second stage uses 0.1). Cosine's t_max defaults to total_steps (inside
// LinearWarmup: total_steps - warmup_steps, since the inner schedule starts after warmup).
// Throws act::Error when a schedule needs total_steps and it is not positive.
std::unique_ptr<LrSchedule> make_lr_schedule(const LrConfig& config, std::int64_t total_steps,
                                             double lr_scale = 1.0);

// For error messages: the candidate closest to `name` by edit distance, or "" when none is
// near. One implementation for the SDK and the host (act/sdk/config_reader.h).
using act::sdk::closest_name;

}  // namespace act::host
