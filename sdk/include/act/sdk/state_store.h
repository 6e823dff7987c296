// StateStoreV1 and GraphEditorV3: durable state for strategies whose work in one hook is long
// (a hyper-parameter search in finalize(), a calibration) and should survive a kill: with
// `act compress --resume` the strategy finds what it stored and continues instead of starting
// over.
//
// A strategy reaches the store from rewrite_graph() or finalize():
//   if (StateStoreV1* store = act::sdk::state_store(editor)) { ... }
// nullptr means the host keeps no state (an older host, or a run without an output folder).
//
// Semantics: each strategy of each stage has its own store (keys never collide between
// sections). A run without --resume starts with every store empty; a run that completes clears
// them. put() is atomic: after a kill, get() returns the previous or the new bytes, never a
// mix. Keys are file-name-like: letters, digits, '_', '-', '.', at most 64 characters.
//
// Ownership: the host owns the store; it is valid during the hook that received the editor.
// Bytes returned by get() are owned by the store until its next call.
// Threading: the hook's thread only.
// Versioning: append-only; new methods mean StateStoreV2 / GraphEditorV4.
#pragma once

#include <cstddef>

#include "act/sdk/export.h"
#include "act/sdk/model_data.h"
#include "act/sdk/status.h"

namespace act::sdk {

class ACT_SDK_API StateStoreV1 {
 public:
  // Durably replaces the bytes under `key` with `size` bytes at `data`.
  virtual Status put(const char* key, const void* data, std::size_t size) noexcept = 0;
  // Sets *data and *size to the bytes under `key`, or *data to nullptr when there are none.
  virtual Status get(const char* key, const void** data, std::size_t* size) noexcept = 0;

 protected:
  virtual ~StateStoreV1();
};

// A GraphEditorV2 that also offers the strategy's state store.
class ACT_SDK_API GraphEditorV3 : public GraphEditorV2 {
 public:
  virtual StateStoreV1* state() noexcept = 0;

 protected:
  ~GraphEditorV3() override;
};

// The editor's state store when the host offers one (GraphEditorV3), else nullptr.
inline StateStoreV1* state_store(GraphEditorV1& editor) noexcept {
  auto* v3 = dynamic_cast<GraphEditorV3*>(&editor);
  return v3 != nullptr ? v3->state() : nullptr;
}

}  // namespace act::sdk
