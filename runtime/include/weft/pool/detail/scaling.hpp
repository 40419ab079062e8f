#pragma once
// weft::detail::scaling_rule: when an adaptive job_pool (pool_options::min_concurrency below
// concurrency) starts a worker and when one retires.
//
//   grow     every live worker is busy, fewer than `concurrency` are live, and the oldest job in
//            the queue has waited at least scale_up_after: start one worker, then look again
//            scale_up_after later (the new worker needs about that long to show whether it was
//            enough).
//   retire   a worker that found no job for scale_down_after ends, unless that would leave
//            fewer than min_concurrency.
//
// Why the queue's wait. By Little's law a pool needs about (arrival rate) x (time per job)
// workers busy (L = lambda W). Neither number is known in advance and both drift, but the queue
// says which side of lambda W the pool is on without measuring either: with fewer workers than
// that, jobs wait, and the oldest waits longer and longer; with enough, the queue empties.
// Netflix's concurrency-limits reads the same quantity indirectly: its Vegas and Gradient
// limiters estimate the queue from how far measured latency exceeds the no-load latency, and
// move the limit by small additive steps while a queue builds (AIMD-style). A pool has its
// queue at hand, so it measures the wait directly, as CoDel does (the sojourn time of the oldest
// packet), and keeps the additive step: one worker per scale_up_after, which converges on
// lambda W without a burst doubling the workers. What it leaves out: their estimate of no-load
// latency, and shrinking the limit when latency or errors rise (protection of a downstream):
// here `concurrency` is the fixed ceiling for that, the circuit breaker handles a failing
// downstream, and workers go only when idle, which never costs throughput.
//
// The workers of a pool are tasks; adding one is a spawn, so the steps can be small and quick.
// Thread safety: none needed (values; the pool's lock guards the counts passed in).

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace weft::detail {

struct scaling_rule {
  std::size_t min = 1;
  std::size_t max = 1;
  std::chrono::nanoseconds up_after{};    // nanoseconds::max(): never (converted with saturation)
  std::chrono::nanoseconds down_after{};  // nanoseconds::max(): never

  /// Whether the pool scales at all (otherwise it runs `max` workers from start to stop).
  bool adaptive() const noexcept { return min < max; }

  /// Whether to start one more worker, given the live workers, how many of them are busy with a
  /// job, and how long the oldest queued job has waited.
  bool grow(std::size_t live, std::size_t busy, std::chrono::nanoseconds oldest_wait) const noexcept {
    return live < max && busy >= live && oldest_wait >= up_after;
  }

  /// Whether a worker that has been idle for down_after retires, `live` workers being live.
  bool retire(std::size_t live) const noexcept { return live > min; }

  /// When to look at the queue again: once the oldest job will have waited up_after, or a full
  /// up_after after starting a worker; at least a millisecond, so a rule of 0 does not spin.
  std::chrono::nanoseconds recheck_in(std::chrono::nanoseconds oldest_wait, bool started) const noexcept {
    auto left = started || oldest_wait >= up_after ? up_after : up_after - oldest_wait;
    return std::max<std::chrono::nanoseconds>(left, std::chrono::milliseconds(1));
  }
};

}  // namespace weft::detail
