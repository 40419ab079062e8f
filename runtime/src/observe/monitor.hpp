#pragma once
// weft::detail::monitor: the runtime's one background thread besides the workers.
//
// Time is the runtime's clock (sched.now(): virtual in a sim, where there is no thread and the
// sim's driver calls tick() itself), unless stall_options::clock replaces it for stalls.
//
// Every stall_options::sample_interval it (1) refreshes the coarse clock that task states are
// stamped with, (2) fires due timers if no parked worker is keeping them (every worker busy:
// without this a deadline could wait for a CPU-bound task forever), and (3) samples the workers
// for the stall detector. It sleeps on a condition variable between rounds, until the next
// round or the next timer, whichever comes first. With sample_interval zero there is no
// thread: nothing is sampled, and timers depend on the workers alone.
//
// Thread safety: start/stop from the runtime's controlling thread.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "observe/stall_detector.hpp"

namespace weft::detail {

class monitor {
 public:
  monitor(runtime_core& core, const stall_options& opts, runtime_metrics& m);
  monitor(const monitor&) = delete;
  ~monitor() { stop(); }

  void start();
  /// Stops and joins the thread. Idempotent.
  void stop();
  /// One round (what the thread does each interval).
  void tick();

  stall_detector& stalls() noexcept { return stalls_; }

 private:
  void run();
  std::chrono::steady_clock::time_point stall_now() const;

  runtime_core& core_;
  stall_options opts_;
  stall_detector stalls_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace weft::detail
