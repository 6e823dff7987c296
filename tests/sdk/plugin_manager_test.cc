// The plugin manager against real built plugins (tests/plugins/fixtures): the good one loads
// with its entry's facts, every broken one is skipped with its specific reason, and neither
// loading nor a broken plugin ever throws or crashes.
#include "act/host/plugin_manager.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "act/kernel/error.h"
#include "act/sdk/host_objects.h"
#include "act/sdk/toolchain.h"
#include "sdk_test_util.h"

namespace act::host {
namespace {

namespace fs = std::filesystem;
using test::fixture;
using test::kFixtureDir;

const SkippedPlugin* skipped_entry(const PluginManager& manager, const fs::path& file) {
  const fs::path wanted = fs::weakly_canonical(file);
  for (const auto& s : manager.skipped()) {
    if (fs::weakly_canonical(s.path) == wanted) return &s;
  }
  return nullptr;
}

TEST(PluginManager, LoadsTheGoodFixtureWithItsEntryFacts) {
  PluginManager manager;
  EXPECT_NO_THROW(manager.load_file(fixture("fixture_good")));
  ASSERT_EQ(manager.plugins().size(), 1U);
  EXPECT_TRUE(manager.skipped().empty());
  const PluginInfo& info = manager.plugins()[0];
  EXPECT_EQ(info.name, "test-strategy");
  EXPECT_EQ(info.version, "1.2.3");
  EXPECT_EQ(info.abi_version, ACT_PLUGIN_ABI_VERSION);
  EXPECT_EQ(info.sections, (std::vector<std::string>{"TestStrategy", "TestStrategyExtra"}));
  EXPECT_EQ(info.path, fs::canonical(fixture("fixture_good")));
  EXPECT_EQ(manager.find("test-strategy"), &info);
  EXPECT_EQ(manager.find_section("TestStrategyExtra"), &info);
  EXPECT_EQ(manager.find("nobody"), nullptr);
  EXPECT_EQ(manager.find_section("QuantAware"), nullptr);
}

struct BrokenCase {
  const char* file;
  std::vector<std::string> reason_parts;
};

// Keeps ctest's test names readable.
void PrintTo(const BrokenCase& c, std::ostream* os) {
  *os << c.file;
}

class BrokenPlugin : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenPlugin, IsSkippedWithItsReason) {
  const BrokenCase& c = GetParam();
  PluginManager manager;
  EXPECT_NO_THROW(manager.load_file(fixture(c.file)));
  EXPECT_TRUE(manager.plugins().empty());
  ASSERT_EQ(manager.skipped().size(), 1U);
  const SkippedPlugin& s = manager.skipped()[0];
  EXPECT_EQ(s.path.filename(), std::string(c.file) + ".so");
  for (const auto& part : c.reason_parts) {
    EXPECT_NE(s.reason.find(part), std::string::npos) << "'" << part << "' not in: " << s.reason;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, BrokenPlugin,
    ::testing::Values(
        BrokenCase{"fixture_wrong_abi",
                   {"built for plugin ABI version 42", "this act supports version 1"}},
        BrokenCase{"fixture_small_struct", {"entry struct is 16 bytes", "needs at least 64"}},
        BrokenCase{"fixture_wrong_toolchain",
                   {"built with toolchain 'msvc-19/msvc-stl/act-0.1'", sdk::kToolchainId}},
        BrokenCase{"fixture_null_create", {"create() returned no strategy"}},
        BrokenCase{"fixture_throwing_create", {"create() failed: licence server unreachable"}},
        BrokenCase{"fixture_no_entry", {"no entry point 'act_plugin_entry'", "not an ACT plugin"}},
        BrokenCase{"not_a_library", {"not a loadable shared library: ", "not_a_library.so"}}),
    [](const auto& info) { return std::string(info.param.file); });

TEST(PluginManager, FolderKeepsTheGoodPluginAndReportsEveryOtherFile) {
  PluginManager manager;
  EXPECT_NO_THROW(manager.load_folder({kFixtureDir, "--plugin-dir", true}));
  ASSERT_EQ(manager.plugins().size(), 1U);
  EXPECT_EQ(manager.plugins()[0].name, "test-strategy");
  // Seven broken files plus the plugin whose section the good one already handles.
  EXPECT_EQ(manager.skipped().size(), 8U);
  const SkippedPlugin* clash = skipped_entry(manager, fixture("fixture_section_clash"));
  ASSERT_NE(clash, nullptr);
  EXPECT_NE(clash->reason.find(
                "config section 'TestStrategy' is already handled by plugin 'test-strategy'"),
            std::string::npos)
      << clash->reason;
}

TEST(PluginManager, FirstOfTwoSameNamePluginsWins) {
  test::ScratchDir scratch;
  const fs::path first = test::copy_good_fixture(scratch.path() / "first");
  const fs::path second = test::copy_good_fixture(scratch.path() / "second");
  PluginManager manager;
  manager.load({{scratch.path() / "first", "--plugin-dir", true},
                {scratch.path() / "second", "ACT_PLUGIN_PATH", true}});
  ASSERT_EQ(manager.plugins().size(), 1U);
  EXPECT_EQ(manager.plugins()[0].path, fs::canonical(first));
  const SkippedPlugin* duplicate = skipped_entry(manager, second);
  ASSERT_NE(duplicate, nullptr);
  EXPECT_NE(duplicate->reason.find("plugin name 'test-strategy' is already taken by " +
                                   fs::canonical(first).string()),
            std::string::npos)
      << duplicate->reason;
}

TEST(PluginManager, AFileReachedTwiceIsLoadedOnce) {
  PluginManager manager;
  manager.load_file(fixture("fixture_good"));
  manager.load_file(kFixtureDir / "." / "fixture_good.so");
  EXPECT_EQ(manager.plugins().size(), 1U);
  EXPECT_TRUE(manager.skipped().empty());
}

TEST(PluginManager, MissingFolderIsReportedUnlessItIsTheInstallFolder) {
  test::ScratchDir scratch;
  PluginManager manager;
  manager.load({{scratch.path() / "absent", "ACT_PLUGIN_PATH", true},
                {scratch.path() / "absent_install", "install", false}});
  EXPECT_TRUE(manager.plugins().empty());
  ASSERT_EQ(manager.skipped().size(), 1U);
  EXPECT_EQ(manager.skipped()[0].path, scratch.path() / "absent");
  EXPECT_EQ(manager.skipped()[0].reason, "no such folder (from ACT_PLUGIN_PATH)");
}

TEST(PluginManager, OnlyFilesNamedSoAreTried) {
  test::ScratchDir scratch;
  test::copy_good_fixture(scratch.path(), "good.so.disabled");
  test::write_bytes(scratch.file("notes.txt"), "not a plugin");
  fs::create_directories(scratch.path() / "nested.so");
  PluginManager manager;
  manager.load_folder({scratch.path(), "--plugin-dir", true});
  EXPECT_TRUE(manager.plugins().empty());
  EXPECT_TRUE(manager.skipped().empty());
}

TEST(PluginSearchPath, PluginDirsThenEnvironmentThenInstallFolder) {
  const auto folders = plugin_search_path({"/a", "/b"}, "/c::/d:");
  ASSERT_EQ(folders.size(), 5U);
  EXPECT_EQ(folders[0].path, "/a");
  EXPECT_EQ(folders[0].origin, "--plugin-dir");
  EXPECT_EQ(folders[1].path, "/b");
  EXPECT_EQ(folders[2].path, "/c");
  EXPECT_EQ(folders[2].origin, "ACT_PLUGIN_PATH");
  EXPECT_EQ(folders[3].path, "/d");
  EXPECT_TRUE(folders[3].required);
  EXPECT_EQ(folders[4].origin, "install");
  EXPECT_FALSE(folders[4].required);
  EXPECT_EQ(folders[4].path, installed_plugin_dir());
  EXPECT_EQ(plugin_search_path({}, nullptr).size(), 1U);
}

TEST(PluginSearchPath, InstallFolderIsBesideTheProgramsLibFolder) {
  // Test binaries live in <build>/tests, like `act` in <build>/bin: same relative layout.
  const fs::path dir = installed_plugin_dir();
  EXPECT_EQ(dir.filename(), "plugins");
  EXPECT_EQ(dir.parent_path().filename(), "act");
  EXPECT_TRUE(dir.is_absolute());
}

TEST(PluginManager, CreatesStrategiesThatOutliveTheManager) {
  StrategyPtr strategy;
  {
    PluginManager manager;
    manager.load_file(fixture("fixture_good"));
    strategy = manager.create_strategy("test-strategy");
    ASSERT_NE(strategy, nullptr);
  }
  // The library stays loaded: the strategy's code is still there.
  sdk::KeyValueConfig config("TestStrategy", {});
  EXPECT_TRUE(strategy->configure(config).ok());
  void* handle = dlopen(fs::canonical(fixture("fixture_good")).c_str(), RTLD_NOW | RTLD_NOLOAD);
  EXPECT_NE(handle, nullptr);
  if (handle != nullptr) dlclose(handle);  // drops only the reference NOLOAD took
  strategy.reset();
}

TEST(PluginManager, CreateStrategyNamesTheMissingPlugin) {
  PluginManager manager;
  try {
    manager.create_strategy("quant");
    FAIL() << "expected act::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no plugin named 'quant'"), std::string::npos);
  }
}

// The version script hides everything but the alias: not the entry function, not the
// strategy's code, not the standard library templates compiled into the plugin.
TEST(PluginExports, GoodPluginExportsOnlyItsEntryAlias) {
  const auto r = test::run_command("nm -D --defined-only " + fixture("fixture_good").string());
  if (r.exited && r.code == 127) GTEST_SKIP() << "nm not available";
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> names;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) names.push_back(line.substr(line.rfind(' ') + 1));
  }
  EXPECT_EQ(names, std::vector<std::string>{"act_plugin_entry"}) << r.out;
}

}  // namespace
}  // namespace act::host
