// What a plugin's source includes: the Strategy base class and ACT_PLUGIN.
//
//   class Pruner final : public act::sdk::Strategy {
//    public:
//     void configure(const act::sdk::ConfigViewV1& config) override;  // required
//     void on_step_end(act::sdk::StepContextV1& step) override;        // any other hooks
//   };
//   ACT_PLUGIN(Pruner, "prune", "1.0.0", "ChannelPrune", "UnstructurePrune")
//
// A strategy whose change splits into layers (layerwise.h: per-layer analysis) also derives
// from act::sdk::Layerwise; ACT_PLUGIN then makes its object a LayerwiseV1 as well.
//
// ACT_PLUGIN defines the plugin's only exported symbol (the Boost.DLL alias
// act_plugin_entry) and wraps the class so that nothing it throws reaches the host: an
// exception from a constructor becomes a failed create() with its message, one from a hook
// becomes a failed Status. Use it exactly once per plugin library (a second use is a link
// error). Build the library with act_add_plugin() (CMake), which hides every other symbol.
//
// Ownership: the host creates one object per configured section through the entry point and
// the plugin destroys it; strategy constructors should be cheap (the host also creates and
// destroys one object when it loads the plugin, to check that create() works).
// Threading: see strategy.h; a Strategy needs no locking of its own.
#pragma once

#include <boost/dll/alias.hpp>
#include <cstddef>
#include <cstring>
#include <exception>
#include <string>
#include <type_traits>
#include <vector>

#include "act/kernel/error.h"
#include "act/sdk/config_reader.h"
#include "act/sdk/layerwise.h"
#include "act/sdk/loss_sink_v2.h"
#include "act/sdk/model_data.h"
#include "act/sdk/model_source.h"
#include "act/sdk/plugin_entry.h"
#include "act/sdk/state_store.h"
#include "act/sdk/strategy.h"
#include "act/sdk/toolchain.h"

namespace act::sdk {

// The class a plugin author derives from. Hooks report failure by throwing (act::Error or
// any std::exception; the message is what the user sees, so name the key, value or node).
// configure() is required because every strategy must reject keys it does not know.
class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual void configure(const ConfigViewV1& config) = 0;
  virtual void rewrite_graph(GraphEditorV1& /*editor*/) {}
  virtual void on_step_begin(StepContextV1& /*step*/) {}
  virtual void add_loss_terms(StepContextV1& /*step*/, LossSinkV1& /*loss*/) {}
  virtual void on_after_backward(StepContextV1& /*step*/) {}
  virtual void on_step_end(StepContextV1& /*step*/) {}
  virtual void finalize(GraphEditorV1& /*editor*/) {}
  virtual void report(ReportWriterV1& /*report*/) {}
};

// Optional second base of a Strategy class, for LayerwiseV1 (layerwise.h, which defines what
// each call must do). Calls throw like hooks; keys are the strategy's own layer names.
struct LayerInfo {
  std::string key;      // stable across copies of the model; what apply_except takes
  std::string node;     // the node's name (may be empty)
  std::string op_type;  // "Conv"
};

class Layerwise {
 public:
  virtual ~Layerwise() = default;
  virtual std::vector<LayerInfo> list_layers(GraphEditorV1& editor) = 0;
  virtual void apply_except(GraphEditorV1& editor, const std::vector<std::string>& kept) = 0;
  virtual std::string keep_config(const std::vector<std::string>& kept) = 0;
};

// Turns a failed Status from a host object (LossSinkV1::add, GraphEditorV1::validate) into
// an act::Error, for use inside hooks.
inline void throw_if_failed(Status status) {
  if (!status.ok()) throw Error(status.error);
}

namespace detail {

inline void copy_message(char* buffer, std::size_t size, const char* message) noexcept {
  if (buffer == nullptr || size == 0) return;
  std::size_t length = std::strlen(message);
  if (length >= size) length = size - 1;
  std::memcpy(buffer, message, length);
  buffer[length] = '\0';
}

// StrategyV1 over a Strategy subclass: every hook runs inside a catch-all.
template <class T>
class StrategyAdapter : public StrategyV1 {
 public:
  ~StrategyAdapter() override = default;

  Status configure(const ConfigViewV1& config) noexcept override {
    return guarded([&] { impl_.configure(config); });
  }
  Status rewrite_graph(GraphEditorV1& editor) noexcept override {
    return guarded([&] { impl_.rewrite_graph(editor); });
  }
  Status on_step_begin(StepContextV1& step) noexcept override {
    return guarded([&] { impl_.on_step_begin(step); });
  }
  Status add_loss_terms(StepContextV1& step, LossSinkV1& loss) noexcept override {
    return guarded([&] { impl_.add_loss_terms(step, loss); });
  }
  Status on_after_backward(StepContextV1& step) noexcept override {
    return guarded([&] { impl_.on_after_backward(step); });
  }
  Status on_step_end(StepContextV1& step) noexcept override {
    return guarded([&] { impl_.on_step_end(step); });
  }
  Status finalize(GraphEditorV1& editor) noexcept override {
    return guarded([&] { impl_.finalize(editor); });
  }
  Status report(ReportWriterV1& report) noexcept override {
    return guarded([&] { impl_.report(report); });
  }

