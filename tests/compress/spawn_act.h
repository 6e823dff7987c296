// Runs the real `act` binary as a child process, for tests that kill it mid-run (SIGKILL) and
// resume: fork + exec, stdout and stderr to a log file.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
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

}  // namespace act::test
