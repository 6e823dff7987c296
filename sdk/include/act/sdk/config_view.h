// ConfigViewV1: a read-only view of the one config section a strategy handles.
//
// The host builds it from the YAML file (one section, e.g. `QuantAware:`); the plugin reads
// keys and their values as text. A scalar is its text as written (quotes removed); a null
// (`key:`) is the empty text; a sequence or map arrives in YAML flow style, re-emitted by the
// host so the spelling is canonical whatever the file used (a block list `- conv2d` becomes
// "[conv2d, depthwise_conv2d]", a map "{a: 1, b: [2, 3]}"). Plugins normally read it through
// act::sdk::ConfigReader (config_reader.h), which parses numbers, flags and flat lists and
// reports unknown keys.
//
// Ownership: the host owns the view and every string it returns; both stay valid for the
// duration of the configure() call that received the view. Copy what you keep.
// Threading: const and safe to read from any thread during that call.
// Versioning: append-only; a new method means ConfigViewV2.
#pragma once

#include <cstddef>

#include "act/sdk/export.h"

namespace act::sdk {

class ACT_SDK_API ConfigViewV1 {
 public:
  // The section name, e.g. "QuantAware".
  virtual const char* section() const noexcept = 0;
  // Keys in file order.
  virtual std::size_t key_count() const noexcept = 0;
  // The index-th key, or nullptr when index >= key_count().
  virtual const char* key(std::size_t index) const noexcept = 0;
  // The scalar value of `key` as written in the file, or nullptr when the key is absent.
  virtual const char* value(const char* key) const noexcept = 0;

 protected:
  virtual ~ConfigViewV1();
};

}  // namespace act::sdk
