#include "stage_runner.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>

#include "act/host/evaluate.h"
#include "act/kernel/error.h"
#include "act/kernel/graph_trainer.h"
#include "act/kernel/op_registry.h"
#include "act/kernel/passes.h"
#include "dataset_model_data.h"
#include "directory_state_store.h"
#include "run_editor.h"

namespace act::host {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct LiveStrategy {
  const PlannedStrategy* plan;
  const PluginInfo* plugin;
  StrategyPtr strategy;
  std::unique_ptr<DirectoryStateStore> state;  // null when the run keeps no state
};

void check(const LiveStrategy& s, const char* hook, sdk::Status status) {
  check_strategy_hook(*s.plan, hook, status);
}

void validate_after(const LiveStrategy& s, const char* hook, Model& model) {
  try {
    model.graph.validate(&OpRegistry::global());
  } catch (const Error& e) {
    fail("plugin '", s.plugin->name, "' (", s.plan->section, ") ", hook,
         " left an invalid graph: ", e.what());
  }
}

std::string format_duration(double seconds) {
  const auto total = static_cast<long long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60, total % 60);
  return buf;
}

// One-hot f32 [n, classes] from i64 labels; a label outside the classes names the sample.
Tensor one_hot(const Batch& batch, std::int64_t classes) {
  const Tensor& labels = *batch.labels;
  const std::int64_t n = labels.numel();
  Tensor out(DType::kF32, {n, classes});
  float* o = out.data<float>();
  std::fill(o, o + out.numel(), 0.0F);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t c = labels.data<std::int64_t>()[i];
    ACT_CHECK(c >= 0 && c < classes, "training data: sample ", batch.indices[i], " has label ", c,
              " but the model has ", classes, " classes");
    o[i * classes + c] = 1.0F;
  }
  return out;
}

// Per-step progress: redrawn in place on a terminal, a line per logging_iter elsewhere.
class ProgressLine {
 public:
  ProgressLine(std::FILE* out, std::string stage, std::int64_t total, std::int64_t every)
      : out_(out),
        tty_(::isatty(::fileno(out)) == 1),
        stage_(std::move(stage)),
        total_(total),
        every_(std::max<std::int64_t>(every, 1)) {}

  void update(std::int64_t step, std::int64_t epoch, std::int64_t epochs, double loss, double lr,
              double samples_per_s, bool force) {
    const std::int64_t done = step + 1;
    if (!force && done % every_ != 0 && done != total_) return;
    const int width = 24;
    const auto filled = static_cast<int>(width * done / std::max<std::int64_t>(total_, 1));
    std::fprintf(
        out_,
        "%s%s [%s%s] step %lld/%lld epoch %lld/%lld loss %.4f lr %.3g %.0f samples/s ETA %s%s",
        tty_ ? "\r" : "", stage_.c_str(),
        std::string(static_cast<std::size_t>(filled), '=').c_str(),
        std::string(static_cast<std::size_t>(width - filled), ' ').c_str(),
        static_cast<long long>(done), static_cast<long long>(total_),
        static_cast<long long>(epoch + 1), static_cast<long long>(epochs), loss, lr, samples_per_s,
        format_duration(eta_seconds_).c_str(), tty_ ? "\x1b[K" : "\n");
    std::fflush(out_);
    dirty_ = tty_;
  }
  void set_eta(double seconds) { eta_seconds_ = seconds; }
  // Ends a redrawn line before other output.
  void newline() {
    if (dirty_) std::fputc('\n', out_);
    dirty_ = false;
  }

 private:
  std::FILE* out_;
  bool tty_;
  std::string stage_;
  std::int64_t total_, every_;
  double eta_seconds_ = 0.0;
  bool dirty_ = false;
};

Model with_graph(const Model& like, Graph graph) {
  Model m = like;
  m.graph = std::move(graph);
  return m;
}

std::map<std::string, Tensor> snapshot(GraphTrainer& trainer) {
  std::map<std::string, Tensor> out;
  for (const auto& name : trainer.trainable()) out[name] = trainer.parameter(name)->clone();
  return out;
}

void restore(GraphTrainer& trainer, const std::map<std::string, Tensor>& weights) {
  for (const auto& [name, t] : weights) {
    Tensor* p = trainer.parameter(name);
    ACT_CHECK(p != nullptr && p->shape() == t.shape(), "checkpoint: parameter '", name,
              "' does not fit the model");
    std::copy_n(t.data<float>(), t.numel(), p->data<float>());
  }
}

std::string number_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

