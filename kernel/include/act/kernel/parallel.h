// A small process-wide thread pool for data-parallel loops in CPU kernels.
//
// Threading: parallel_for may be called from one thread at a time (the executor's); nested
// calls from inside a body run serially. BLAS calls run inside this pool too (cpu/blas.h), so
// the thread count here is the whole process's compute parallelism.
#pragma once

#include <cstdint>
#include <functional>

namespace act {

// Number of threads kernels use (default: hardware concurrency, or ACT_NUM_THREADS).
int num_threads();
// Sets the pool's thread count; n >= 1.
void set_num_threads(int n);

// Calls fn(begin, end) over [0, n) split into at most num_threads() chunks of at least
// `grain` iterations each. Blocks until all chunks are done.
void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& fn);

}  // namespace act
