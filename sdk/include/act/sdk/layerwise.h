// LayerwiseV1: a strategy whose change to a model splits into layers that can be left out one
// by one. The host's per-layer analysis (`act analyze quant`) uses it to build a model with
// only one layer changed, or with every layer but a chosen few, and to tell the user which
// config line leaves those layers alone in a later `act compress` run.
//
// A strategy offers it next to StrategyV1: the object the plugin's create() returned is also
// a LayerwiseV1, found with act::sdk::layerwise(strategy) (a dynamic_cast). A plugin built
// against an SDK without it answers nullptr, and the host says the plugin cannot be analyzed.
// Plugin authors do not implement this class directly: they also derive their Strategy class
// from act::sdk::Layerwise (plugin.h), and ACT_PLUGIN adapts it.
//
// Calls come after configure() succeeded, in any order and any number of times; neither
// changes the strategy's configuration. A layer is known by its key, a name the strategy
// chooses that stays the same in every copy of the model (the quant plugin uses the weight
// tensor's name, the name its skip_tensor_list takes).
//
// Ownership: the host owns the editor, the model, the sink and the key arrays, valid during
// the call; strings handed to the sink are copied there. Text returned through an out
// parameter is owned by the strategy until its next call, like a Status message.
// Threading: as StrategyV1: one call at a time.
// Versioning: append-only; a new method means LayerwiseV2.
#pragma once

#include <cstddef>

#include "act/sdk/export.h"
#include "act/sdk/graph_editor.h"
#include "act/sdk/status.h"
#include "act/sdk/strategy.h"

namespace act::sdk {

// Implemented by the host: receives the layers a strategy lists.
class ACT_SDK_API LayerSinkV1 {
 public:
  // `key`: the layer's stable name (see above); `node`: the node's name in the graph (may be
  // empty in ONNX); `op_type`: the node's op ("Conv"). A failure stops the listing.
  virtual Status layer(const char* key, const char* node, const char* op_type) noexcept = 0;

 protected:
  virtual ~LayerSinkV1();
};

class ACT_SDK_API LayerwiseV1 {
 public:
  // Lists, in graph order, the layers the strategy would change in editor.model() (which it
  // does not modify). An empty list is not a failure.
  virtual Status list_layers(GraphEditorV1& editor, LayerSinkV1& sink) noexcept = 0;
  // Applies the strategy to editor.model() in place as finalize() would, except that the
  // `count` layers named in `kept` (keys from list_layers) stay as they are. May use the
  // editor's data (model_data.h) as finalize() does.
  virtual Status apply_except(GraphEditorV1& editor, const char* const* kept,
                              std::size_t count) noexcept = 0;
  // One line of the strategy's config section (YAML, no indentation) that, added to the
  // section as configured, leaves the `count` layers in `kept` unchanged, e.g.
  // "skip_tensor_list: ['onnx::Conv_39']". Written to *line.
  virtual Status keep_config(const char* const* kept, std::size_t count,
                             const char** line) noexcept = 0;

 protected:
  virtual ~LayerwiseV1();
};

// The strategy's LayerwiseV1 when it has one, else nullptr.
inline LayerwiseV1* layerwise(StrategyV1& strategy) noexcept {
  return dynamic_cast<LayerwiseV1*>(&strategy);
}

}  // namespace act::sdk
