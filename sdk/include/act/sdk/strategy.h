// StrategyV1: the interface between the host's scheduler and one compression method.
//
// A plugin creates one StrategyV1 per configured section (ActPluginEntry::create) and the
// host calls its hooks in this order:
//   1. configure(config)         validate the section; an unknown key is an error
//   2. rewrite_graph(editor)     before training: insert fake-quant nodes, masks, teachers
//   3. per optimizer step:       on_step_begin, add_loss_terms, (backward), on_after_backward,
//                                (optimizer update), on_step_end
//   4. finalize(editor)          produce the deployable graph; strategies finalize in the
//                                reverse order of rewrite_graph
//   5. report(writer)            what it did, for the run report
// A strategy that has nothing to do in a hook returns success.
//
// Rules of the boundary:
// - Every method is noexcept and reports failure through Status (status.h); the message is
//   owned by the strategy until its next call. No exception and no owned STL object crosses.
// - Arguments are owned by the host and valid only during the call.
// - The object is destroyed by the plugin that created it (ActPluginEntry::destroy), never by
//   `delete` in the host; hence the protected destructor.
// - Threading: the host calls one strategy's hooks from one thread at a time, never
//   concurrently; a hook may use act's thread pool internally.
// - Versioning: this class never changes once shipped. New hooks mean a StrategyV2 (and an
//   entry field to create it), which hosts adopt while still accepting V1 plugins.
//
// Plugin authors do not implement this class directly: they derive from act::sdk::Strategy
// and use ACT_PLUGIN (plugin.h), which adapts a throwing C++ class to these noexcept hooks.
#pragma once

#include "act/sdk/config_view.h"
#include "act/sdk/export.h"
#include "act/sdk/graph_editor.h"
#include "act/sdk/loss_sink.h"
#include "act/sdk/report_writer.h"
#include "act/sdk/status.h"
#include "act/sdk/step_context.h"

namespace act::sdk {

class ACT_SDK_API StrategyV1 {
 public:
  virtual Status configure(const ConfigViewV1& config) noexcept = 0;
  virtual Status rewrite_graph(GraphEditorV1& editor) noexcept = 0;
  virtual Status on_step_begin(StepContextV1& step) noexcept = 0;
  virtual Status add_loss_terms(StepContextV1& step, LossSinkV1& loss) noexcept = 0;
  virtual Status on_after_backward(StepContextV1& step) noexcept = 0;
  virtual Status on_step_end(StepContextV1& step) noexcept = 0;
  virtual Status finalize(GraphEditorV1& editor) noexcept = 0;
  virtual Status report(ReportWriterV1& report) noexcept = 0;

 protected:
  virtual ~StrategyV1();
};

}  // namespace act::sdk
