#pragma once
// What the pool tests share.

#include <stdexcept>
#include <string_view>
#include <thread>

#include <weft/metrics/registry.hpp>
#include <weft/pool/pool.hpp>

namespace weft::test {

/// A pool's counters add up: every job submitted is processed, failed, in flight or queued, and
/// every failure is a dead letter.
inline bool consistent(const weft::pool_stats& s) {
  return s.submitted == s.processed + s.failed + s.in_flight + s.queue_depth && s.failed == s.dead_lettered;
}

/// Until a pool destroyed without stop() has freed everything, down to its name: its state
/// goes with its last task, series first and the name last, so a test that makes a pool of
/// the same name waits for the name itself.
inline void wait_pool_name_free(weft::metrics::registry& reg, std::string_view name) {
  for (;;) {
    try {
      auto claim = reg.claim_name("pool", name);
      return;  // free (and free again when `claim` goes)
    } catch (const std::invalid_argument&) {
      std::this_thread::yield();
    }
  }
}

}  // namespace weft::test
