// ModelSourceV1: other models for a strategy's graph hooks (a distillation teacher, a
// reference for a search), since model files are the host's business (the SDK links no ONNX).
//
// A strategy reaches it from rewrite_graph() or finalize():
//   if (ModelSourceV1* models = act::sdk::model_source(editor)) { ... }
// The host's editor implements it next to GraphEditorV2; model_source() is a cross
// dynamic_cast, so a host that predates it answers nullptr (say which key needs it).
//
// Ownership: the host owns the source and input_model(); both are valid during the hook that
// received the editor. load_model() fills a Model the caller owns. A failure's message is
// owned by the source until its next call (status.h).
// Threading: calls arrive on the hook's thread.
// Versioning: append-only; new methods mean ModelSourceV2.
#pragma once

#include "act/kernel/graph.h"
#include "act/sdk/export.h"
#include "act/sdk/graph_editor.h"
#include "act/sdk/status.h"

namespace act::sdk {

class ACT_SDK_API ModelSourceV1 {
 public:
  // The model the run was given (`act compress --model` / Global.model) as loaded, before any
  // strategy or stage changed it; nullptr when the host has none (a plugin's unit test).
  virtual const Model* input_model() noexcept = 0;
  // Loads the model file at `path` into *out. A relative path is resolved against the config
  // file's folder, as the host resolves Global.model. Fails, naming the file, for a missing,
  // corrupt or unsupported file (a Paddle .pdmodel: convert it with paddle2onnx).
  virtual Status load_model(const char* path, Model* out) noexcept = 0;

 protected:
  virtual ~ModelSourceV1();
};

// The editor's model source when the host offers one, else nullptr.
inline ModelSourceV1* model_source(GraphEditorV1& editor) noexcept {
  return dynamic_cast<ModelSourceV1*>(&editor);
}

}  // namespace act::sdk
