#include "act/host/compress_config.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "act/host/onnx_io.h"
#include "act/kernel/error.h"
#include "config_yaml.h"

namespace act::host {

namespace {

using config_yaml::Entry;
using config_yaml::fail_at;
using config_yaml::Source;

namespace fs = std::filesystem;

constexpr const char* kGlobal = "Global";
constexpr const char* kTrainConfig = "TrainConfig";

// Keys PaddleSlim's example scripts (not ACT itself) read from Global: each example's own
// data reader and evaluation. Accepting them lets a config from those examples load; the
// warning says act does not read them.
const std::vector<std::string>& example_script_keys() {
  static const std::vector<std::string> keys = {
      "reader_config",   "arch",          "include_nms",     "Evaluation",
      "data_dir",        "dataset_dir",   "train_image_dir", "val_image_dir",
      "train_anno_path", "val_anno_path", "task_name",       "dataset",
      "max_seq_length",  "model_type",    "padding",         "return_attention_mask"};
  return keys;
}

const std::vector<std::string>& global_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k = {"model",        "model_dir",  "model_filename", "params_filename",
                                  "input_list",   "input_name", "input_names",    "batch_size",
                                  "data",         "eval_data",  "seed",           "deploy_backend",
                                  "opset_version"};
    k.insert(k.end(), example_script_keys().begin(), example_script_keys().end());
    return k;
  }();
  return keys;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  if (text.size() < suffix.size()) return false;
  return std::equal(suffix.rbegin(), suffix.rend(), text.rbegin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
}

std::string resolve(const fs::path& folder, const std::string& path) {
  if (path.empty()) return path;
  const fs::path p(path);
  if (p.is_absolute() || folder.empty()) return p.lexically_normal().string();
  return (folder / p).lexically_normal().string();
}

void parse_global(const Source& source, const Entry& section, const fs::path& folder,
                  GlobalSettings& global) {
  const std::vector<Entry> entries = config_yaml::map_entries(source, section);
  config_yaml::reject_unknown(source, entries, global_keys());

  const Entry* model = nullptr;
  const Entry* model_dir = nullptr;
  const Entry* model_filename = nullptr;
  const Entry* params_filename = nullptr;
  const Entry* inputs = nullptr;
  for (const auto& e : entries) {
    const std::string& k = e.key;
    if (k == "model") {
      model = &e;
    } else if (k == "model_dir") {
      model_dir = &e;
    } else if (k == "model_filename") {
      model_filename = &e;
    } else if (k == "params_filename") {
      params_filename = &e;
    } else if (k == "input_list" || k == "input_name" || k == "input_names") {
      if (inputs != nullptr) {
        fail_at(source, e.key_node, e.path,
                "the model inputs are already given by " + inputs->path);
      }
      inputs = &e;
      global.input_list = config_yaml::read_text_list(source, e);
      for (std::size_t i = 0; i < global.input_list.size(); ++i) {
        const std::string& name = global.input_list[i];
        if (name.empty()) fail_at(source, e.key_node, e.path, "empty input name");
        if (std::count(global.input_list.begin(), global.input_list.end(), name) > 1) {
          fail_at(source, e.key_node, e.path, "input '" + name + "' is listed twice");
        }
      }
    } else if (k == "batch_size") {
      global.batch_size = config_yaml::read_integer(source, e);
      if (global.batch_size < 1) {
        fail_at(source, e.key_node, e.path,
                "must be at least 1, got " + std::to_string(global.batch_size));
      }
    } else if (k == "data" || k == "eval_data") {
      (k == "data" ? global.data : global.eval_data) =
          resolve(folder, config_yaml::read_text(source, e));
    } else if (k == "seed") {
      const std::int64_t seed = config_yaml::read_integer(source, e);
      if (seed < 0) fail_at(source, e.key_node, e.path, "must not be negative");
      global.seed = static_cast<std::uint64_t>(seed);
    } else if (k == "opset_version") {
      global.opset_version = config_yaml::read_integer(source, e);
      const std::int64_t newest = newest_onnx_opset();
      if (global.opset_version < 7 || global.opset_version > newest) {
        fail_at(source, e.key_node, e.path,
                "must be in 7.." + std::to_string(newest) + " (the opsets ONNX's version " +
                    "converter here knows), got " + std::to_string(global.opset_version));
      }
    } else if (k == "deploy_backend") {
      std::string backend = config_yaml::read_text(source, e);
      std::transform(backend.begin(), backend.end(), backend.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      const std::vector<std::string> known = {"onnxruntime", "tensorrt"};
      if (std::find(known.begin(), known.end(), backend) == known.end()) {
        const std::string best = closest_name(backend, known);
        fail_at(source, e.key_node, e.path,
                "unsupported backend '" + e.value.as<std::string>("") + "'" +
                    (best.empty() ? " (supported: onnxruntime, tensorrt)"
                                  : "; did you mean '" + best + "'?"));
      }
      global.deploy_backend = backend;
    } else if (k == "data_dir" || k == "dataset_dir") {
      config_yaml::warn_at(source, e.key_node, e.path,
                           "PaddleSlim's example scripts read it, act does not; give the "
                           "dataset as Global.data or --data");
    } else {
      config_yaml::warn_at(source, e.key_node, e.path,
                           "PaddleSlim's example scripts read it, act does not");
    }
  }

  // The model: one spelling only, so a config never names two models.
  auto given = [](const Entry* e) { return e != nullptr && !config_yaml::is_unset(e->value); };
  const Entry* model_source = nullptr;  // the key the path came from, for errors about it
  if (given(model)) {
    for (const Entry* other : {model_dir, model_filename}) {
      if (given(other)) {
        fail_at(source, other->key_node, other->path,
                "give the model as Global.model or as model_dir (+ model_filename), not both");
      }
    }
    model_source = model;
    global.model = resolve(folder, config_yaml::read_text(source, *model));
  } else if (given(model_dir)) {
    model_source = model_dir;
    std::string path = config_yaml::read_text(source, *model_dir);
    if (given(model_filename)) {
      model_source = model_filename;
      path = (fs::path(path) / config_yaml::read_text(source, *model_filename)).string();
    }
    global.model = resolve(folder, path);
  } else if (given(model_filename)) {
    fail_at(source, model_filename->key_node, model_filename->path,
            "needs Global.model_dir (the folder that holds it)");
  }
  if (ends_with(global.model, ".pdmodel")) {
    fail_at(source, model_source->key_node, model_source->path,
            "Paddle inference models are not supported yet; convert it with paddle2onnx and "
            "name the .onnx file");
  }
  if (given(params_filename)) {
    if (ends_with(global.model, ".onnx")) {
      config_yaml::warn_at(source, params_filename->key_node, params_filename->path,
                           "an ONNX model holds its own weights");
    } else {
      fail_at(source, params_filename->key_node, params_filename->path,
              "separate parameter files belong to Paddle inference models, which are not "
              "supported yet; convert the model with paddle2onnx and name the .onnx file");
    }
  }
}

SectionConfig parse_section(const Source& source, const Entry& section) {
  SectionConfig out;
  out.name = section.key;
  out.line = config_yaml::line_of(section.key_node);
  for (const auto& e : config_yaml::map_entries(source, section)) {
    out.entries.emplace_back(e.key, config_yaml::flow_text(e.value));
  }
  return out;
}

}  // namespace

CompressConfig parse_compress_config(const std::string& yaml_text, const std::string& origin) {
  CompressConfig config;
  config.path = origin;
  const Source source{origin, &config.warnings};

  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    fail(origin, ":", e.mark.line + 1, ": YAML syntax error at column ", e.mark.column + 1, ": ",
         e.msg);
  }
  if (root.IsNull()) fail(origin, ":1: the config is empty; expected sections such as Global");
  if (!root.IsMap()) {
    fail(origin, ":", config_yaml::line_of(root),
         ": the top level must be a map of sections (Global, TrainConfig, QuantAware, ...)");
  }