double meta_number(const Checkpoint& ck, const std::string& key) {
  auto it = ck.meta.find(key);
  ACT_CHECK(it != ck.meta.end(), "checkpoint: missing '", key, "'");
  return std::stod(it->second);
}

}  // namespace

void check_strategy_hook(const PlannedStrategy& strategy, const char* hook, sdk::Status status) {
  if (status.ok()) return;
  fail("plugin '", strategy.plugin, "' (", strategy.section, ") ", hook, ": ", status.error);
}

StrategyPtr configured_strategy(const PluginManager& plugins, const PlannedStrategy& strategy) {
  StrategyPtr created = plugins.create_strategy(strategy.plugin);
  sdk::KeyValueConfig view(strategy.section, strategy.config->entries);
  check_strategy_hook(strategy, "configure", created->configure(view));
  return created;
}

double top1_of(const Model& model, const Dataset& data) {
  EvalOptions options;
  options.model_name = "the model being compressed";
  return evaluate(model, data, options).top1;
}

std::string config_folder_of(const CompressConfig& config) {
  return std::filesystem::path(config.path).parent_path().string();
}

StageOutcome run_stage(const StageSetup& setup, Model model) {
  const PlannedStage& stage = *setup.stage;
  const auto t0 = Clock::now();
  StageOutcome out;
  std::FILE* log = setup.log;
  const std::string label = "stage " + std::to_string(setup.index + 1) + "/" +
                            std::to_string(setup.count) + " (" + stage.name + ")";

  // Calibration and metric access for the strategies' graph hooks (sdk/model_data.h).
  std::unique_ptr<DatasetModelData> data;
  if (setup.train_data != nullptr) {
    data = std::make_unique<DatasetModelData>(*setup.train_data, setup.eval_data, setup.input);
  }

  // ---- configure and rewrite, in plan order
  std::vector<LiveStrategy> live;
  for (const PlannedStrategy& s : stage.strategies) {
    const PluginInfo* plugin = setup.plugins->find(s.plugin);
    ACT_CHECK(plugin != nullptr, "plugin '", s.plugin, "' is not loaded");
    live.push_back({&s, plugin, configured_strategy(*setup.plugins, s),
                    setup.state_dir.empty() ? nullptr
                                            : std::make_unique<DirectoryStateStore>(
                                                  setup.state_dir + "/" + s.section)});
  }
  const std::string config_folder = config_folder_of(*setup.config);
  for (LiveStrategy& s : live) {
    RunEditor editor(model, data.get(), setup.input_model, config_folder, s.state.get());
    check(s, "rewrite_graph", s.strategy->rewrite_graph(editor));
    validate_after(s, "rewrite_graph", model);
  }

  if (stage.trains) {
    const TrainSettings& train = *setup.config->train;
    const Dataset& data = *setup.train_data;
    const std::int64_t batch_size = setup.config->global.batch_size;
    ACT_CHECK(data.size() >= batch_size, "training data has ", data.size(),
              " samples, fewer than one batch of ", batch_size);
    BatchOptions bo;
    bo.batch_size = batch_size;
    bo.shuffle = true;
    bo.seed = setup.config->global.seed;
    bo.drop_last = true;  // backward needs one static batch shape
    BatchIterator batches(data, bo);
    const std::int64_t per_epoch = batches.num_batches();
    const std::int64_t total = stage_steps(stage, per_epoch);
    out.planned_steps = total;
    out.epochs = (total + per_epoch - 1) / per_epoch;
    const std::unique_ptr<LrSchedule> lr =
        make_lr_schedule(train.learning_rate, total, stage.lr_scale);

    // The loss terms strategies declare at the first step are the ones the trainer builds
    // in; their weights may change every step, the set may not (StrategyV1 contract).
    sdk::StepState state(sdk::StepPosition{0, 0, total, lr->at(0)});
    sdk::LossTerms declared;
    for (LiveStrategy& s : live)
      check(s, "add_loss_terms", s.strategy->add_loss_terms(state, declared));
    GraphTrainerOptions options;
    options.data_inputs = {setup.input};
    options.batch_size = batch_size;
    options.optimizer = train.optimizer;
    options.clip_norm = train.clip_norm;
    // A strategy may train on its terms alone (ACT's distillation): labels are then unread.
    if (data.has_labels() && !declared.task_loss_replaced()) {
      options.logits = model.graph.outputs().at(0).name;
    } else if (data.has_labels()) {
      std::fprintf(log, "%s: training on the strategies' loss terms alone (labels unused)\n",
                   label.c_str());
    }
    for (const auto& term : declared.terms()) options.loss_terms.push_back(term.value);
    GraphTrainer trainer(model.graph, model.default_opset(), options);
    for (const auto& name : trainer.trainable())
      state.set_parameter(name, *trainer.parameter(name));

    const bool by_loss = setup.eval_data == nullptr || !setup.eval_data->has_labels();
    out.metric_is_loss = by_loss;
    if (by_loss) {
      // The evaluation loss is what the batches give without labels: the terms alone.
      ACT_CHECK(options.logits.empty(),
                "the evaluation data has no labels, so the best weights "
                "would be chosen by the loss, but training minimizes a loss against the training "
                "labels; give labelled evaluation data (--eval-data)");
      if (setup.eval_data == nullptr || setup.eval_data == setup.train_data) {
        std::fprintf(log,
                     "%s: no labelled evaluation data: the best weights are chosen by the "
                     "loss on the training data; give held-out data with --eval-data\n",
                     label.c_str());
      }
    }
    std::map<std::string, Tensor> best = snapshot(trainer);
    // The starting weights are the fallback "best" (a non-finite loss before the first
    // evaluation keeps them); any evaluated step replaces them.
    double best_metric = -INFINITY;
    std::int64_t step = 0;
    if (setup.resume != nullptr) {
      const Checkpoint& ck = *setup.resume;
      std::map<std::string, Tensor> state_tensors, best_tensors;
      for (const auto& [key, t] : ck.tensors) {
        if (key.rfind("best/", 0) == 0) {
          best_tensors[key.substr(5)] = t;
        } else {
          state_tensors[key] = t;
        }
      }
      step = static_cast<std::int64_t>(meta_number(ck, "step"));
      trainer.load_state(state_tensors, step);
      best = best_tensors;
      best_metric = meta_number(ck, "best_metric");
      out.best_step = static_cast<std::int64_t>(meta_number(ck, "best_step"));
      std::fprintf(log, "%s: resuming at step %lld of %lld\n", label.c_str(),
                   static_cast<long long>(step), static_cast<long long>(total));
    }
    // Epoch k's order depends only on (seed, k): replay the shuffles, skip the batches done.
    for (std::int64_t e = 0; e < step / per_epoch; ++e) batches.reset();
    batches.skip(step % per_epoch);

    const std::int64_t eval_every = train.eval_iter > 0 ? train.eval_iter : per_epoch;
    ProgressLine progress(log, label, total, train.logging_iter);
    const auto loop_start = Clock::now();
    const std::int64_t first_step = step;
    Batch batch;
    for (; step < total; ++step) {
      if (!batches.next(batch)) {
        batches.reset();
        ACT_CHECK(batches.next(batch), "training data yields no batch");
      }
      const std::int64_t epoch = step / per_epoch;
      const double rate = lr->at(step);
      state.set_position({step, epoch, total, rate});
      state.clear_gradients();
      for (LiveStrategy& s : live) check(s, "on_step_begin", s.strategy->on_step_begin(state));
      sdk::LossTerms terms;
      for (LiveStrategy& s : live)
        check(s, "add_loss_terms", s.strategy->add_loss_terms(state, terms));
      ACT_CHECK(terms.terms().size() == declared.terms().size(), label, " step ", step,
                ": the strategies declared ", declared.terms().size(),
                " loss terms at the first step and ", terms.terms().size(),
                " now; the set of terms must stay fixed (weights may change)");
      std::vector<double> weights;
      for (std::size_t i = 0; i < terms.terms().size(); ++i) {
        ACT_CHECK(terms.terms()[i].value == declared.terms()[i].value, label, " step ", step,
                  ": loss term '", terms.terms()[i].name, "' changed its value from '",
                  declared.terms()[i].value, "' to '", terms.terms()[i].value, "'");
        weights.push_back(terms.terms()[i].weight);
      }
      std::map<std::string, Tensor> feeds = {{setup.input, batch.images}};
      if (!options.logits.empty()) {
        feeds[GraphTrainer::kLabelsInput] = one_hot(batch, trainer.logits_shape().at(1));
      }
      const LossParts loss = trainer.forward_backward(feeds, weights);
      out.last_loss = loss.total;
      if (!std::isfinite(loss.total)) {
        progress.newline();
        std::fprintf(log,
                     "%s: the loss is %s at step %lld; stopping and keeping the best weights "
                     "(step %lld)\n",
                     label.c_str(),
                     std::isnan(loss.total) ? "NaN"
                     : loss.total > 0       ? "+Inf"
                                            : "-Inf",
                     static_cast<long long>(step), static_cast<long long>(out.best_step));
        out.stop_reason = "non-finite loss";
        out.failed = true;
        break;
      }
      for (const auto& name : trainer.trainable()) {
        if (Tensor* g = trainer.gradient(name)) state.set_gradient(name, *g);
      }
      for (LiveStrategy& s : live) {
        check(s, "on_after_backward", s.strategy->on_after_backward(state));
      }
      trainer.apply(rate);
      state.clear_gradients();
      for (LiveStrategy& s : live) check(s, "on_step_end", s.strategy->on_step_end(state));

      const double elapsed = seconds_since(loop_start);
      const double sps =
          elapsed > 0 ? static_cast<double>((step + 1 - first_step) * batch_size) / elapsed : 0.0;
      progress.set_eta(sps > 0 ? static_cast<double>((total - step - 1) * batch_size) / sps : 0.0);
      progress.update(step, epoch, out.epochs, loss.total, rate, sps, false);

      const bool last = step + 1 == total;
      if ((step + 1) % eval_every == 0 || last) {
        double metric = 0.0;
        if (by_loss) {
          // Mean loss over (at most 50) evaluation batches; higher metric = lower loss.
          const Dataset& eval = setup.eval_data ? *setup.eval_data : data;
          BatchOptions eo;
          eo.batch_size = batch_size;
          eo.drop_last = true;
          BatchIterator it(eval, eo);
          double sum = 0.0;
          std::int64_t n = 0;
          Batch b;
          while (n < 50 && it.next(b)) {
            sum += trainer.loss_only({{setup.input, b.images}}, weights).total;
            ++n;
          }
          metric = n > 0 ? -sum / static_cast<double>(n) : -loss.total;
        } else {
          metric = top1_of(with_graph(model, trainer.graph()), *setup.eval_data);
        }
        if (metric > best_metric) {
          best_metric = metric;
          best = snapshot(trainer);
          out.best_step = step + 1;
        }
        progress.newline();
        std::fprintf(log, "%s: step %lld eval %s %.4f (best %.4f at step %lld)\n", label.c_str(),
                     static_cast<long long>(step + 1), by_loss ? "loss" : "top1",
                     by_loss ? -metric : metric, by_loss ? -best_metric : best_metric,
                     static_cast<long long>(out.best_step));
        if (!by_loss && train.target_metric && metric >= *train.target_metric) {
          out.stop_reason = "target_metric";
        } else if (!by_loss && train.origin_metric && setup.original_metric >= 0 &&
                   metric >= setup.original_metric - 0.005) {
          out.stop_reason = "origin_metric";
        }
      }
      const bool stopping = !out.stop_reason.empty();
      if (setup.checkpoint_iter > 0 && ((step + 1) % setup.checkpoint_iter == 0) && !last &&
          !stopping) {
        Checkpoint ck;
        ck.tensors = trainer.state();
        for (const auto& [name, t] : best) ck.tensors["best/" + name] = t;
        ck.meta = {{"fingerprint", setup.fingerprint},
                   {"stage", std::to_string(setup.index)},
                   {"step", std::to_string(step + 1)},
                   {"best_metric", number_text(best_metric)},
                   {"best_step", std::to_string(out.best_step)}};
        save_checkpoint(setup.checkpoint_path, ck);
      }
      if (stopping) {
        std::fprintf(log, "%s: early stop at step %lld (%s reached)\n", label.c_str(),
                     static_cast<long long>(step + 1), out.stop_reason.c_str());
        ++step;
        break;
      }
    }
    progress.newline();
    out.steps = step;
    out.best_metric = best_metric;
    restore(trainer, best);
    model.graph = trainer.graph();
  }

  // ---- finalize in reverse order, then reports in plan order
  for (auto it = live.rbegin(); it != live.rend(); ++it) {
    RunEditor editor(model, data.get(), setup.input_model, config_folder, it->state.get());
    check(*it, "finalize", it->strategy->finalize(editor));
    validate_after(*it, "finalize", model);
  }
  // What no graph output reads goes: one strategy's finalize can orphan nodes another wrote
  // while the first one's subgraph still read them (a teacher reading a quantizer's input DQ).
  eliminate_dead_nodes(model.graph);
  for (LiveStrategy& s : live) {
    sdk::ReportEntries entries;
    check(s, "report", s.strategy->report(entries));
    out.reports.push_back({s.plan->section, s.plugin->name, entries.entries()});
  }
  out.model = std::move(model);
  out.seconds = seconds_since(t0);
  return out;
}

}  // namespace act::host
