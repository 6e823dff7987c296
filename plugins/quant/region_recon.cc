#include "region_recon.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "act/kernel/error.h"
#include "act/kernel/op_registry.h"
#include "fake_quant_ops.h"
#include "soft_rounding.h"

namespace act::quant {
namespace {

namespace sr = soft_rounding;

// |V| that puts h(V) exactly at 0 or 1 (the clip holds it there), so the soft graph computes a
// hard rounding: sigmoid(10) * 1.2 - 0.1 > 1.
constexpr float kHardV = 10.0F;

Node make(const std::string& name, const std::string& op, std::vector<std::string> inputs,
          std::vector<std::string> outputs, const std::string& domain = "") {
  Node n;
  n.name = name;
  n.op_type = op;
  n.domain = domain;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  return n;
}

// Elements after `axis` (the channel of element i is (i / inner) % channels, as qdq_writer).
std::int64_t inner_of(const Shape& s, int axis) {
  std::int64_t inner = 1;
  for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < s.size(); ++d) inner *= s[d];
  return inner;
}

float scale_at(const RegionLayer& l, std::int64_t i, std::int64_t inner) {
  const auto channels = static_cast<std::int64_t>(l.scales.size());
  return l.scales[static_cast<std::size_t>(channels > 1 ? (i / inner) % channels : 0)];
}

// The observer state [lo, hi, count] whose range_quant() (fake_quant_ops.h) is `q`.
Tensor state_of(const ActivationQuant& q) {
  const float lo = q.is_unsigned ? -static_cast<float>(q.zero_point) * q.scale : -127.0F * q.scale;
  const float hi =
      q.is_unsigned ? static_cast<float>(255 - q.zero_point) * q.scale : 127.0F * q.scale;
  return Tensor::from_vector<float>({3}, {lo, hi, 1.0F});
}

}  // namespace

