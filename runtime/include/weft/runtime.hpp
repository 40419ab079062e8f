#pragma once
// weft::runtime: the workers, and the entry points from ordinary threads.
//
//   weft::runtime rt;                         // one worker per hardware thread
//   int r = rt.block_on(fib(30));             // runs on the workers, blocks this thread
//
// Shutdown (shutdown() or the destructor), in order:
//   1. stop taking work: spawn and block_on from outside throw runtime_stopped;
//   2. let each worker finish the resume it is running, then stop and join the threads;
//   3. end every task still alive (suspended or queued): destroy its frame, so its locals'
//      destructors run; a thread blocked in block_on gets runtime_stopped;
//   4. release the runtime's memory, except records that join handles held outside still
//      refer to (they are freed when those handles go).
// Shutdown never waits for a sleeping or suspended task; it does wait for a running resume to
// return (C++ cannot stop a thread safely).
//
// Thread safety: spawn, block_on and the observers may be called from any thread; block_on must
// not be called from one of this runtime's own workers (it would deadlock: usage_error).
// shutdown() and the destructor must not run on one of its workers either.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <source_location>
#include <string>
#include <vector>

#include <weft/detail/runtime_core.hpp>
#include <weft/errors.hpp>
#include <weft/spawn.hpp>
#include <weft/stall.hpp>
#include <weft/task.hpp>
#include <weft/task_info.hpp>

namespace weft::metrics {
class registry;
}
namespace weft::detail {
class monitor;
class tracer;
class runtime_metrics;
}

namespace weft {

class executor;  // <weft/asio/executor.hpp>

/// How a runtime is built. A plain aggregate: `weft::runtime rt({.workers = 2});`
struct runtime_options {
  /// Worker threads; 0 means one per hardware thread.
  std::size_t workers = 0;
  /// Names the worker threads and labels the runtime's metrics.
  std::string name = "weft";
  /// Where the runtime registers its metrics; null means it owns a registry (rt.metrics()).
  metrics::registry* registry = nullptr;
  /// The stall detector.
  stall_options stall{};
  /// Called on each worker thread as it starts and as it stops, with the worker's index.
  std::function<void(std::size_t)> on_thread_start;
  std::function<void(std::size_t)> on_thread_stop;
  /// Capacity of each worker's local deque (a power of two; overflow goes to the global queue).
  std::size_t deque_capacity = 1024;
  /// Weft operations a task may complete without suspending before it is sent to the back of
  /// the line (fairness).
  std::uint32_t budget = 128;
  /// Sampled poll-duration and schedule-delay histograms. Off saves a branch per dispatch.
  bool timing_metrics = true;
};

class runtime {
 public:
  explicit runtime(runtime_options opts = {});
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;
  ~runtime();

  /// Runs `t` on the workers and blocks the calling thread until it finishes; returns its value
  /// or rethrows its exception. Throws usage_error on one of this runtime's workers, and
  /// runtime_stopped if the runtime is (or gets) shut down.
  template <class T>
  T block_on(task<T> t, const spawn_options& opts = {},
             std::source_location site = std::source_location::current()) {
    check_block_on();
    auto h = t.release();
    detail::task_record* r = core_->external_record(h, opts.name, site, detail::token_for_spawn(opts, nullptr));
    h.promise().record_ = r;
    detail::thread_waiter tw;
    r->join.store(reinterpret_cast<std::uintptr_t>(&tw) | 1, std::memory_order_relaxed);
    core_->sched.inject(r);
    return wait_and_take<T>(r, tw);
  }

  /// Blocks until the task behind `h` finishes; returns its value or rethrows its exception.
  template <class T>
  T block_on(join_handle<T> h) {
    check_block_on();
    if (!h) throw usage_error("weft: block_on of an empty join_handle");
    detail::task_record* r = h.release_record();
    detail::thread_waiter tw;
    std::uintptr_t expected = detail::join_running;
    if (!r->join.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(&tw) | 1,
                                         std::memory_order_acq_rel, std::memory_order_acquire))
      tw.done.store(expected == detail::join_done ? 1 : 2, std::memory_order_relaxed);
    return wait_and_take<T>(r, tw);
  }

  /// Spawns `t` from any thread. On one of this runtime's workers it behaves as weft::spawn;
  /// elsewhere the task goes to the global queue. Throws runtime_stopped after shutdown.
  template <class T>
  join_handle<T> spawn(task<T> t, const spawn_options& opts = {},
                       std::source_location site = std::source_location::current()) {
    if (core_->sched.on_worker()) return weft::spawn(std::move(t), opts, site);
    if (core_->stopped.load(std::memory_order_acquire)) throw runtime_stopped();
    auto h = t.release();
    detail::task_record* r = core_->external_record(h, opts.name, site, detail::token_for_spawn(opts, nullptr));
    h.promise().record_ = r;
    core_->sched.inject(r);
    return join_handle<T>(r);
  }

  /// Stops the runtime (see the steps above). Idempotent.
  void shutdown();

  /// Number of workers.
  std::size_t workers() const noexcept { return core_->sched.size(); }
  const std::string& name() const noexcept { return name_; }
  /// The registry holding the runtime's metrics (its own, or runtime_options::registry).
  metrics::registry& metrics() noexcept { return *registry_; }
  /// Every live task: running, queued or suspended. See task_info.
  std::vector<task_info> dump_tasks() const;
  /// The runtime as a Boost.Asio executor: include <weft/asio/executor.hpp> (or <weft/asio.hpp>)
  /// to call it. The first call starts the runtime's reactor thread. Throws runtime_stopped
  /// after shutdown.
  executor get_executor() const;

  /// The scheduler underneath (for tests and tools).
  sched::scheduler& scheduler() noexcept { return core_->sched; }
  /// Zombie workers right now (stuck past stall_options::replace_after).
  std::size_t zombie_workers() const;
  /// Stalls detected since the runtime started (weft_stalls_total).
  std::uint64_t stalls_detected() const;

  /// Used by weft::trace: turns recording on (usage_error if a trace is already on) and off.
  detail::tracer* start_trace();
  void stop_trace(detail::tracer* t);

 private:
  void check_block_on() const;
  /// Waits for `tw` and takes the result from `r`; frees both.
  template <class T>
  T wait_and_take(detail::task_record* r, detail::thread_waiter& tw) {
    std::uint32_t v = wait(tw);
    if (v == 2) {
      core_->free_record(r);  // shutdown destroyed the frame
      throw runtime_stopped("weft: the runtime shut down before the task finished");
    }
    auto h = std::coroutine_handle<detail::promise<T>>::from_address(r->root.address());
    struct release_guard {
      detail::runtime_core* core;
      detail::task_record* r;
      ~release_guard() {
        r->root.destroy();
        core->free_record(r);
      }
    } guard{core_, r};
    return h.promise().take();
  }
  static std::uint32_t wait(detail::thread_waiter& tw) noexcept;

  std::string name_;
  std::unique_ptr<metrics::registry> own_registry_;
  metrics::registry* registry_;
  std::unique_ptr<detail::runtime_metrics> metrics_;
  detail::runtime_core* core_;
  std::unique_ptr<detail::monitor> monitor_;
  std::vector<std::unique_ptr<detail::tracer>> tracers_;  // kept: a worker may still be writing
  bool shut_down_ = false;
};

}  // namespace weft
