#pragma once
// weft::sched::job: the one thing the scheduler knows how to run.

#include <cstdint>

namespace weft::sched {

/// A runnable unit. The scheduler stores `job*` in its queues and never copies or frees a job:
/// whoever creates a job owns its memory (the runtime embeds it in its task records; a posted
/// callable embeds it in its own heap block).
///
/// Thread safety: a job is in at most one queue at a time; the queue that holds it owns `next_`.
/// `run_` is called on a worker thread, once per dispatch.
struct job {
  using run_fn = void (*)(job*) noexcept;
  using discard_fn = void (*)(job*) noexcept;

  /// Runs the job. Called on a worker with the job removed from every queue.
  run_fn run_ = nullptr;
  /// Called instead of `run_` for a job still queued when the scheduler shuts down. Null means
  /// "the owner cleans up by other means" (the runtime destroys its tasks from its task table).
  discard_fn discard_ = nullptr;
  /// Intrusive link used by the injector's list. Owned by the queue holding the job.
  job* next_ = nullptr;
  /// Steady-clock nanoseconds at which the job was made runnable, or 0. Only a sampled subset
  /// of jobs carry a stamp (see worker_stats): it feeds the schedule-delay histogram without a
  /// clock read on every push.
  std::int64_t enqueued_ns_ = 0;
};

}  // namespace weft::sched