RegionReconstructor::RegionReconstructor(const Graph& graph, std::int64_t opset,
                                         const Region& region, std::vector<RegionLayer> layers,
                                         int qmax, std::vector<RegionBatch> batches,
                                         const std::map<std::string, ActivationQuant>* activations,
                                         Profile profile)
    : batches_(std::move(batches)), qmax_(qmax) {
  ACT_CHECK(!batches_.empty(), "region-wise reconstruction: no calibration batch");
  const RegionBatch& first = batches_.front();
  for (const std::string& v : region.inputs) {
    ACT_CHECK(first.count(v) != 0, "region-wise reconstruction: no data for '", v, "'");
  }
  ACT_CHECK(first.count(region.end) != 0, "region-wise reconstruction: no data for '", region.end,
            "'");

  Graph g;
  for (const std::string& v : region.inputs) g.add_input(ValueInfo::from_tensor(v, first.at(v)));
  target_input_ = "act_region_target";
  g.add_input(ValueInfo::from_tensor(target_input_, first.at(region.end)));
  auto constant = [&](const std::string& name, Tensor t) {
    const std::string n = g.unique_name(name);
    g.set_initializer(n, std::move(t));
    return n;
  };

  // Weights: each optimized one computed from its V, the others fixed at nearest.
  std::set<std::string> weights;
  const std::string stretch =
      constant("act_stretch", Tensor::scalar<float>(sr::kZeta - sr::kGamma));
  const std::string gamma = constant("act_gamma", Tensor::scalar<float>(sr::kGamma));
  const std::string zero = constant("act_zero", Tensor::scalar<float>(0.0F));
  const std::string one = constant("act_one", Tensor::scalar<float>(1.0F));
  for (const RegionLayer& l : layers) {
    const Tensor* w = graph.initializer(l.weight);
    ACT_CHECK(w != nullptr && w->dtype() == DType::kF32, "region-wise reconstruction: '", l.weight,
              "' is not an f32 weight");
    weights.insert(l.weight);
    const std::int64_t inner = inner_of(w->shape(), l.axis);
    const float* wf = w->data<float>();
    if (!l.optimized) {
      Tensor nearest(DType::kF32, w->shape());
      for (std::int64_t i = 0; i < w->numel(); ++i) {
        const float s = scale_at(l, i, inner);
        const float q = s > 0.0F ? std::nearbyint(wf[i] / s) : 0.0F;
        nearest.data<float>()[i] =
            std::clamp(q, static_cast<float>(-qmax), static_cast<float>(qmax)) * s;
      }
      g.set_initializer(l.weight, nearest);
      continue;
    }
    Rounding r;
    r.weight = l.weight;
    const auto n = static_cast<std::size_t>(w->numel());
    r.base.resize(n);
    r.live.resize(n);
    r.frac.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const float s = scale_at(l, static_cast<std::int64_t>(i), inner);
      const double x = s > 0.0F ? wf[i] / static_cast<double>(s) : 0.0;
      const double fl = std::floor(x);
      // A weight at the bound (or an all-zero channel) has one code: fixed, nothing to learn.
      const bool live = s > 0.0F && fl >= -qmax && fl + 1.0 <= qmax;
      r.base[i] =
          static_cast<float>(std::clamp(fl, -static_cast<double>(qmax), static_cast<double>(qmax)));
      r.live[i] = live ? 1.0F : 0.0F;
      r.frac[i] = static_cast<float>(x - fl);
    }
    Shape scale_shape(w->shape().size(), 1);
    if (l.scales.size() > 1) scale_shape[static_cast<std::size_t>(l.axis)] = w->shape()[l.axis];
    Tensor scale(DType::kF32, scale_shape);
    std::copy(l.scales.begin(), l.scales.end(), scale.data<float>());
    Tensor v(DType::kF32, w->shape());
    for (std::size_t i = 0; i < n; ++i)
      v.data<float>()[i] = static_cast<float>(sr::v_for_fraction(r.frac[i]));
    r.v = constant(l.weight + "_act_v", v);
    const std::string base =
        constant(l.weight + "_act_base", Tensor::from_vector(w->shape(), r.base));
    const std::string live =
        constant(l.weight + "_act_live", Tensor::from_vector(w->shape(), r.live));
    const std::string sc = constant(l.weight + "_act_scale", scale);
    // W~ = scale * (base + live * clip(sigmoid(V) * (zeta - gamma) + gamma, 0, 1))
    const std::string p = l.weight + "_act_";
    g.add_node(make(p + "sig", "Sigmoid", {r.v}, {p + "sig"}));
    g.add_node(make(p + "str", "Mul", {p + "sig", stretch}, {p + "str"}));
    g.add_node(make(p + "sh", "Add", {p + "str", gamma}, {p + "sh"}));
    g.add_node(make(p + "h", "Clip", {p + "sh", zero, one}, {p + "h"}));
    g.add_node(make(p + "hl", "Mul", {p + "h", live}, {p + "hl"}));
    g.add_node(make(p + "q", "Add", {base, p + "hl"}, {p + "q"}));
    g.add_node(make(p + "w", "Mul", {p + "q", sc}, {l.weight}));
    roundings_.push_back(std::move(r));
  }
  ACT_CHECK(!roundings_.empty(), "region-wise reconstruction: the region from '", region.start,
            "' to '", region.end, "' has no weight to optimize");

  // The region's nodes, reading fake-quantized activations when simulated.
  std::map<std::string, std::string> simulated;  // value -> its fake-quantized copy
  if (activations != nullptr) {
    register_fake_quant_ops(OpRegistry::global());
    std::set<std::string> values(region.inputs.begin(), region.inputs.end());
    for (std::size_t i : region.nodes) {
      const Node& n = graph.nodes()[i];
      values.insert(n.outputs.begin(), n.outputs.end());
    }
    for (const std::string& v : values) {
      const auto q = activations->find(v);
      if (v == region.end || q == activations->end()) continue;
      const std::string state = constant(v + "_act_state", state_of(q->second));
      const std::string out = g.unique_name(v + "_act_fq");
      Node fq = make(out, "FakeQuantize", {v, state}, {out}, kQatDomain);
      fq.attrs.set("profile", std::int64_t{profile == Profile::kTensorRt ? 1 : 0});
      g.add_node(std::move(fq));
      simulated[v] = out;
    }
  }
  for (std::size_t i : region.nodes) {
    Node n = graph.nodes()[i];
    for (std::string& in : n.inputs) {
      if (in.empty()) continue;
      if (const Tensor* t = graph.initializer(in); t != nullptr && weights.count(in) == 0)
        g.set_initializer(in, *t);
      if (const auto s = simulated.find(in); s != simulated.end()) in = s->second;
    }
    g.add_node(std::move(n));
  }

  // loss = mean((end - target)^2)
  loss_ = g.unique_name("act_region_mse");
  g.add_node(make("act_region_diff", "Sub", {region.end, target_input_}, {"act_region_diff"}));
  g.add_node(
      make("act_region_sq", "Mul", {"act_region_diff", "act_region_diff"}, {"act_region_sq"}));
  Node mean = make(loss_, "ReduceMean", {"act_region_sq"}, {loss_});
  mean.attrs.set("keepdims", std::int64_t{0});
  g.add_node(std::move(mean));
  g.add_output(ValueInfo{region.end});
  g.topological_sort();

  GraphTrainerOptions o;
  o.data_inputs = region.inputs;
  o.data_inputs.push_back(target_input_);
  o.loss_terms = {loss_};
  for (const Rounding& r : roundings_) o.trainable.push_back(r.v);
  o.batch_size = first.at(region.start).shape().at(0);
  o.optimizer.kind = OptimizerConfig::Kind::kAdam;
  trainer_ = std::make_unique<GraphTrainer>(g, opset, o);
  end_ = region.end;
}

