// LossSinkV2: a LossSinkV1 through which a strategy can also take the task loss out of
// training.
//
// PaddleSlim ACT trains a distilled model on the distillation loss alone, so unlabelled data
// is enough and labels, even when the data has them, are never read. replace_task_loss()
// asks for exactly that: the trainer then minimizes the declared terms only.
// Like the set of terms, this is fixed by what strategies do during the first step's
// add_loss_terms(); asking later changes nothing.
//
// A strategy reaches it with act::sdk::loss_sink_v2(sink) (a dynamic_cast); a host that
// predates V2 answers nullptr, and labels, when present, still train the task loss there.
// Ownership and threading: as LossSinkV1.
// Versioning: append-only; a new method means LossSinkV3.
#pragma once

#include "act/sdk/export.h"
#include "act/sdk/loss_sink.h"
#include "act/sdk/status.h"

namespace act::sdk {

class ACT_SDK_API LossSinkV2 : public LossSinkV1 {
 public:
  // Trains without the task loss (cross-entropy against labels) for the rest of the stage.
  virtual Status replace_task_loss() noexcept = 0;

 protected:
  ~LossSinkV2() override;
};

// The sink's V2 interface when the host offers it, else nullptr.
inline LossSinkV2* loss_sink_v2(LossSinkV1& sink) noexcept {
  return dynamic_cast<LossSinkV2*>(&sink);
}

}  // namespace act::sdk
