// Out-of-line destructors: they make libact_sdk.so the one home of each interface's vtable
// and type info, so plugins and the host never each carry a copy.
#include "act/sdk/config_view.h"
#include "act/sdk/graph_editor.h"
#include "act/sdk/layerwise.h"
#include "act/sdk/loss_sink.h"
#include "act/sdk/loss_sink_v2.h"
#include "act/sdk/model_data.h"
#include "act/sdk/model_source.h"
#include "act/sdk/report_writer.h"
#include "act/sdk/state_store.h"
#include "act/sdk/step_context.h"
#include "act/sdk/strategy.h"

namespace act::sdk {

ConfigViewV1::~ConfigViewV1() = default;
GraphEditorV1::~GraphEditorV1() = default;
StepContextV1::~StepContextV1() = default;
LossSinkV1::~LossSinkV1() = default;
ReportWriterV1::~ReportWriterV1() = default;
StrategyV1::~StrategyV1() = default;
ActivationSinkV1::~ActivationSinkV1() = default;
ModelDataV1::~ModelDataV1() = default;
GraphEditorV2::~GraphEditorV2() = default;
StateStoreV1::~StateStoreV1() = default;
GraphEditorV3::~GraphEditorV3() = default;
LayerSinkV1::~LayerSinkV1() = default;
LayerwiseV1::~LayerwiseV1() = default;
ModelSourceV1::~ModelSourceV1() = default;
LossSinkV2::~LossSinkV2() = default;

}  // namespace act::sdk