RegionReconstructor::~RegionReconstructor() = default;

void RegionReconstructor::set_hard(const Rounding& r, const std::vector<bool>& up) {
  float* v = trainer_->parameter(r.v)->data<float>();
  for (std::size_t i = 0; i < up.size(); ++i) v[i] = up[i] ? kHardV : -kHardV;
}

std::vector<bool> RegionReconstructor::nearest_ups(const Rounding& r) const {
  std::vector<bool> up(r.base.size());
  for (std::size_t i = 0; i < up.size(); ++i) up[i] = r.live[i] > 0.0F && r.frac[i] >= 0.5F;
  return up;
}

std::vector<bool> RegionReconstructor::ups_of(const Rounding& r, const Tensor& codes) const {
  ACT_CHECK(
      codes.dtype() == DType::kI8 && codes.numel() == static_cast<std::int64_t>(r.base.size()),
      "region-wise reconstruction: the codes of '", r.weight, "' do not fit it");
  std::vector<bool> up(r.base.size());
  for (std::size_t i = 0; i < up.size(); ++i) {
    const float c = codes.data<std::int8_t>()[i];
    up[i] = r.live[i] > 0.0F && c == r.base[i] + 1.0F;
    ACT_CHECK(up[i] || c == r.base[i], "region-wise reconstruction: code ", c, " of '", r.weight,
              "' at ", i, " is neither the floor nor the ceiling of its weight");
  }
  return up;
}

Tensor RegionReconstructor::codes_of(const Rounding& r, const std::vector<bool>& up) const {
  Tensor codes(DType::kI8, trainer_->parameter(r.v)->shape());
  for (std::size_t i = 0; i < up.size(); ++i) {
    codes.data<std::int8_t>()[i] = static_cast<std::int8_t>(std::clamp(
        r.base[i] + (up[i] ? 1.0F : 0.0F), static_cast<float>(-qmax_), static_cast<float>(qmax_)));
  }
  return codes;
}

