// ReportWriterV1: what a strategy tells the run report (report() hook).
//
// Entries are key/value pairs in the order written; keys are short snake_case names
// ("quantized_nodes"), values either text or numbers (with the unit in the key when there is
// one: "sparsity_percent", "bytes_saved"). The run report files them under the strategy's
// section name.
//
// Ownership: the host owns the writer and copies the strings during the call.
// Threading: call it only from within report(), on the calling thread.
// Versioning: append-only; a new method means ReportWriterV2.
#pragma once

#include "act/sdk/export.h"

namespace act::sdk {

class ACT_SDK_API ReportWriterV1 {
 public:
  virtual void text(const char* key, const char* value) noexcept = 0;
  virtual void number(const char* key, double value) noexcept = 0;

 protected:
  virtual ~ReportWriterV1();
};

}  // namespace act::sdk
