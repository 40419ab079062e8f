// sync_bench: channels, a channel ping-pong and the job pool, on weft, Boost.Fiber and
// Boost.Asio in one process, so that tools/bench can interleave their runs (bench/README.md).
// Every system's benchmarks register themselves from their own file (workloads.hpp names
// them); bench/sync/table.py prints the comparison.
#include <atomic>
#include <cstdint>

#include <benchmark/benchmark.h>

#include "workloads.hpp"

namespace bench {

std::int64_t thread_slot() noexcept {
  static std::atomic<std::int64_t> next{1};
  thread_local const std::int64_t slot = next.fetch_add(1, std::memory_order_relaxed);
  return slot;
}

}  // namespace bench

BENCHMARK_MAIN();
