// LossSinkV1: where add_loss_terms() puts its terms (distillation losses, regularizers).
//
// A term names a value of the (rewritten) graph that holds a scalar and a weight; the trainer
// adds weight * value to the loss it differentiates. Terms only accumulate for the current
// step: a strategy cannot see or remove other strategies' terms.
//
// Ownership: the host owns the sink and copies the strings during add().
// Threading: call it only from within add_loss_terms(), on the calling thread.
// Versioning: append-only; a new method means LossSinkV2.
#pragma once

#include "act/sdk/export.h"
#include "act/sdk/status.h"

namespace act::sdk {

class ACT_SDK_API LossSinkV1 {
 public:
  // `name` labels the term in logs and reports (e.g. "distill/l2/conv3"); `value` is the
  // graph value holding the scalar; `weight` must be finite. A refused term returns a failure
  // owned by the sink (status.h).
  virtual Status add(const char* name, const char* value, double weight) noexcept = 0;

 protected:
  virtual ~LossSinkV1();
};

}  // namespace act::sdk
