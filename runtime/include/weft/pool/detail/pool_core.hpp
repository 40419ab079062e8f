#pragma once
// weft::detail::pool_core: the non-template half of job_pool: counters, breakers, metrics,
// health, backoff, the memory budget's and the workers' books, the one clock. One mutex guards
// every counter and the queue (the template half's), so that stats() is consistent at every
// moment.
//
// The memory budget. Bytes are *reserved* by a submitter that holds a queue slot (before its
// job is stored, when there is a store) and become *queued* with the job; a worker taking the
// job frees them. A submitter that finds no room in the budget waits, first for its turn
// (bytes_turn, one waiter at a time, FIFO: a big job is not overtaken forever by small ones),
// then, holding the turn, for bytes to be freed (bytes_freed, released by whoever frees bytes
// while the turn's holder is parked). try_submit does not overtake waiting submitters either: it
// sheds while one waits.

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
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
#include <weft/pool/detail/scaling.hpp>
#include <weft/pool/options.hpp>
#include <weft/sched/scheduler.hpp>
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

  /// `has_size_of`: whether the pool can measure jobs (max_queued_bytes needs it).
  pool_core(runtime& rt, pool_options opts, bool has_size_of);
  pool_core(const pool_core&) = delete;

  /// The one place the pool reads the time: breakers, job durations, queue waits and scaling
  /// decisions all ask here. It is the runtime's clock (runtime::now(): virtual in a
  /// weft::testing::sim, as are the backoff sleeps and job deadlines, which are weft timers),
  /// held as a sched::clock_ref: a pool may outlive its runtime (stats(), health()).
  clock::time_point now() const noexcept { return clock::time_point(std::chrono::nanoseconds(clock_.now())); }

  /// Registers the pool's metrics; `stats` is sampled at collection.
  void register_metrics(std::function<pool_stats()> stats);
  /// Removes every series of the pool from the registry. Once it returns, no collection is
  /// inside `stats` or calls it again, so what it reads may be destroyed.
  void unregister_metrics() noexcept;
  void observe(outcome o, clock::duration d) noexcept;
  /// The wait before attempt `attempt` (2, 3, ...): exponential, capped, jittered.
  std::chrono::nanoseconds backoff(std::size_t attempt);
  /// Health from a stats snapshot (see job_pool::health); call with the mutex not held.
  /// `runtime_gone`: the runtime ended the pool's workers. The runtime is asked about zombies
  /// and stalls only while the pool's tasks live (it may be gone once they are).
  health_status health(const pool_stats& s, const std::vector<std::string>& open_circuits, bool runtime_gone);
  /// The message of an exception, for dead letters.
  static std::string describe(const std::exception_ptr& e);
  static bool retryable(const std::exception_ptr& e);
  /// Whether an attempt ended because it was cancelled from outside (the pool stopping past its
  /// drain timeout or destroyed, the runtime shutting down), not by the job's deadline.
  static bool cancelled_from_outside(const std::exception_ptr& e);

  // ---- The memory budget (see the top). All under mu. ----
  /// Whether `bytes` can never fit in the budget (shed at once, even by submit).
  bool too_big(std::size_t bytes) const noexcept { return opts.max_queued_bytes != 0 && bytes > opts.max_queued_bytes; }
  /// Reserves `bytes` for a job about to be queued: accepted, stopping, or memory_limit (no
  /// room now, or submitters are waiting for room and this one would overtake them).
  submit_status reserve_locked(std::size_t bytes) noexcept;
  /// The same for the submitter holding the turn (it waits for nobody): accepted, stopping,
  /// or memory_limit, in which case it is parked: the next bytes freed release bytes_freed.
  submit_status reserve_turn_locked(std::size_t bytes) noexcept;
  /// A reservation given back (the job was not queued after all).
  void unreserve_locked(std::size_t bytes) noexcept;
  /// A reserved job queued / a queued job taken by a worker (frees its bytes and its slot).
  void queued_locked(std::size_t bytes) noexcept;
  void dequeued_locked(std::size_t bytes) noexcept;

  // ---- Workers (scaling.hpp). All under mu. ----
  /// After a job was queued or taken: wakes the scaler if the queue has a job that every busy
  /// worker leaves waiting and the pool may grow. `queued`: jobs in the queue.
  void maybe_grow_locked(std::size_t queued) noexcept;

  runtime& rt;
  const sched::clock_ref clock_;  // rt's clock (see now())
  metrics::name_claim name;       // opts.name, held in the registry while the pool's state lives
  const pool_options opts;
  const scaling_rule rule;
  std::mutex mu;        // guards everything below
  pool_stats counters;  // in_flight and queued_bytes are kept here too (queue_depth: the queue's size)
  breaker_set breakers;
  bool stopping = false;
  std::size_t reserved_bytes = 0;  // held by submitters between admission and queueing
  std::size_t byte_waiters = 0;    // submitters waiting for room in the budget (turn or parked)
  bool bytes_parked = false;       // the turn's holder waits on bytes_freed
  std::size_t overflow = 0;        // jobs recovered from the store past queue_capacity (hold no slot)
  std::size_t live_workers = 0;    // workers started and not ended (stats().workers)
  std::size_t live_tasks = 0;      // live_workers and the scaler
  bool scaler_armed = false;       // the scaler is watching a backlog (or was woken to)
  semaphore items{0};              // one permit per queued job (flooded when stopping)
  semaphore room;                  // free queue slots (flooded when stopping)
  semaphore bytes_turn{1};         // the turn to wait for bytes (flooded when stopping)
  semaphore bytes_freed{0};        // bytes were freed while the turn's holder was parked (flooded)
  semaphore grow{0};               // wakes the scaler (flooded when stopping)
  event idle;                      // set when stopping and nothing is queued or in flight
  cancel_source cancel;            // cancels in-flight jobs (stop's drain timeout, destruction)

  /// Under mu: nothing more is taken in; every semaphore is flooded, so nobody waits on one
  /// again (waiting submitters then see `stopping`, idle workers and the scaler leave).
  void begin_stopping_locked() noexcept;

 private:
  metrics::owned<metrics::histogram> durations_[3];  // leave the registry with the pool
  std::vector<metrics::callback_handle> handles_;
  std::mt19937_64 rng_{0x5EED};
  std::uint64_t last_dead_lettered_ = 0;
  std::uint64_t last_stalls_ = 0;
};

}  // namespace weft::detail
