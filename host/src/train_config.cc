// TrainConfig: iterations, learning-rate schedule and optimizer, in ACT's key names (which are
// Paddle's class and argument names: PiecewiseDecay, T_max, ClipGradByGlobalNorm, ...).
#include <algorithm>
#include <optional>
#include <sstream>

#include "act/host/compress_config.h"
#include "act/kernel/error.h"
#include "config_yaml.h"

namespace act::host {

namespace config_yaml {

namespace {

const std::vector<std::string> kLrTypes = {"PiecewiseDecay", "CosineAnnealingDecay",
                                           "ExponentialDecay", "LinearWarmup"};
const std::vector<std::string> kOptimizerTypes = {"SGD", "Momentum", "Adam", "AdamW"};

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// "unknown type 'X'" with a suggestion, or the supported list when nothing is close: Paddle
// has more schedules and optimizers than act implements, and their users need to know which.
[[noreturn]] void unknown_type(const Source& source, const Entry& entry, const std::string& what,
                               const std::string& type, const std::vector<std::string>& known) {
  const std::string best = closest_name(type, known);
  fail_at(source, entry.key_node, entry.path,
          "unsupported " + what + " '" + type + "'" +
              (best.empty() ? " (supported: " + joined(known) + ")"
                            : "; did you mean '" + best + "'?"));
}

void require_at_least(const Source& source, const Entry& entry, double value, double minimum,
                      const char* unit = "") {
  if (value >= minimum) return;
  std::ostringstream problem;
  problem << "must be at least " << minimum << unit << ", got " << value;
  fail_at(source, entry.key_node, entry.path, problem.str());
}

double non_negative(const Source& source, const Entry& entry) {
  const double value = read_number(source, entry);
  if (value < 0) {
    std::ostringstream problem;
    problem << "must not be negative, got " << value;
    fail_at(source, entry.key_node, entry.path, problem.str());
  }
  return value;
}

const Entry* find(const std::vector<Entry>& entries, const std::string& key) {
  for (const auto& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

const Entry& required(const Source& source, const Entry& owner, const std::vector<Entry>& entries,
                      const std::string& key, const std::string& why) {
  const Entry* e = find(entries, key);
  if (e == nullptr) fail_at(source, owner.key_node, owner.path, "needs " + key + why);
  return *e;
}

LrConfig parse_lr(const Source& source, const Entry& owner) {
  LrConfig lr;
  if (owner.value.IsScalar()) {
    lr.learning_rate = non_negative(source, owner);
    return lr;
  }
  if (!owner.value.IsMap()) {
    fail_at(source, owner.key_node, owner.path,
            "expected a number or a schedule map such as {type: CosineAnnealingDecay, "
            "learning_rate: 0.01}");
  }
  const std::vector<Entry> entries = map_entries(source, owner);
  const Entry& type = required(source, owner, entries, "type", " (" + joined(kLrTypes) + ")");
  lr.type = read_text(source, type);
  std::vector<std::string> keys = {"type"};
  if (lr.type == "PiecewiseDecay") {
    keys.insert(keys.end(), {"boundaries", "values"});
  } else if (lr.type == "CosineAnnealingDecay") {
    keys.insert(keys.end(), {"learning_rate", "T_max", "eta_min"});
  } else if (lr.type == "ExponentialDecay") {
    keys.insert(keys.end(), {"learning_rate", "gamma"});
  } else if (lr.type == "LinearWarmup") {
    keys.insert(keys.end(), {"learning_rate", "warmup_steps", "start_lr", "end_lr"});
  } else {
    unknown_type(source, type, "schedule", lr.type, kLrTypes);
  }
  reject_unknown(source, entries, keys);

  if (lr.type == "PiecewiseDecay") {
    const Entry& b = required(source, owner, entries, "boundaries", " (the steps where it drops)");
    const Entry& v = required(source, owner, entries, "values", " (one rate per interval)");
    lr.boundaries = read_integer_list(source, b);
    lr.values = read_number_list(source, v);
    for (std::size_t i = 0; i < lr.boundaries.size(); ++i) {
      if (lr.boundaries[i] < 0 || (i > 0 && lr.boundaries[i] <= lr.boundaries[i - 1])) {
        fail_at(source, b.key_node, b.path,
                "must be non-negative and strictly increasing, got " + flow_text(b.value));
      }
    }
    if (lr.values.size() != lr.boundaries.size() + 1) {
      fail_at(source, v.key_node, v.path,
              "needs " + std::to_string(lr.boundaries.size() + 1) + " rates (one more than " +
                  "boundaries), got " + std::to_string(lr.values.size()));
    }
    if (std::any_of(lr.values.begin(), lr.values.end(), [](double x) { return x < 0; })) {
      fail_at(source, v.key_node, v.path, "must not be negative, got " + flow_text(v.value));
    }
    lr.learning_rate = lr.values.front();
    return lr;
  }

  if (lr.type == "LinearWarmup") {
    const Entry& steps = required(source, owner, entries, "warmup_steps", "");
    lr.warmup_steps = read_integer(source, steps);
    require_at_least(source, steps, static_cast<double>(lr.warmup_steps), 0);
    if (const Entry* inner = find(entries, "learning_rate")) {
      lr.after = std::make_shared<LrConfig>(parse_lr(source, *inner));
      lr.learning_rate = lr.after->learning_rate;
    }
    const Entry* start = find(entries, "start_lr");
    const Entry* end = find(entries, "end_lr");
    if (lr.after == nullptr && end == nullptr) {
      fail_at(source, owner.key_node, owner.path,
              "needs learning_rate (the rate or schedule after warmup) or end_lr");
    }
    lr.start_lr = start != nullptr ? non_negative(source, *start) : 0.0;
    lr.end_lr = end != nullptr ? non_negative(source, *end) : lr.learning_rate;
    if (lr.after == nullptr) lr.learning_rate = lr.end_lr;
    return lr;
  }

  lr.learning_rate = non_negative(
      source, required(source, owner, entries, "learning_rate", " (the initial rate)"));
  if (lr.type == "CosineAnnealingDecay") {
    if (const Entry* t = find(entries, "T_max")) {
      lr.t_max = read_integer(source, *t);
      require_at_least(source, *t, static_cast<double>(lr.t_max), 1, " step");
    }
    if (const Entry* eta = find(entries, "eta_min")) lr.eta_min = non_negative(source, *eta);
  } else {  // ExponentialDecay
    const Entry& g = required(source, owner, entries, "gamma", " (the factor per step)");
    lr.gamma = read_number(source, g);
    if (lr.gamma <= 0) fail_at(source, g.key_node, g.path, "must be positive");
  }
  return lr;
}

OptimizerConfig::Kind optimizer_kind(const Source& source, const Entry& entry) {
  const std::string type = read_text(source, entry);
  if (type == "SGD") return OptimizerConfig::Kind::kSgd;
  if (type == "Momentum") return OptimizerConfig::Kind::kMomentum;
  if (type == "Adam") return OptimizerConfig::Kind::kAdam;
  if (type == "AdamW") return OptimizerConfig::Kind::kAdamW;
  unknown_type(source, entry, "optimizer", type, kOptimizerTypes);
}

// optimizer_builder.optimizer: a type name or {type, momentum, use_nesterov, beta1, beta2,
// epsilon, weight_decay}, each argument only where Paddle's class has it.
void parse_optimizer(const Source& source, const Entry& owner, OptimizerConfig& opt,
                     std::optional<double>& weight_decay) {
  if (owner.value.IsScalar()) {
    opt.kind = optimizer_kind(source, owner);
    return;
  }
  const std::vector<Entry> entries = map_entries(source, owner);
  opt.kind = optimizer_kind(
      source, required(source, owner, entries, "type", " (" + joined(kOptimizerTypes) + ")"));
  std::vector<std::string> keys = {"type", "weight_decay"};
  if (opt.kind == OptimizerConfig::Kind::kMomentum) {
    keys.insert(keys.end(), {"momentum", "use_nesterov"});
  }
  if (opt.kind == OptimizerConfig::Kind::kAdam || opt.kind == OptimizerConfig::Kind::kAdamW) {
    keys.insert(keys.end(), {"beta1", "beta2", "epsilon"});
  }
  reject_unknown(source, entries, keys);
  for (const auto& e : entries) {
    if (e.key == "momentum" || e.key == "beta1" || e.key == "beta2") {
      const double value = read_number(source, e);
      if (value < 0 || value >= 1) fail_at(source, e.key_node, e.path, "must be in [0, 1)");
      (e.key == "momentum" ? opt.momentum : e.key == "beta1" ? opt.beta1 : opt.beta2) = value;
    } else if (e.key == "use_nesterov") {
      opt.nesterov = read_flag(source, e);
    } else if (e.key == "epsilon") {
      opt.epsilon = read_number(source, e);
      if (opt.epsilon <= 0) fail_at(source, e.key_node, e.path, "must be positive");
    } else if (e.key == "weight_decay") {
      weight_decay = non_negative(source, e);
    }
  }
}

void parse_optimizer_builder(const Source& source, const Entry& owner, TrainSettings& train) {
  std::optional<double> weight_decay, optimizer_decay;
  const Entry* decay_entry = nullptr;
  const Entry* optimizer_entry = nullptr;
  if (owner.value.IsScalar()) {
    train.optimizer.kind = optimizer_kind(source, owner);
  } else {
    const std::vector<Entry> entries = map_entries(source, owner);
    reject_unknown(source, entries, {"optimizer", "weight_decay", "regularizer", "grad_clip"});
    for (const auto& e : entries) {
      if (e.key == "optimizer") {
        parse_optimizer(source, e, train.optimizer, optimizer_decay);
        optimizer_entry = &e;
        continue;
      }
      if (e.key == "grad_clip") {
        if (e.value.IsScalar()) {
          train.clip_norm = read_number(source, e);
        } else {
          const std::vector<Entry> clip = map_entries(source, e);
          reject_unknown(source, clip, {"type", "clip_norm"});
          const std::string type =
              read_text(source, required(source, e, clip, "type", " (ClipGradByGlobalNorm)"));
          if (type != "ClipGradByGlobalNorm") {
            unknown_type(source, *find(clip, "type"), "gradient clipping", type,
                         {"ClipGradByGlobalNorm"});
          }
          train.clip_norm = read_number(source, required(source, e, clip, "clip_norm", ""));
        }
        if (train.clip_norm <= 0) fail_at(source, e.key_node, e.path, "clip_norm must be positive");
        continue;
      }
      // weight_decay and regularizer both set the L2 factor; a second one would be ambiguous.
      if (decay_entry != nullptr) {
        fail_at(source, e.key_node, e.path, "weight decay is already set by " + decay_entry->path);
      }
      decay_entry = &e;
      if (e.key == "weight_decay") {
        weight_decay = non_negative(source, e);
      } else {  // regularizer: {type: L2Decay, coeff: x}
        const std::vector<Entry> reg = map_entries(source, e);
        reject_unknown(source, reg, {"type", "coeff"});
        const Entry& type = required(source, e, reg, "type", " (L2Decay)");
        if (read_text(source, type) != "L2Decay") {
          unknown_type(source, type, "regularizer", read_text(source, type), {"L2Decay"});
        }
        weight_decay = non_negative(source, required(source, e, reg, "coeff", ""));
      }
    }
    if (optimizer_decay && weight_decay) {
      fail_at(source, optimizer_entry->key_node, optimizer_entry->path + ".weight_decay",
              "weight decay is already set by " + decay_entry->path);
    }
    if (optimizer_decay) weight_decay = optimizer_decay;
  }
  // Paddle's AdamW decays by 0.01 unless told otherwise; the other optimizers do not decay.
  train.optimizer.weight_decay =
      weight_decay.value_or(train.optimizer.kind == OptimizerConfig::Kind::kAdamW ? 0.01 : 0.0);
}

// ACT keys this tool does not implement: accepted with a warning when ignoring them cannot
// change the result, refused otherwise.
void unimplemented_key(const Source& source, const Entry& e) {
  if (e.key == "use_fleet") {
    if (read_flag(source, e)) {
      fail_at(source, e.key_node, e.path,
              "distributed training (Paddle Fleet) is not supported; act trains in one process");
    }
    warn_at(source, e.key_node, e.path, "act always trains in one process");
  } else if (e.key == "amp_config") {
    if (!is_unset(e.value) && !(e.value.IsMap() && e.value.size() == 0)) {
      fail_at(source, e.key_node, e.path,
              "mixed-precision training is not supported; act trains in float32 (remove it)");
    }
    warn_at(source, e.key_node, e.path, "empty");
  } else if (e.key == "sparse_model") {
    if (read_flag(source, e)) {
      fail_at(source, e.key_node, e.path, "exporting a sparse model is not supported yet");
    }
    warn_at(source, e.key_node, e.path, "false is the only supported value");
  } else {  // recompute_config, sharding_config
    warn_at(source, e.key_node, e.path,
            "a memory setting of Paddle's distributed training; it does not change results");
  }
}

}  // namespace

TrainSettings parse_train_config(const Source& source, const Entry& section) {
  TrainSettings train;
  const std::vector<Entry> entries = map_entries(source, section);
  reject_unknown(
      source, entries,
      {"epochs", "train_iter", "eval_iter", "logging_iter", "checkpoint_iter", "origin_metric",
       "target_metric", "learning_rate", "optimizer_builder", "use_fleet", "amp_config",
       "recompute_config", "sharding_config", "sparse_model"});
  for (const auto& e : entries) {
    const std::string& k = e.key;
    if (k == "epochs" || k == "train_iter") {
      const std::int64_t n = read_integer(source, e);
      require_at_least(source, e, static_cast<double>(n), 1);
      (k == "epochs" ? train.epochs : train.train_iter) = n;
    } else if (k == "eval_iter") {
      train.eval_iter = read_integer(source, e);
      if (train.eval_iter != -1 && train.eval_iter < 1) {
        fail_at(
            source, e.key_node, e.path,
            "must be at least 1 (or -1: once per epoch), got " + std::to_string(train.eval_iter));
      }
    } else if (k == "logging_iter") {
      train.logging_iter = read_integer(source, e);
      require_at_least(source, e, static_cast<double>(train.logging_iter), 1);
    } else if (k == "checkpoint_iter") {
      train.checkpoint_iter = read_integer(source, e);
      require_at_least(source, e, static_cast<double>(train.checkpoint_iter), 0);
    } else if (k == "origin_metric" || k == "target_metric") {
      (k == "origin_metric" ? train.origin_metric : train.target_metric) = read_number(source, e);
    } else if (k == "learning_rate") {
      train.learning_rate = parse_lr(source, e);
    } else if (k == "optimizer_builder") {
      parse_optimizer_builder(source, e, train);
    } else {
      unimplemented_key(source, e);
    }
  }
  if (!train.epochs && !train.train_iter) {
    fail_at(source, section.key_node, section.path, "set epochs or train_iter");
  }
  return train;
}

}  // namespace config_yaml

std::unique_ptr<LrSchedule> make_lr_schedule(const LrConfig& config, std::int64_t total_steps,
                                             double lr_scale) {
  const double s = lr_scale;
  if (config.type == "Constant") return constant_lr(config.learning_rate * s);
  if (config.type == "PiecewiseDecay") {
    std::vector<double> values = config.values;
    for (double& v : values) v *= s;
    return piecewise_decay(config.boundaries, std::move(values));
  }
  if (config.type == "CosineAnnealingDecay") {
    const std::int64_t t_max = config.t_max > 0 ? config.t_max : total_steps;
    ACT_CHECK(t_max > 0,
              "CosineAnnealingDecay: T_max is not set and the run's total steps are unknown");
    return cosine_decay(config.learning_rate * s, t_max, config.eta_min * s);
  }
  if (config.type == "ExponentialDecay") {
    return exponential_decay(config.learning_rate * s, config.gamma);
  }
  if (config.type == "LinearWarmup") {
    std::unique_ptr<LrSchedule> after;
    if (config.after) {
      after = make_lr_schedule(*config.after, total_steps - config.warmup_steps, lr_scale);
    }
    return linear_warmup(std::move(after), config.warmup_steps, config.start_lr * s,
                         config.end_lr * s);
  }
  fail("unknown learning-rate schedule type '", config.type, "'");
}

}  // namespace act::host
