// `act plugins` as a subprocess, the way users and scripts see it: the fixture folder given
// by --plugin-dir or ACT_PLUGIN_PATH lists the good plugin and every skipped file with its
// reason, exits 0 whatever is broken, and exits 2 only on usage errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "sdk_test_util.h"

namespace act::test {
namespace {

namespace fs = std::filesystem;

// `act plugins ARGS` with ACT_PLUGIN_PATH set to `env_path`, or unset when empty.
CommandResult act_plugins(const std::string& args, const std::string& env_path = "") {
  const std::string env =
      env_path.empty() ? "env -u ACT_PLUGIN_PATH " : "env ACT_PLUGIN_PATH='" + env_path + "' ";
  return run_command(env + kActProgram + " plugins " + args);
}

void expect_contains(const std::string& text, const std::vector<std::string>& parts) {
  for (const auto& part : parts) {
    EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not in:\n" << text;
  }
}

// The project's own plugins (plugins/) in the build's plugin folder, which `act` always
// searches last; listings include them.
int installed_plugins() {
  int n = 0;
  for (const auto& e : fs::directory_iterator(ACT_BINARY_DIR "/lib/act/plugins")) {
    if (e.path().extension() == ".so") ++n;
  }
  return n;
}

std::string plugin_count(int fixtures) {
  return "plugins (" + std::to_string(fixtures + installed_plugins()) + "):";
}

std::string good_path() {
  return fs::canonical(fixture("fixture_good")).string();
}

// What every listing of the fixture folder shows; `skipped` counts its eight broken files
// plus any missing folder.
void expect_fixture_listing(const CommandResult& r, int skipped = 8) {
  ASSERT_TRUE(r.exited) << "killed by a signal\n" << r.err;
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  expect_contains(r.out,
                  {plugin_count(1), "  test-strategy 1.2.3 (plugin ABI 1)",
                   "    sections: TestStrategy, TestStrategyExtra", "    path: " + good_path(),
                   "skipped (" + std::to_string(skipped) + "):", "built for plugin ABI version 42",
                   "entry struct is 16 bytes", "built with toolchain 'msvc-19/msvc-stl/act-0.1'",
                   "create() returned no strategy", "create() failed: licence server unreachable",
                   "no entry point 'act_plugin_entry'", "not a loadable shared library",
                   "config section 'TestStrategy' is already handled"});
  for (const char* file :
       {"fixture_wrong_abi.so", "fixture_small_struct.so", "fixture_wrong_toolchain.so",
        "fixture_null_create.so", "fixture_throwing_create.so", "fixture_no_entry.so",
        "not_a_library.so", "fixture_section_clash.so"}) {
    EXPECT_NE(r.out.find(std::string("/") + file + "\n"), std::string::npos) << file;
  }
}

TEST(ActPlugins, ListsTheFixtureFolderGivenByPluginDir) {
  const auto r = act_plugins("--plugin-dir " + kFixtureDir.string());
  expect_fixture_listing(r);
  expect_contains(r.out, {kFixtureDir.string() + " (--plugin-dir)"});
}

TEST(ActPlugins, ListsTheFixtureFolderGivenByActPluginPath) {
  const auto r = act_plugins("", "/nonexistent/act-plugins:" + kFixtureDir.string());
  expect_fixture_listing(r, 9);
  expect_contains(r.out, {kFixtureDir.string() + " (ACT_PLUGIN_PATH)",
                          "/nonexistent/act-plugins (ACT_PLUGIN_PATH, not found)",
                          "no such folder (from ACT_PLUGIN_PATH)"});
}

TEST(ActPlugins, PluginDirIsSearchedBeforeActPluginPath) {
  ScratchDir scratch;
  const fs::path mine = copy_good_fixture(scratch.path(), "my_build.so");
  const auto r = act_plugins("--plugin-dir " + scratch.path().string(), kFixtureDir.string());
  ASSERT_EQ(r.code, 0) << r.err;
  expect_contains(
      r.out, {"    path: " + fs::canonical(mine).string(),
              "plugin name 'test-strategy' is already taken by " + fs::canonical(mine).string()});
}

TEST(ActPlugins, JsonListsPluginsAndSkippedFiles) {
  const auto r = act_plugins("--json --plugin-dir " + kFixtureDir.string());
  ASSERT_EQ(r.code, 0) << r.err;
  expect_contains(
      r.out, {"\"search_path\": [", "\"origin\": \"--plugin-dir\"",
              "{\"name\": \"test-strategy\", \"version\": \"1.2.3\", "
              "\"abi_version\": 1, \"sections\": [\"TestStrategy\", "
              "\"TestStrategyExtra\"], \"path\": \"" +
                  good_path() + "\"}",
              "\"skipped\": [", "\"reason\": \"create() failed: licence server unreachable\""});
  EXPECT_EQ(r.out.front(), '{');
  EXPECT_EQ(r.out.substr(r.out.size() - 2), "}\n");
}

TEST(ActPlugins, NothingFoundIsNotAnError) {
  ScratchDir scratch;
  const auto r = act_plugins("--plugin-dir " + scratch.path().string());
  EXPECT_EQ(r.code, 0) << r.err;
  expect_contains(r.out, {plugin_count(0)});
  if (installed_plugins() == 0) expect_contains(r.out, {"(none)"});
}

TEST(ActPlugins, UsageErrorsExitTwo) {
  for (const char* args : {"--bogus", "extra_argument", "--plugin-dir"}) {
    const auto r = act_plugins(args);
    ASSERT_TRUE(r.exited) << args;
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << args;
    expect_contains(r.err, {"act plugins: ", "usage: act plugins"});
  }
}

TEST(ActPlugins, HelpDescribesTheSearchPath) {
  const auto r = act_plugins("--help");
  EXPECT_EQ(r.code, 0);
  expect_contains(r.out, {"usage: act plugins [--plugin-dir DIR]... [--json]", "ACT_PLUGIN_PATH",
                          "--plugin-dir"});
  const auto top = run_command(kActProgram + " --help");
  expect_contains(top.out, {"plugins "});
}

}  // namespace
}  // namespace act::test