 protected:
  template <class Fn>
  Status guarded(Fn&& fn) noexcept {
    try {
      fn();
      return Status::success();
    } catch (const std::exception& e) {
      return keep(e.what());
    } catch (...) {
      return keep("unknown exception");
    }
  }

  // The message must outlive the call (status.h), so it lives in the adapter.
  Status keep(const char* message) noexcept {
    try {
      error_.assign(message);
    } catch (...) {
      return Status::failure("out of memory while reporting an error");
    }
    return Status::failure(error_.c_str());
  }

  T impl_;
  std::string error_;
};

// The same for a Strategy that is also a Layerwise: the object is a LayerwiseV1 too.
template <class T>
class LayerwiseStrategyAdapter final : public StrategyAdapter<T>, public LayerwiseV1 {
 public:
  Status list_layers(GraphEditorV1& editor, LayerSinkV1& sink) noexcept override {
    return this->guarded([&] {
      for (const LayerInfo& l : this->impl_.list_layers(editor)) {
        throw_if_failed(sink.layer(l.key.c_str(), l.node.c_str(), l.op_type.c_str()));
      }
    });
  }
  Status apply_except(GraphEditorV1& editor, const char* const* kept,
                      std::size_t count) noexcept override {
    return this->guarded([&] { this->impl_.apply_except(editor, {kept, kept + count}); });
  }
  Status keep_config(const char* const* kept, std::size_t count,
                     const char** line) noexcept override {
    return this->guarded([&] {
      line_ = this->impl_.keep_config({kept, kept + count});
      *line = line_.c_str();
    });
  }

 private:
  std::string line_;
};

template <class T>
using AdapterFor = std::conditional_t<std::is_base_of_v<Layerwise, T>, LayerwiseStrategyAdapter<T>,
                                      StrategyAdapter<T>>;

template <class T>
void* create_strategy(char* error, std::size_t error_size) noexcept {
  try {
    StrategyV1* strategy = new AdapterFor<T>();
    return static_cast<void*>(strategy);
  } catch (const std::exception& e) {
    copy_message(error, error_size, e.what());
  } catch (...) {
    copy_message(error, error_size, "unknown exception");
  }
  return nullptr;
}

template <class T>
void destroy_strategy(void* strategy) noexcept {
  delete static_cast<AdapterFor<T>*>(static_cast<StrategyV1*>(strategy));
}

}  // namespace detail

// The entry of a plugin whose strategy class is T. ACT_PLUGIN calls it; tests that need a
// deliberately wrong entry start from it and change one field.
template <class T, std::size_t N>
constexpr ActPluginEntry make_plugin_entry(const char* name, const char* version,
                                           const char* const (&sections)[N]) noexcept {
  static_assert(std::is_base_of_v<Strategy, T>, "a plugin's class derives from act::sdk::Strategy");
  static_assert(std::is_default_constructible_v<T>, "a plugin's class needs a default constructor");
  return ActPluginEntry{ACT_PLUGIN_ABI_VERSION,
                        sizeof(ActPluginEntry),
                        kToolchainId,
                        name,
                        version,
                        sections,
                        N,
                        &detail::create_strategy<T>,
                        &detail::destroy_strategy<T>};
}

}  // namespace act::sdk

// Exports `entry_function` (a `const ActPluginEntry* ()` at namespace scope) as the plugin's
// entry point. ACT_PLUGIN uses it; call it directly only to export a hand-made entry.
#define ACT_PLUGIN_EXPORT_ENTRY(entry_function) BOOST_DLL_ALIAS(entry_function, act_plugin_entry)

// Declares the plugin: its Strategy class, name, version and the config sections it handles
// (one or more string literals). Use at global namespace scope, once per library.
#define ACT_PLUGIN(StrategyClass, plugin_name, plugin_version, ...)                         \
  namespace act_plugin_definition {                                                         \
  const char* const kSections[] = {__VA_ARGS__};                                            \
  constexpr ActPluginEntry kEntry =                                                         \
      ::act::sdk::make_plugin_entry<StrategyClass>(plugin_name, plugin_version, kSections); \
  /* extern "C": a second ACT_PLUGIN in the same library is a multiple-definition error. */ \
  extern "C" const ActPluginEntry* act_plugin_entry_function() noexcept {                   \
    return &kEntry;                                                                         \
  }                                                                                         \
  }                                                                                         \
  ACT_PLUGIN_EXPORT_ENTRY(act_plugin_definition::act_plugin_entry_function)
