#pragma once
// The options and plain results of weft::job_pool (pool.hpp).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace weft {

/// Retry with exponential backoff and jitter, for errors the processor marks retryable (by
/// throwing weft::retryable_error) and for attempts that overran the job deadline.
struct retry_options {
  std::size_t max_attempts = 1;                   ///< 1: no retry
  std::chrono::milliseconds initial_backoff{10};  ///< wait before the 2nd attempt
  double multiplier = 2.0;                        ///< each further wait is this much longer...
  std::chrono::milliseconds max_backoff{1000};    ///< ...up to this cap
  double jitter = 0.2;                            ///< each wait is drawn within ±jitter of itself
};

/// A circuit breaker per job type (closed -> open -> half-open -> closed).
struct breaker_options {
  bool enabled = false;
  std::size_t failure_threshold = 5;                ///< consecutive failures that open a circuit
  std::chrono::milliseconds reset_timeout{30'000};  ///< open this long, then half-open
  std::size_t half_open_probes = 1;                 ///< jobs let through while half-open
};

/// How a job_pool is built. Members in this order so that designated initializers work.
struct pool_options {
  /// The `pool` label of its metrics. Empty (the default): "pool", or "pool-2", "pool-3"...
  /// while other pools report to the runtime's registry. An explicit name another live pool
  /// uses there is an error (std::invalid_argument).
  std::string name{};
  std::size_t concurrency = 0;               ///< jobs processed at once; 0: the runtime's workers
  std::size_t queue_capacity = 1024;         ///< jobs waiting at most; then try_submit sheds
  std::chrono::milliseconds job_timeout{0};  ///< deadline of one attempt; 0: none
  retry_options retry{};
  breaker_options breaker{};
  std::size_t dead_letter_capacity = 1024;  ///< failed jobs kept; the oldest go first (resubmit_dead_letters too)
  double degraded_queue_fill = 0.8;         ///< health: queue (or byte budget) fuller than this is degraded
  /// Memory budget of the queue: the bytes pool_hooks::size_of counts for the jobs waiting in
  /// it (not those in flight). A job that would take them past the budget is shed
  /// (submit_status::memory_limit) by try_submit, and waited for by submit. 0: no budget.
  /// Needs pool_hooks::size_of.
  std::size_t max_queued_bytes = 0;
  /// Adaptive concurrency (scaling.hpp): the pool starts at this many workers and grows up to
  /// `concurrency` while jobs wait in the queue longer than scale_up_after; a worker idle for
  /// scale_down_after retires, never below this. 0: `concurrency` (a fixed pool).
  std::size_t min_concurrency = 0;
  std::chrono::milliseconds scale_up_after{50};      ///< queue wait that adds a worker
  std::chrono::milliseconds scale_down_after{5000};  ///< idleness that retires one; max(): never
};

/// What try_submit / submit did with a job.
enum class submit_status { accepted, queue_full, stopping, circuit_open, memory_limit };

constexpr std::string_view to_string(submit_status s) noexcept {
  switch (s) {
    case submit_status::accepted:
      return "accepted";
    case submit_status::queue_full:
      return "rejected: the queue is full";
    case submit_status::stopping:
      return "rejected: the pool is stopping";
    case submit_status::circuit_open:
      return "rejected: the circuit for this job type is open";
    case submit_status::memory_limit:
      return "rejected: the queued jobs would exceed the pool's memory budget";
  }
  return "?";
}

/// Thrown by a processor for a failure worth another attempt (network hiccup, busy upstream).
/// Any other exception fails the job at once.
class retryable_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A consistent snapshot of a pool's counters: at every moment
///   submitted == processed + failed + in_flight + queue_depth.
struct pool_stats {
  std::size_t workers = 0;  ///< live workers: jobs processed at once, at most (min_concurrency..concurrency)
  std::size_t queue_capacity = 0;
  std::size_t queue_depth = 0;      ///< accepted, not started
  std::uint64_t submitted = 0;      ///< accepted
  std::uint64_t processed = 0;      ///< finished successfully
  std::uint64_t failed = 0;         ///< finished unsuccessfully, after every attempt (dead-lettered)
  std::uint64_t dropped = 0;        ///< rejected at submission (full, memory, stopping, circuit open, store error)
  std::uint64_t timed_out = 0;      ///< attempts cancelled at the job deadline
  std::uint64_t retried = 0;        ///< attempts after the first
  std::uint64_t dead_lettered = 0;  ///< jobs put in the dead-letter queue (== failed)
  std::size_t in_flight = 0;        ///< started, not finished (attempts and backoff waits)
  std::size_t queued_bytes = 0;     ///< pool_hooks::size_of summed over the queued jobs
  std::size_t circuits_open = 0;    ///< job types whose circuit is open or half-open
};

struct health_status {
  bool healthy = true;
  std::vector<std::string> reasons;  ///< why not, when degraded
};

/// What stop() did.
struct stop_report {
  std::size_t drained = 0;        ///< jobs finished while stopping (successfully or not)
  std::size_t cancelled = 0;      ///< jobs in flight at the drain timeout, cancelled (one that
                                  ///< reaches no cancellation point afterwards may still succeed)
  std::size_t dead_lettered = 0;  ///< jobs still queued at the timeout, moved to the dead letters
};

}  // namespace weft
