#include "act/kernel/graph_trainer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <set>

#include "act/kernel/autograd.h"
#include "act/kernel/losses.h"
#include "act/kernel/parallel.h"
#include "act/kernel/passes.h"

namespace act {
namespace {

// True when no element is NaN or infinite: an integer OR of compares, which vectorizes (a
// per-element check with an early exit did not), in parallel chunks of the pool.
bool all_finite(const float* data, std::int64_t n) {
  std::atomic<bool> ok{true};
  parallel_for(n, 32768, [&](std::int64_t i0, std::int64_t i1) {
    const float* __restrict d = data;
    int bad = 0;
    for (std::int64_t i = i0; i < i1; ++i) bad |= !(std::fabs(d[i]) <= 3.402823466e38F);
    if (bad != 0) ok.store(false, std::memory_order_relaxed);
  });
  return ok.load();
}

// Running statistics feed inference-mode BatchNormalization; they are state, not parameters,
// and a gradient step on them (with weight decay, say) would corrupt the model.
std::set<std::string> batch_norm_statistics(const Graph& graph) {
  std::set<std::string> out;
  for (const Node& n : graph.nodes()) {
    if (n.op_type != "BatchNormalization" || !n.domain.empty()) continue;
    for (std::size_t i = 3; i < n.inputs.size() && i < 5; ++i) out.insert(n.inputs[i]);
  }
  return out;
}

std::set<std::string> values_read(const Graph& graph) {
  std::set<std::string> out;
  for (const Node& n : graph.nodes()) out.insert(n.inputs.begin(), n.inputs.end());
  return out;
}

double scalar_of(const Tensor& t) {
  return static_cast<double>(t.data<float>()[0]);
}

constexpr float kBatchNormMomentum = 0.9F;  // ONNX's form of PyTorch's default 0.1

}  // namespace

GraphTrainer::GraphTrainer(const Graph& graph, std::int64_t opset, GraphTrainerOptions options)
    : options_(std::move(options)), opset_(opset), model_(graph), optimizer_(options_.optimizer) {
  ACT_CHECK(options_.batch_size >= 1, "training: batch size must be >= 1, got ",
            options_.batch_size);
  if (options_.data_inputs.empty()) {
    ACT_CHECK(!model_.inputs().empty(), "training: the model has no input");
    options_.data_inputs.push_back(model_.inputs()[0].name);
  }
  declared_inputs_ = model_.inputs();
  for (const std::string& name : options_.data_inputs) {
    bool found = false;
    for (auto& in : model_.mutable_inputs()) {
      if (in.name != name) continue;
      found = true;
      ACT_CHECK(in.has_shape && !in.shape.empty(), "training: input '", name, "' has no shape");
      in.shape[0] = Dim{options_.batch_size, ""};
    }
    ACT_CHECK(found, "training: the model has no input named '", name, "'");
  }

  const std::set<std::string> statistics = batch_norm_statistics(model_);
  trainable_ = options_.trainable;
  if (trainable_.empty()) {
    const std::set<std::string> read = values_read(model_);
    for (const auto& [name, t] : model_.initializers()) {
      if (t.dtype() == DType::kF32 && t.rank() >= 1 && !model_.is_frozen(name) &&
          statistics.count(name) == 0 && model_.state_updates().count(name) == 0 &&
          read.count(name) != 0 && !model_.is_graph_input(name)) {
        trainable_.push_back(name);
      }
    }
  }
  // Own the weights (and the running statistics apply() writes): clone them so updates never
  // reach the caller's tensors.
  for (const auto& name : trainable_) {
    const Tensor* t = model_.initializer(name);
    ACT_CHECK(t != nullptr, "training: '", name, "' is not an initializer of the model");
    ACT_CHECK(t->dtype() == DType::kF32, "training: parameter '", name, "' is not f32");
    model_.set_initializer(name, t->clone());
  }
  if (options_.batch_statistics) {
    for (const std::string& name : statistics) {
      if (const Tensor* t = model_.initializer(name)) model_.set_initializer(name, t->clone());
    }
  }
  for (const auto& [name, value] : model_.state_updates()) {
    const Tensor* t = model_.initializer(name);
    ACT_CHECK(t != nullptr && t->dtype() == DType::kF32, "training: state '", name,
              "' (updated from '", value, "') is not an f32 initializer of the model");
    model_.set_initializer(name, t->clone());
  }

  // The loss graph declares only loss outputs; shape inference then records every value.
  loss_graph_ = model_;
  loss_graph_.clear_value_infos();
  loss_graph_.mutable_outputs().clear();
  infer_shapes(loss_graph_, opset_);
  std::vector<std::string> parts;
  if (!options_.logits.empty()) {
    const ValueInfo* out = loss_graph_.value_info(options_.logits);
    ACT_CHECK(out != nullptr && out->fully_known() && out->shape.size() == 2, "training: '",
              options_.logits, "' must have a known [batch, classes] shape, got ",
              out ? out->shape_string() : std::string("nothing"));
    logits_shape_ = out->concrete_shape();
    loss_graph_.add_input(ValueInfo::from_tensor(kLabelsInput, Tensor(DType::kF32, logits_shape_)));
    task_ = add_cross_entropy(loss_graph_, options_.logits, kLabelsInput);
    parts.push_back(task_);
  }
  for (std::size_t i = 0; i < options_.loss_terms.size(); ++i) {
    const std::string& term = options_.loss_terms[i];
    const ValueInfo* info = loss_graph_.value_info(term);
    ACT_CHECK(info != nullptr && info->fully_known(), "training: loss term '", term,
              "' is not a value of the graph with a known shape");
    ACT_CHECK(shape_numel(info->concrete_shape()) == 1, "training: loss term '", term,
              "' must be a scalar, its shape is ", info->shape_string());
    const std::string weight = loss_graph_.unique_name("act_loss_weight");
    loss_graph_.add_input(ValueInfo::from_tensor(weight, Tensor::scalar(0.0F)));
    weight_inputs_.push_back(weight);
    Node mul;
    mul.name = loss_graph_.unique_name("act_loss_weighted");
    mul.op_type = "Mul";
    // ReduceSum keeps a [1]-shaped term's gradient shape-exact while making it a scalar.
    Node flat;
    flat.name = loss_graph_.unique_name("act_loss_scalar");
    flat.op_type = "ReduceSum";
    flat.attrs.set("keepdims", std::int64_t{0});
    flat.inputs = {term};
    flat.outputs = {loss_graph_.unique_name(term + "_scalar")};
    loss_graph_.add_node(flat);
    mul.inputs = {flat.outputs[0], weight};
    mul.outputs = {loss_graph_.unique_name("act_loss_term")};
    loss_graph_.add_node(mul);
    parts.push_back(mul.outputs[0]);
  }
  ACT_CHECK(!parts.empty(), "training: there is nothing to minimize (no labels and no loss term)");
  total_ = parts[0];
  for (std::size_t i = 1; i < parts.size(); ++i) {
    Node add;
    add.name = loss_graph_.unique_name("act_loss_sum");
    add.op_type = "Add";
    add.inputs = {total_, parts[i]};
    add.outputs = {loss_graph_.unique_name("act_loss_total")};
    loss_graph_.add_node(add);
    total_ = add.outputs[0];
  }
  infer_shapes(loss_graph_, opset_);
  loss_graph_.add_output(ValueInfo{total_});
  if (!task_.empty()) loss_graph_.add_output(ValueInfo{task_});
  for (const std::string& term : options_.loss_terms) loss_graph_.add_output(ValueInfo{term});

  train_graph_ = loss_graph_;
  if (options_.batch_statistics) {
    running_stats_ = use_batch_statistics(train_graph_, kBatchNormMomentum);
    infer_shapes(train_graph_, opset_);
  }
  // Strategies' state updates ride on the running-statistics machinery: fetched after the
  // gradients, written back in apply(), checkpointed as "stat/<initializer>".
  for (const auto& [name, value] : model_.state_updates()) running_stats_.push_back({name, value});
  const std::size_t before = train_graph_.nodes().size();
  const BackwardResult back =
      build_backward(train_graph_, total_, trainable_, opset_, OpRegistry::global());
  backward_nodes_ = train_graph_.nodes().size() - before;
  for (const auto& p : trainable_) {
    grad_names_.push_back(back.grads.at(p));
    train_graph_.add_output(ValueInfo{grad_names_.back()});
  }
  for (const auto& u : running_stats_) train_graph_.add_output(ValueInfo{u.updated});
  ACT_CHECK(!trainable_.empty(), "training: the model has no trainable parameter");
  loss_executor_ = std::make_unique<Executor>(loss_graph_, opset_);
  ExecutorOptions exec_options;
  exec_options.profile = options_.profile;
  train_executor_ = std::make_unique<Executor>(train_graph_, opset_, exec_options);
}

GraphTrainer::~GraphTrainer() = default;

std::map<std::string, Tensor> GraphTrainer::with_weights(const std::map<std::string, Tensor>& feeds,
                                                         const std::vector<double>& weights) const {
  ACT_CHECK(weights.size() == weight_inputs_.size(), "training: ", weight_inputs_.size(),
            " loss-term weights expected, got ", weights.size());
  std::map<std::string, Tensor> all = feeds;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    ACT_CHECK(std::isfinite(weights[i]), "training: loss term '", options_.loss_terms[i],
              "' has weight ", weights[i]);
    all[weight_inputs_[i]] = Tensor::scalar(static_cast<float>(weights[i]));
  }
  return all;
}

