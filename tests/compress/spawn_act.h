// Runs the real `act` binary as a child process, for tests that kill it mid-run (SIGKILL) and
// resume: fork + exec, stdout and stderr to a log file.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

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

}  // namespace act::test
