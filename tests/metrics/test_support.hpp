// Helpers shared by the metrics tests.
#pragma once

#include <barrier>
#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

namespace weft::metrics::test {

/// Runs body(i) on `threads` threads, released together by a barrier so they really overlap,
/// and joins them all (the join is what makes their updates visible to the caller).
inline void run_threads(std::size_t threads, const std::function<void(std::size_t)>& body) {
  std::barrier start(static_cast<std::ptrdiff_t>(threads));
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i)
    pool.emplace_back([&, i] {
      start.arrive_and_wait();
      body(i);
    });
  for (std::thread& t : pool) t.join();
}

}  // namespace weft::metrics::test
