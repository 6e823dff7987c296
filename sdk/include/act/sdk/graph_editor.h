// GraphEditorV1: the model a strategy rewrites in rewrite_graph() and finalize().
//
// The strategy edits the graph in place with act::Graph's mutation API (graph.h). The host
// validates the graph after every hook, so a bad rewrite fails right after its own step with
// the plugin named; validate() lets a strategy check earlier and report the problem itself.
//
// Ownership: the host owns the editor and the model; references are valid during the hook.
// A strategy may keep value and node names, never references into the graph.
// Threading: only the calling thread may touch the model during the hook.
// Versioning: append-only; a new method means GraphEditorV2.
#pragma once

#include "act/kernel/graph.h"
#include "act/sdk/export.h"
#include "act/sdk/status.h"

namespace act::sdk {

class ACT_SDK_API GraphEditorV1 {
 public:
  // The model being compressed (graph, opset imports, metadata).
  virtual Model& model() noexcept = 0;
  // Checks structure, op arity and types against the op registry. A failure's message is
  // owned by the editor (status.h).
  virtual Status validate() noexcept = 0;

  Graph& graph() noexcept { return model().graph; }

 protected:
  virtual ~GraphEditorV1();
};

}  // namespace act::sdk
