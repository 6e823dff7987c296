// StepContextV1: where the training loop is, for the per-step hooks.
//
// Steps and epochs count from 0; total_steps is the planned number of optimizer steps (-1
// when the scheduler does not know it yet, e.g. early stopping without a cap). The learning
// rate is the one this step uses, after the schedule (unitless, as the optimizer applies it).
//
// parameter() and gradient() hand out tensors by name (the graph's initializer names). The
// tensors share storage with the trainer's own, so writing their elements (re-applying a
// mask, zeroing pruned gradients) changes what the optimizer sees. Never replace their shape
// or dtype.
//
// Ownership: the host owns the context and the tensors; pointers are valid during the hook.
// Threading: hooks run on the scheduler's thread, one strategy at a time.
// Versioning: append-only; a new method means StepContextV2.
#pragma once

#include <cstdint>

#include "act/kernel/tensor.h"
#include "act/sdk/export.h"

namespace act::sdk {

class ACT_SDK_API StepContextV1 {
 public:
  virtual std::int64_t step() const noexcept = 0;
  virtual std::int64_t epoch() const noexcept = 0;
  virtual std::int64_t total_steps() const noexcept = 0;
  virtual double learning_rate() const noexcept = 0;
  // The trainable parameter `name`, or nullptr when there is none by that name.
  virtual Tensor* parameter(const char* name) noexcept = 0;
  // The gradient of parameter `name` for this step; nullptr outside on_after_backward() or
  // when the parameter received no gradient.
  virtual Tensor* gradient(const char* name) noexcept = 0;

 protected:
  virtual ~StepContextV1();
};

}  // namespace act::sdk
