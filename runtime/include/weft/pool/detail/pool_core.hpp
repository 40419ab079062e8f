#pragma once
// weft::detail::pool_core: the non-template half of job_pool: counters, breakers, metrics,
// health, backoff. One mutex guards every counter and the queue (the template half's), so that
// stats() is consistent at every moment.

#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <weft/cancel.hpp>
#include <weft/metrics/callback_handle.hpp>
#include <weft/metrics/histogram.hpp>
#include <weft/metrics/name_claim.hpp>
#include <weft/metrics/owned.hpp>
#include <weft/pool/detail/breaker.hpp>
#include <weft/pool/options.hpp>
#include <weft/sync/event.hpp>
#include <weft/sync/semaphore.hpp>

namespace weft {
class runtime;
}

namespace weft::detail {

class pool_core {
 public:
  using clock = std::chrono::steady_clock;
  enum class outcome { success, failure, timeout };

  pool_core(runtime& rt, pool_options opts);
  pool_core(const pool_core&) = delete;

  /// Registers the pool's metrics; `stats` is sampled at collection.
  void register_metrics(std::function<pool_stats()> stats);
  void observe(outcome o, clock::duration d) noexcept;
  /// The wait before attempt `attempt` (2, 3, ...): exponential, capped, jittered.
  std::chrono::nanoseconds backoff(std::size_t attempt);
  /// Health from a stats snapshot (see job_pool::health); call with the mutex not held.
  /// `runtime_gone`: the runtime ended the pool's workers (it is not asked about stalls then).
  health_status health(const pool_stats& s, const std::vector<std::string>& open_circuits, bool runtime_gone);
  /// The message of an exception, for dead letters.
  static std::string describe(const std::exception_ptr& e);
  static bool retryable(const std::exception_ptr& e);

  runtime& rt;
  metrics::name_claim name;  // opts.name, held in the registry while the pool's state lives
  const pool_options opts;
  std::mutex mu;        // guards everything below
  pool_stats counters;  // queue_depth and in_flight are kept here too
  breaker_set breakers;
  bool stopping = false;
  semaphore items{0};    // one permit per queued job (flooded when stopping)
  semaphore room;        // free queue slots (flooded when stopping)
  event idle;            // set when stopping and nothing is queued or in flight
  cancel_source cancel;  // cancels in-flight jobs (stop's drain timeout, destruction)

 private:
  metrics::owned<metrics::histogram> durations_[3];  // leave the registry with the pool
  std::vector<metrics::callback_handle> handles_;
  std::mt19937_64 rng_{0x5EED};
  std::uint64_t last_dead_lettered_ = 0;
  std::uint64_t last_stalls_ = 0;
};

}  // namespace weft::detail