LossParts GraphTrainer::read_loss(const RunResult& result) const {
  LossParts parts;
  std::size_t k = 0;
  parts.total = scalar_of(result.outputs[k++]);
  if (!task_.empty()) parts.task = scalar_of(result.outputs[k++]);
  for (std::size_t i = 0; i < options_.loss_terms.size(); ++i) {
    parts.terms.push_back(scalar_of(result.outputs[k++]));
  }
  return parts;
}

LossParts GraphTrainer::forward_backward(const std::map<std::string, Tensor>& feeds,
                                         const std::vector<double>& weights) {
  RunResult r = train_executor_->run(with_weights(feeds, weights));
  LossParts parts = read_loss(r);
  const std::size_t first_grad = r.outputs.size() - grad_names_.size() - running_stats_.size();
  gradients_.clear();
  for (std::size_t i = 0; i < trainable_.size(); ++i) {
    gradients_[trainable_[i]] = r.outputs[first_grad + i];
  }
  fresh_stats_.assign(
      r.outputs.begin() + static_cast<std::ptrdiff_t>(first_grad + trainable_.size()),
      r.outputs.end());
  return parts;
}

LossParts GraphTrainer::loss_only(const std::map<std::string, Tensor>& feeds,
                                  const std::vector<double>& weights) {
  return read_loss(loss_executor_->run(with_weights(feeds, weights)));
}

