// The thread pool behind parallel_for (act/kernel/parallel.h), resized between loops the way
// tests and `act --threads` do.
#include "act/kernel/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace act {
namespace {

// Resizing started workers that took the previous job for a new one, and their extra
// "finished" raced the next loop's count of pending workers: parallel_for then waited
// forever. Every index must be covered exactly once per loop, and the loops must end (a
// watchdog aborts with a message instead of letting the suite hang).
TEST(ThreadPool, LoopsAfterResizingCoverEveryIndexOnceAndFinish) {
  const int saved = num_threads();
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(120), [&] { return done; })) {
      std::fprintf(stderr, "parallel_for did not finish after set_num_threads: hung pool\n");
      std::abort();
    }
  });
  constexpr std::int64_t kN = 64;
  std::vector<std::atomic<int>> hits(kN);
  for (int round = 0; round < 1500; ++round) {
    set_num_threads(1 + round % 3);
    for (auto& h : hits) h.store(0);
    for (int loop = 0; loop < 3; ++loop) {
      parallel_for(kN, 1, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)].fetch_add(1);
      });
    }
    for (std::int64_t i = 0; i < kN; ++i) {
      ASSERT_EQ(hits[static_cast<std::size_t>(i)].load(), 3) << "round " << round << " index " << i;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_one();
  watchdog.join();
  set_num_threads(saved);
}

}  // namespace
}  // namespace act
