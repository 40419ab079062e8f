#include "observe/monitor.hpp"

#include <climits>

#include <pthread.h>

#include <weft/detail/runtime_core.hpp>

namespace weft::detail {

monitor::monitor(runtime_core& core, const stall_options& opts, runtime_metrics& m)
    : core_(core), opts_(opts), stalls_(core, opts, m) {}

void monitor::start() {
  if (opts_.sample_interval <= std::chrono::milliseconds::zero() || thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void monitor::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::chrono::steady_clock::time_point monitor::stall_now() const { return stall_clock(core_, opts_); }

void monitor::tick() {
  core_.sched.refresh_coarse_now();
  const std::int64_t now = core_.sched.now();
  // Only when every worker is inside a job: a worker between jobs (or just woken from keeping
  // the timers) fires them itself, and firing them here too would queue some of the tasks
  // they wake on the global queue, behind later ones queued locally: out of deadline order.
  if (!core_.sched.has_timer_keeper() && core_.sched.next_timer_ns() <= now && core_.sched.all_workers_busy())
    core_.sched.fire_due_timers(now);
  // A reactor per worker: one whose worker is inside a long job is polled by another worker.
  core_.sched.check_drivers();
  stalls_.sample(stall_now());
}

void monitor::run() {
  pthread_setname_np(pthread_self(), "weft-monitor");
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    tick();
    lock.lock();
    auto wake = std::chrono::steady_clock::now() + opts_.sample_interval;
    // Sooner if a timer is due before then and no worker keeps the timers. (One already due
    // that tick() left to the workers: the next round comes soon enough.)
    std::int64_t next = core_.sched.next_timer_ns();
    if (next != INT64_MAX && !core_.sched.has_timer_keeper()) {
      auto at = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(next));
      if (at > std::chrono::steady_clock::now() && at < wake) wake = at;
    }
    cv_.wait_until(lock, wake, [&] { return stop_; });
  }
}

}  // namespace weft::detail