Tensor* GraphTrainer::gradient(const std::string& name) {
  auto it = gradients_.find(name);
  return it == gradients_.end() ? nullptr : &it->second;
}

Tensor* GraphTrainer::parameter(const std::string& name) {
  if (std::find(trainable_.begin(), trainable_.end(), name) == trainable_.end()) return nullptr;
  // The trainer's graphs share these tensors' storage (Graph copies share tensors).
  return const_cast<Tensor*>(model_.initializer(name));
}

void GraphTrainer::apply(double lr) {
  ACT_CHECK(gradients_.size() == trainable_.size(),
            "training: apply() without a preceding forward_backward()");
  std::vector<ParamGrad> pg;
  for (const auto& name : trainable_) {
    const Tensor& g = gradients_.at(name);
    ACT_CHECK(all_finite(g.data<float>(), g.numel()), "training: the gradient of '", name,
              "' is not finite; stopping before the update");
    pg.push_back({name, *model_.initializer(name), g});
  }
  if (options_.clip_norm > 0.0) clip_by_global_norm(pg, options_.clip_norm);
  optimizer_.step(pg, lr);
  gradients_.clear();
  // New running statistics, in place: every graph of this trainer shares these tensors.
  for (std::size_t i = 0; i < fresh_stats_.size(); ++i) {
    Tensor stat = *model_.initializer(running_stats_[i].initializer);
    const Tensor& fresh = fresh_stats_[i];
    ACT_CHECK(fresh.numel() == stat.numel() && stat.dtype() == DType::kF32,
              "training: ", running_stats_[i].updated, " ", fresh.describe(), " does not fit ",
              running_stats_[i].initializer, " ", stat.describe());
    std::copy_n(fresh.data<float>(), fresh.numel(), stat.data<float>());
  }
  fresh_stats_.clear();
}

Graph GraphTrainer::graph() const {
  Graph g = model_;
  g.mutable_inputs() = declared_inputs_;
  g.clear_value_infos();
  return g;
}

std::map<std::string, Tensor> GraphTrainer::state() const {
  std::map<std::string, Tensor> out;
  for (const auto& name : trainable_) out["param/" + name] = model_.initializer(name)->clone();
  for (const auto& [key, t] : optimizer_.state()) out["opt/" + key] = t.clone();
  for (const auto& u : running_stats_) {
    out["stat/" + u.initializer] = model_.initializer(u.initializer)->clone();
  }
  return out;
}

void GraphTrainer::load_state(const std::map<std::string, Tensor>& state, std::int64_t steps) {
  std::map<std::string, Tensor> optimizer_state;
  for (const auto& [key, t] : state) {
    if (key.rfind("opt/", 0) == 0) optimizer_state[key.substr(4)] = t.clone();
  }
  for (const auto& name : trainable_) {
    auto it = state.find("param/" + name);
    ACT_CHECK(it != state.end(), "checkpoint: no value for parameter '", name, "'");
    Tensor* p = parameter(name);
    ACT_CHECK(it->second.dtype() == DType::kF32 && it->second.shape() == p->shape(),
              "checkpoint: parameter '", name, "' has shape ", shape_to_string(it->second.shape()),
              ", the model has ", shape_to_string(p->shape()));
    std::copy_n(it->second.data<float>(), p->numel(), p->data<float>());
  }
  for (const auto& u : running_stats_) {
    auto it = state.find("stat/" + u.initializer);
    ACT_CHECK(it != state.end(), "checkpoint: no value for running statistic '", u.initializer,
              "'");
    Tensor stat = *model_.initializer(u.initializer);
    ACT_CHECK(it->second.shape() == stat.shape(), "checkpoint: running statistic '", u.initializer,
              "' does not fit the model");
    std::copy_n(it->second.data<float>(), stat.numel(), stat.data<float>());
  }
  optimizer_.load_state(optimizer_state, steps);
}

}  // namespace act
