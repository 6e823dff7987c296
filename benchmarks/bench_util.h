// Small timing helpers shared by the benchmark programs (not part of any library).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace act::bench {

inline double now_s() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

// Seconds per call of fn: best of `rounds` batches, each batch long enough (>= min_s) that the
// clock's resolution does not matter. Best-of filters out interference from other processes.
template <typename Fn>
double time_per_call(Fn&& fn, double min_s = 0.2, int rounds = 3) {
  fn();  // warm-up: page faults, thread start-up, scratch growth
  int reps = 1;
  for (;;) {
    const double t0 = now_s();
    for (int i = 0; i < reps; ++i) fn();
    const double dt = now_s() - t0;
    if (dt >= min_s / 4 || reps > (1 << 24)) break;
    reps *= 2;
  }
  double best = 1e30;
  for (int r = 0; r < rounds; ++r) {
    int n = 0;
    const double t0 = now_s();
    double dt = 0;
    do {
      fn();
      ++n;
      dt = now_s() - t0;
    } while (dt < min_s || n < reps);
    best = std::min(best, dt / n);
  }
  return best;
}

}  // namespace act::bench
