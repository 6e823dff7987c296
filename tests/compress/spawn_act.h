// Runs the real `act` binary as a child process, for tests that kill it mid-run (SIGKILL) and
// resume: fork + exec, stdout and stderr to a log file.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "act/host/checkpoint.h"
#include "act/kernel/error.h"
#include "compress_test_util.h"

namespace act::test {

// Starts act with `args`, stdout and stderr to `log`; returns the pid.
inline pid_t spawn_act(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::FILE* f = std::freopen(log.c_str(), "w", stdout);
    if (f == nullptr) ::_exit(127);
    ::dup2(::fileno(stdout), STDERR_FILENO);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(kAct.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(kAct.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// The exit code, or minus the signal that ended the process.
inline int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// Watches the run's checkpoint file `ckpt` and sends SIGKILL once it records step
// `min_step` or later. False (a test failure for the caller) when the run ended first.
inline bool kill_at_checkpoint(pid_t pid, const std::string& ckpt, long long min_step) {
  for (int i = 0; i < 12000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (std::filesystem::exists(ckpt)) {
      try {
        if (std::stoll(host::load_checkpoint(ckpt).meta.at("step")) >= min_step) {
          ::kill(pid, SIGKILL);
          return true;
        }
      } catch (const Error&) {
        // Cannot happen with atomic writes; a torn read shows up as a test failure.
        ADD_FAILURE() << "a checkpoint could not be read while the run was writing it";
      }
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;
  }
  return false;
}

// `act compress` of the bundled model with `config`, checkpointing every 5 steps at two
// threads, into the save folder the returned function is given; `extra` goes at the end.
inline std::function<std::vector<std::string>(const std::string&)> checkpointed_compress(
    const std::string& config, const std::string& train, const std::string& eval,
    std::vector<std::string> extra = {}) {
  return [=](const std::string& save_dir) {
    std::vector<std::string> args{"compress",    "--config",   config,   "--model",
                                  kBundledModel, "--data",     train,    "--eval-data",
                                  eval,          "--save-dir", save_dir, "--checkpoint-iter",
                                  "5",           "--threads",  "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
}

// What run_killed_and_resumed saw: each run's model.onnx bytes and the resumed run's log.
struct ResumeOutcome {
  std::string full_model, resumed_model, full_log, resume_log;
};

// `act compress` with args_for(save_dir) run to the end in dir/full, then again in dir/cut,
// killed with SIGKILL once a checkpoint at `kill_step` or later exists, and resumed there with
// --resume. Checks the killed run left no model and the resumed one said so; `after_kill`, if
// given, sees the killed run's checkpoint file before the resume. The caller compares the
// models (ASSERT_NO_FATAL_FAILURE on the call stops a test that failed here).
inline ResumeOutcome run_killed_and_resumed(
    const std::function<std::vector<std::string>(const std::string&)>& args_for,
    const std::string& dir, long long kill_step,
    const std::function<void(const std::string& checkpoint)>& after_kill = {}) {
  ResumeOutcome out;
  const std::string full = dir + "/full", cut = dir + "/cut";
  const int full_exit = wait_exit(spawn_act(args_for(full), dir + "/full.log"));
  out.full_log = read_bytes(dir + "/full.log");
  EXPECT_EQ(full_exit, 0) << out.full_log;
  if (full_exit != 0) return out;
  out.full_model = read_bytes(full + "/model.onnx");

  const pid_t pid = spawn_act(args_for(cut), dir + "/cut.log");
  const bool killed = kill_at_checkpoint(pid, cut + "/checkpoint.actckpt", kill_step);
  EXPECT_TRUE(killed) << "the run finished before a checkpoint appeared: "
                      << read_bytes(dir + "/cut.log");
  if (!killed) return out;
  EXPECT_EQ(wait_exit(pid), -SIGKILL);
  EXPECT_FALSE(std::filesystem::exists(cut + "/model.onnx")) << "a killed run left a model behind";
  if (after_kill) after_kill(cut + "/checkpoint.actckpt");

  std::vector<std::string> again = args_for(cut);
  again.push_back("--resume");
  const int resume_exit = wait_exit(spawn_act(again, dir + "/resume.log"));
  out.resume_log = read_bytes(dir + "/resume.log");
  EXPECT_EQ(resume_exit, 0) << out.resume_log;
  EXPECT_NE(out.resume_log.find("resuming at step"), std::string::npos) << out.resume_log;
  if (resume_exit == 0) out.resumed_model = read_bytes(cut + "/model.onnx");
  return out;
}

}  // namespace act::test
