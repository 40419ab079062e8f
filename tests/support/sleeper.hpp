#pragma once
// A task that sleeps "forever" inside a tracked frame: it ends only by cancellation, which it
// counts, so a test sees both that it was cancelled and that its frame went.

#include <atomic>
#include <chrono>

#include <weft/errors.hpp>
#include <weft/task.hpp>
#include <weft/time.hpp>

#include "lifetime.hpp"

namespace weft::test {

inline weft::task<int> sleeper(std::atomic<int>& cancelled, lifetime_counter& c) {
  tracked t(c);
  try {
    co_await weft::sleep_for(std::chrono::hours(1));
  } catch (const weft::cancelled_error&) {
    cancelled.fetch_add(1);
    throw;
  }
  co_return -1;
}

}  // namespace weft::test
