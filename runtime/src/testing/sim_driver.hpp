#pragma once
// weft::detail::sim_driver: runs a sim's logical workers on the calling thread (README.md in
// this folder).
//
//   loop: take every queued job into `ready_` (scheduler::take_queued, a fixed order)
//         ready?   pick one (schedule_policy), bind the thread to the worker that runs it,
//                  run one dispatch (scheduler::run_bound)
//         none?    outside work pending (spawn_blocking)      -> wait for its wake
//                  a timer armed                              -> jump the clock to it, fire
//                  only I/O or other threads could wake a task -> wait (wait_for_outside)
//                  nothing at all                             -> deadlock
//
// It is the core's manual_driver (block_on and shutdown call it) and serves sim::advance.
//
// Thread safety: one driving thread at a time (`drive_mu_`); unwind() from another thread
// while one drives waits for that one to run the unwinding.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <weft/detail/runtime_core.hpp>
#include "testing/schedule.hpp"

namespace weft::detail {

class sim_driver final : public runtime_core::manual_driver {
 public:
  /// `describe`: the tasks and what they wait for, for a deadlock's message.
  sim_driver(runtime_core& core, std::uint64_t seed, std::size_t workers, bool wait_for_outside,
             std::function<std::string()> describe);
  sim_driver(const sim_driver&) = delete;

  std::exception_ptr run_until(const std::atomic<std::uint32_t>& done) override;
  void unwind(std::chrono::nanoseconds grace) override;
  void join() noexcept override;

  /// sim::advance: from outside, runs the sim until `ns` of virtual time have passed; from one
  /// of its tasks, the running dispatch takes `ns`.
  void advance(std::int64_t ns);

  std::uint64_t steps() const noexcept { return steps_.load(std::memory_order_relaxed); }
  const char* schedule() const noexcept { return policy_.kind(); }

 private:
  /// Binds the calling thread for a drive and gives back what it was bound to (it may be a
  /// worker of another runtime, or of another sim, driving us from one of its tasks).
  class drive_scope;
  enum class idle_outcome { progressed, stuck };

  void collect();
  /// Runs one ready job, if any.
  bool step();
  /// Nothing ready: waits for outside work, or moves the clock to the next timer if it is due
  /// by `limit`. `outside`: whether to wait for outside work at all.
  idle_outcome idle(std::int64_t limit, bool outside);
  void move_clock(std::int64_t to);
  void switch_to(std::size_t worker);

  runtime_core& core_;
  sched::scheduler& sched_;
  schedule_policy policy_;
  const bool wait_for_outside_;
  std::function<std::string()> describe_;

  std::mutex drive_mu_;
  std::vector<sched::job*> ready_;  // taken out of the queues, not yet run
  std::vector<std::size_t> home_;   // ready_[i]'s worker (npos: the global queue)
  std::size_t bound_ = 0;           // the worker the driving thread is bound to
  bool sample_after_ = false;       // an in-task advance sampled a running dispatch
  std::atomic<std::uint64_t> steps_{0};
};

}  // namespace weft::detail
