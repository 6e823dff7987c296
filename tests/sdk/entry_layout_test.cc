// Pins the plugin ABI at compile time: the entry struct's layout, the Status type and the
// noexcept-ness of every hook. A failure here means a shipped layout changed; add fields at
// the end (raising struct_size) or make a new ABI/interface version instead.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

#include "act/sdk/plugin.h"
#include "act/sdk/plugin_entry.h"
#include "act/sdk/status.h"
#include "act/sdk/strategy.h"
#include "act/sdk/toolchain.h"

namespace act::sdk {
namespace {

static_assert(ACT_PLUGIN_ABI_VERSION == 1u);
static_assert(sizeof(void*) == 8, "the pinned offsets are those of 64-bit targets");

static_assert(std::is_standard_layout_v<ActPluginEntry>);
static_assert(std::is_trivially_copyable_v<ActPluginEntry>);
static_assert(sizeof(ActPluginEntry) == 64);
static_assert(alignof(ActPluginEntry) == 8);
static_assert(offsetof(ActPluginEntry, abi_version) == 0);
static_assert(offsetof(ActPluginEntry, struct_size) == 4);
static_assert(offsetof(ActPluginEntry, toolchain_id) == 8);
static_assert(offsetof(ActPluginEntry, name) == 16);
static_assert(offsetof(ActPluginEntry, version) == 24);
static_assert(offsetof(ActPluginEntry, sections) == 32);
static_assert(offsetof(ActPluginEntry, section_count) == 40);
static_assert(offsetof(ActPluginEntry, create) == 48);
static_assert(offsetof(ActPluginEntry, destroy) == 56);
static_assert(std::is_same_v<decltype(ActPluginEntry::abi_version), std::uint32_t>);
static_assert(std::is_same_v<decltype(ActPluginEntry::struct_size), std::uint32_t>);
static_assert(std::is_same_v<decltype(ActPluginEntry::toolchain_id), const char*>);
static_assert(std::is_same_v<decltype(ActPluginEntry::name), const char*>);
static_assert(std::is_same_v<decltype(ActPluginEntry::version), const char*>);
static_assert(std::is_same_v<decltype(ActPluginEntry::sections), const char* const*>);
static_assert(std::is_same_v<decltype(ActPluginEntry::section_count), std::size_t>);
static_assert(std::is_same_v<decltype(ActPluginEntry::create), void* (*)(char*, std::size_t)>);
static_assert(std::is_same_v<decltype(ActPluginEntry::destroy), void (*)(void*)>);
static_assert(std::is_same_v<ActPluginEntryFn, const ActPluginEntry* (*)()>);

static_assert(sizeof(Status) == sizeof(const char*));
static_assert(offsetof(Status, error) == 0);
static_assert(std::is_standard_layout_v<Status>);
static_assert(std::is_trivially_copyable_v<Status>);

// Strategies are destroyed by their plugin only: no public destructor on the interface.
static_assert(std::is_abstract_v<StrategyV1>);
static_assert(!std::is_destructible_v<StrategyV1>);
static_assert(!std::is_destructible_v<ConfigViewV1>);
static_assert(!std::is_destructible_v<GraphEditorV1>);

// Every hook is noexcept.
template <class T>
T& ref() noexcept;
static_assert(noexcept(ref<StrategyV1>().configure(ref<const ConfigViewV1>())));
static_assert(noexcept(ref<StrategyV1>().rewrite_graph(ref<GraphEditorV1>())));
static_assert(noexcept(ref<StrategyV1>().on_step_begin(ref<StepContextV1>())));
static_assert(noexcept(ref<StrategyV1>().add_loss_terms(ref<StepContextV1>(), ref<LossSinkV1>())));
static_assert(noexcept(ref<StrategyV1>().on_after_backward(ref<StepContextV1>())));
static_assert(noexcept(ref<StrategyV1>().on_step_end(ref<StepContextV1>())));
static_assert(noexcept(ref<StrategyV1>().finalize(ref<GraphEditorV1>())));
static_assert(noexcept(ref<StrategyV1>().report(ref<ReportWriterV1>())));
static_assert(
    std::is_same_v<decltype(ref<StrategyV1>().configure(ref<const ConfigViewV1>())), Status>);

class Nothing final : public Strategy {
 public:
  void configure(const ConfigViewV1& /*config*/) override {}
};

const char* const kSections[] = {"First", "Second"};
constexpr ActPluginEntry kEntry = make_plugin_entry<Nothing>("nothing", "0.1", kSections);
static_assert(kEntry.abi_version == ACT_PLUGIN_ABI_VERSION);
static_assert(kEntry.struct_size == sizeof(ActPluginEntry));
static_assert(kEntry.section_count == 2);

TEST(EntryLayout, MadeEntryCarriesTheToolchainAndTheSections) {
  EXPECT_STREQ(kEntry.toolchain_id, ACT_SDK_TOOLCHAIN_ID);
  EXPECT_STREQ(kEntry.name, "nothing");
  EXPECT_STREQ(kEntry.sections[1], "Second");
  EXPECT_STREQ(ACT_PLUGIN_ENTRY_NAME, "act_plugin_entry");
}

TEST(EntryLayout, ToolchainIdNamesCompilerLibraryAndActVersion) {
  const std::string id = kToolchainId;
  EXPECT_EQ(id.rfind(ACT_SDK_COMPILER_ID "/" ACT_SDK_STDLIB_ID, 0), 0U) << id;
#if defined(__GNUC__) && !defined(__clang__)
  EXPECT_EQ(id.rfind("gcc-" + std::to_string(__GNUC__) + "/libstdc++-cxx11/", 0), 0U) << id;
#endif
  const std::string act_version =
      "act-" + std::to_string(ACT_VERSION_MAJOR) + "." + std::to_string(ACT_VERSION_MINOR);
  EXPECT_EQ(id.substr(id.size() - act_version.size()), act_version) << id;
}

TEST(EntryLayout, CreateAndDestroyRoundTripWithoutTheHost) {
  char error[64] = "untouched";
  void* strategy = kEntry.create(error, sizeof error);
  ASSERT_NE(strategy, nullptr);
  EXPECT_STREQ(error, "untouched");
  kEntry.destroy(strategy);
  kEntry.destroy(nullptr);
}

}  // namespace
}  // namespace act::sdk