double RegionReconstructor::evaluate() {
  double sum = 0.0;
  for (const RegionBatch& b : batches_) {
    std::map<std::string, Tensor> feeds = b;
    feeds.erase(end_);
    feeds[target_input_] = b.at(end_);
    sum += trainer_->loss_only(feeds, {1.0}).terms.at(0);
  }
  return sum / static_cast<double>(batches_.size());
}

double RegionReconstructor::error(const std::map<std::string, Tensor>& codes) {
  std::vector<Tensor> saved;
  for (const Rounding& r : roundings_) {
    saved.push_back(trainer_->parameter(r.v)->clone());
    const auto c = codes.find(r.weight);
    set_hard(r, c != codes.end() ? ups_of(r, c->second) : nearest_ups(r));
  }
  const double e = evaluate();
  for (std::size_t k = 0; k < roundings_.size(); ++k) {
    Tensor* v = trainer_->parameter(roundings_[k].v);
    std::copy(saved[k].data<float>(), saved[k].data<float>() + v->numel(), v->data<float>());
  }
  return e;
}

RegionReconResult RegionReconstructor::reconstruct(const RegionReconOptions& o) {
  RegionReconResult result;
  std::vector<std::vector<bool>> nearest;
  std::size_t live = 0;
  for (const Rounding& r : roundings_) {
    nearest.push_back(nearest_ups(r));
    live += static_cast<std::size_t>(std::count(r.live.begin(), r.live.end(), 1.0F));
  }
  result.nearest_error = result.error = error({});
  auto keep = [&](const std::vector<std::vector<bool>>& ups) {
    for (std::size_t k = 0; k < roundings_.size(); ++k)
      result.codes[roundings_[k].weight] = codes_of(roundings_[k], ups[k]);
  };
  keep(nearest);
  if (!(result.nearest_error > 0.0) || !std::isfinite(result.nearest_error) || live == 0) {
    return result;  // nothing to improve on (or nothing free to round)
  }

  // Scale-free objective (adaround.h): the output error relative to nearest's, the
  // regularizer's lambda shared out over the region's free rounding variables.
  const double weight = 1.0 / result.nearest_error;
  const double lambda = o.lambda / static_cast<double>(live);
  for (int step = 0; step < o.steps; ++step) {
    const RegionBatch& b = batches_[static_cast<std::size_t>(step) % batches_.size()];
    std::map<std::string, Tensor> feeds = b;
    feeds.erase(end_);
    feeds[target_input_] = b.at(end_);
    trainer_->forward_backward(feeds, {weight});
    if (const double beta = sr::beta_at(step, o.steps); beta > 0.0) {
      for (const Rounding& r : roundings_) {
        Tensor* grad = trainer_->gradient(r.v);
        if (grad == nullptr) continue;
        const float* v = trainer_->parameter(r.v)->data<float>();
        float* gv = grad->data<float>();
        for (std::size_t i = 0; i < r.live.size(); ++i) {
          if (r.live[i] == 0.0F) continue;
          gv[i] += static_cast<float>(sr::regularizer_dh(sr::h_of(v[i]), beta, lambda) *
                                      sr::dh_dv(v[i]));
        }
      }
    }
    trainer_->apply(o.lr);
  }

  std::map<std::string, Tensor> learned_codes;
  for (const Rounding& r : roundings_) {
    const float* v = trainer_->parameter(r.v)->data<float>();
    std::vector<bool> up(r.live.size());
    for (std::size_t i = 0; i < up.size(); ++i) up[i] = r.live[i] > 0.0F && sr::rounds_up(v[i]);
    learned_codes[r.weight] = codes_of(r, up);
  }
  const double e = error(learned_codes);
  if (e < result.nearest_error) {
    result.error = e;
    result.codes = std::move(learned_codes);
  }
  return result;
}

}  // namespace act::quant