  const fs::path folder = fs::path(origin).parent_path();
  for (const auto& section : config_yaml::root_entries(source, root)) {
    if (section.key == kGlobal) {
      parse_global(source, section, folder, config.global);
    } else if (section.key == kTrainConfig) {
      config.train = config_yaml::parse_train_config(source, section);
    } else if (const std::string best = closest_name(section.key, {kGlobal, kTrainConfig});
               !best.empty()) {
      // Plugin sections are matched later against the loaded plugins; a near-miss of the two
      // built-in ones would otherwise reach a plugin lookup and hide the real mistake.
      fail_at(source, section.key_node, section.path,
              "unknown section; did you mean '" + best + "'?");
    } else {
      config.sections.push_back(parse_section(source, section));
    }
  }
  return config;
}

CompressConfig load_compress_config(const std::string& path) {
  std::error_code ec;
  ACT_CHECK(fs::exists(path, ec), path, ": no such config file");
  ACT_CHECK(!fs::is_directory(path, ec), path, ": is a folder, not a config file");
  std::ifstream in(path, std::ios::binary);
  ACT_CHECK(in, path, ": cannot read the config file");
  std::ostringstream text;
  text << in.rdbuf();
  ACT_CHECK(!in.bad(), path, ": cannot read the config file");
  return parse_compress_config(text.str(), path);
}

}  // namespace act::host
