#pragma once
// Waits for tasks to reach their await: until `n` tasks of `rt` are suspended (rt.dump_tasks()).
// A test that must act on tasks sitting at an await point waits for that state itself, never for
// a period of time.

#include <cstddef>
#include <thread>

#include <weft/runtime.hpp>

namespace weft::test {

inline void wait_suspended(weft::runtime& rt, std::size_t n) {
  for (;;) {
    std::size_t suspended = 0;
    for (const auto& t : rt.dump_tasks()) suspended += t.state == weft::task_state::suspended;
    if (suspended >= n) return;
    std::this_thread::yield();
  }
}

}  // namespace weft::test
