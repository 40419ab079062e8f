#pragma once
// weft::sched::scheduler: a fixed set of workers, the global injector, the idle set and the
// timers. It runs jobs; it knows nothing of what a job computes.
//
//            spawn/wake/yield (on a worker)          schedule (off the workers)
//                     |                                       |
//   [worker 0: lifo | deque | yield q]  <-steal->  [worker 1: ...]      [injector]
//                     \______________ park / notify (idle_set) ______________/
//                                          |
//                              [timers: wheel under a mutex; one parked worker keeps them]
//
// Shutdown (stop()): 1. set the stop flag; 2. wake every worker; 3. each worker finishes the
// job it is running and leaves its loop; 4. join the threads; 5. close the injector. Jobs still
// queued stay where they are until drain() hands them to their owner (the runtime destroys its
// tasks itself); a job scheduled from another thread after that is refused and discarded
// (job::discard_), never left in a queue.
//
// Time: every reading the scheduler and the runtime above it take for timers, deadlines and
// task-state stamps comes from now(): the steady clock, or, in manual mode, a virtual clock.
//
// Manual mode (options::manual, for weft::testing::sim): start() starts no thread. A controlling
// thread binds itself to a worker (bind), takes every queued job out of the queues
// (take_queued), runs the one it chooses as a dispatch of the bound worker (run_bound), moves
// the virtual clock (set_virtual_now, then fire_due_timers), and, when nothing is queued,
// waits for work from other threads (wait_for_work). The push paths are the same as with
// threads: a task cannot tell the modes apart, and a threaded scheduler pays nothing for it.
//
// Thread safety: schedule(), add_timer(), cancel_timer() and the observers may be called from
// any thread. start(), stop() and drain() from one controlling thread, never from a worker; the
// manual-mode members from the one controlling thread (wake_controller() from any).

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <weft/sched/idle.hpp>
#include <weft/sched/injector.hpp>
#include <weft/sched/job.hpp>
#include <weft/sched/options.hpp>
#include <weft/sched/park_driver.hpp>
#include <weft/sched/parker.hpp>
#include <weft/sched/steal_gate.hpp>
#include <weft/sched/timer_wheel.hpp>
#include <weft/sched/worker.hpp>

namespace weft::sched {

/// What add_timer() did with an entry.
enum class timer_result {
  armed,      ///< in the wheel; `fire` will be called once, when due, unless cancelled first
  due,        ///< already due: not armed, `fire` not called; the caller proceeds at once
  cancelled,  ///< the cancel flag was set: not armed, `fire` not called
};

/// A scheduler's clock as a value that may outlive the scheduler (a job pool may outlive its
/// runtime): the steady clock, or a manual scheduler's virtual clock (at its last reading once
/// the scheduler is gone). Cheap to copy; any thread.
class clock_ref {
 public:
  clock_ref() = default;
  explicit clock_ref(std::shared_ptr<const std::atomic<std::int64_t>> v) noexcept : v_(std::move(v)) {}
  std::int64_t now() const noexcept { return v_ ? v_->load(std::memory_order_relaxed) : now_ns(); }

 private:
  std::shared_ptr<const std::atomic<std::int64_t>> v_;  // null: the steady clock
};

/// Where a job scheduled from a worker of the same scheduler goes.
enum class hint {
  spawn,  ///< bottom of the local deque (depth-first)
  wake,   ///< the LIFO slot: runs as soon as the current task lets go
  fifo,   ///< the back of the line (yields, timer wake-ups: first come, first served)
};

class scheduler {
 public:
  explicit scheduler(options opts);
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;
  /// Stops (if still running) and joins the workers.
  ~scheduler();

  /// Starts the worker threads. Called once.
  void start();
  /// Stops the workers after the jobs they are running return; joins them. Idempotent.
  /// Must not be called from a worker (it would join itself).
  void stop();
  bool stopping() const noexcept { return stop_.load(std::memory_order_acquire); }

  /// Makes `j` runnable. On one of this scheduler's workers it follows `h`; anywhere else it goes
  /// to the injector and a sleeping worker is woken.
  void schedule(job* j, hint h = hint::spawn) noexcept;
  /// Makes `j` runnable through the injector, whatever the calling thread.
  void inject(job* j) noexcept;

  /// Arms `e` unless it is already due or `*cancel_flag` (when given) is non-zero. The flag is
  /// read under the wheel's lock, the same lock cancel_timer() takes, so a canceller that sets
  /// the flag and then calls cancel_timer() can never miss an entry armed concurrently.
  timer_result add_timer(timer_entry* e, const std::atomic<std::uint32_t>* cancel_flag = nullptr) noexcept;
  /// Disarms `e`. Returns false if it was not armed (already fired, firing, or never added).
  bool cancel_timer(timer_entry* e) noexcept;
  /// Fires every due timer (called by workers; exposed for tests).
  std::size_t fire_due_timers(std::int64_t now) noexcept;
  std::size_t pending_timers() const;
  /// Steady-clock nanoseconds of the next armed timer (INT64_MAX: none).
  std::int64_t next_timer_ns() const noexcept { return next_timer_ns_.load(std::memory_order_relaxed); }
  /// Whether a parked worker is sleeping until the next timer. When none is (every worker busy),
  /// someone else must fire due timers: the runtime's monitor does.
  bool has_timer_keeper() const noexcept { return timer_keeper_.load(std::memory_order_relaxed) >= 0; }
  /// Disarms every timer without firing it (shutdown, after stop()). Returns how many.
  std::size_t clear_timers() noexcept;

  /// Installs `d` as what idle workers wait in and busy workers poll (park_driver.hpp): the
  /// shared driver (`worker` npos), which any worker takes, or worker `worker`'s own (a reactor
  /// per worker), which that worker waits in and polls instead. A worker with a driver of its
  /// own never takes the shared one; one without (a replacement) takes only the shared one.
  void set_park_driver(park_driver* d, std::size_t worker = npos) noexcept;
  /// Removes `d` if it is the one installed there, and waits until nobody holds it.
  void remove_park_driver(park_driver* d, std::size_t worker = npos) noexcept;
  /// The shared driver, taken by the calling thread if it is free (null otherwise): one holder
  /// at a time. Give it back with release_driver().
  park_driver* try_take_driver() noexcept { return try_take_slot(0); }
  void release_driver() noexcept { release_slot(0); }
  /// Own drivers left unattended (the stall monitor, every sample; one thread). A worker's own
  /// driver that nobody held at any point since the previous call and that nobody holds now
  /// was neither waited in nor polled meanwhile: its worker is inside a long job, and the I/O
  /// of its sockets waits. Asks the other workers to poll it (an idle one is woken for it; a
  /// busy one does it at its next maintenance tick), and returns how many it found.
  std::size_t check_drivers() noexcept;

  /// True if the calling thread is one of this scheduler's workers.
  bool on_worker() const noexcept {
    worker* w = this_worker();
    return w && &w->owner() == this;
  }

  /// The configured number of workers.
  std::size_t size() const noexcept { return base_workers_; }
  /// Worker slots, replacement slots included (at() accepts any index below this).
  std::size_t slots() const noexcept { return workers_.size(); }
  /// Workers with a running thread (replacements included).
  std::size_t active_workers() const noexcept;
  /// Whether every worker with a running thread is inside a job right now (none about to look
  /// at the timers itself).
  bool all_workers_busy() const noexcept;

  /// Starts a worker in a free replacement slot (capacity for a worker that is stuck). Returns
  /// its index, or nothing when every replacement slot is in use or the scheduler is stopping.
  /// Call from one controlling thread (the runtime's monitor).
  std::optional<std::size_t> start_replacement();
  /// Asks one running replacement to retire: it hands its queued jobs to the injector and its
  /// thread ends. Returns false if none runs.
  bool retire_replacement();
  /// Moves the job in worker `i`'s LIFO slot to the injector, so that other workers can run it
  /// while `i` is stuck. Returns whether there was one. Costs a membarrier: the slot's owner
  /// uses plain loads and stores (worker.hpp, "the LIFO slot"). Any thread.
  bool rescue_lifo(std::size_t i) noexcept;
  worker& at(std::size_t i) noexcept { return *workers_[i]; }
  const worker& at(std::size_t i) const noexcept { return *workers_[i]; }
  std::size_t injector_depth() const noexcept { return injector_.size(); }
  const options& opts() const noexcept { return opts_; }
  std::size_t num_searching() const noexcept { return idle_.num_searching(); }
  std::size_t num_unparked() const noexcept { return idle_.num_unparked(); }

  /// The scheduler's clock, in steady-clock nanoseconds: the steady clock (now_ns()), or in
  /// manual mode the virtual clock, which only set_virtual_now() moves. Any thread.
  std::int64_t now() const noexcept {
    // relaxed: the virtual clock is written by the controlling thread, which is also the only
    // one running tasks; other threads (metrics, a blocking call) read a recent value.
    return manual_ ? virtual_ns_->load(std::memory_order_relaxed) : now_ns();
  }
  /// now() as a value that outlives the scheduler.
  clock_ref clock() const noexcept { return clock_ref(virtual_ns_); }
  /// Whether this scheduler runs in manual mode (options::manual).
  bool manual() const noexcept { return manual_; }

  /// A reading of now() refreshed by the workers at each maintenance tick and wake-up, and by
  /// refresh_coarse_now() (in manual mode, whenever the virtual clock moves): a timestamp for
  /// bookkeeping that costs one load.
  std::int64_t coarse_now_ns() const noexcept { return coarse_ns_.load(std::memory_order_relaxed); }
  void refresh_coarse_now() noexcept { coarse_ns_.store(now(), std::memory_order_relaxed); }

  // ---- Manual mode (options::manual; see the top). The controlling thread only. ----

  /// What bind() replaced on the calling thread; unbind() puts it back.
  struct binding {
    worker* w = nullptr;
    frame_cache* frames = nullptr;
  };
  /// Makes the calling thread worker `i` (this_worker(), its frame cache) until unbind(). The
  /// first bind of a worker starts it: it counts as active and options::on_thread_start runs.
  binding bind(std::size_t i);
  void unbind(binding previous) noexcept;
  /// Runs `j` as one dispatch of the bound worker (its budget, stats and current job).
  void run_bound(job* j) noexcept;
  /// Takes every queued job out of the queues, calling `f(job*, home)`, where `home` is the
  /// index of the worker whose queues held it, or `npos` for the injector. A fixed order:
  /// worker by worker (LIFO slot, deque newest first, yield queue oldest first), then the
  /// injector oldest first.
  template <class F>
  void take_queued(F&& f);
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  /// Sets the virtual clock (never backwards) and the coarse clock with it. Due timers are
  /// not fired: call fire_due_timers(now()).
  void set_virtual_now(std::int64_t ns) noexcept;
  /// Blocks until a job is injected from another thread, an event of the park driver queues
  /// one, the scheduler stops, or wake_controller() is called. Returns at once if the injector
  /// holds a job. Call with the thread bound.
  void wait_for_work() noexcept;
  /// Wakes the controlling thread from wait_for_work(), or makes its next one return at once.
  /// Any thread.
  void wake_controller() noexcept;
  /// After stop(), once no thread runs the workers: ends each worker that ever ran (its
  /// on_thread_stop hook, run on the calling thread, bound to it for the call).
  void end_manual_workers() noexcept;

  /// After stop(): hands every job still queued to `f`, emptying the queues.
  template <class F>
  void drain(F&& f) {
    take_queued([&](job* j, std::size_t) { f(j); });
  }

 private:
  friend class worker;

  /// Wakes one sleeping worker if a push should (idle_set); returns whether it woke one.
  bool notify_one() noexcept;
  /// Puts `j` on the injector, or disposes of it (its `discard_`) once the injector is closed;
  /// false then. Wakes nobody.
  bool push_global(job* j) noexcept;

  options opts_;
  const bool manual_;
  std::size_t base_workers_;
  std::vector<std::unique_ptr<worker>> workers_;
  injector injector_;
  std::mutex rescue_mu_;  // rescue_lifo: one rescuer at a time
  idle_set idle_;
  // Every thief of a worker's local deque passes it: the owners' pops fence only meanwhile.
  steal_gate steal_gate_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> started_{false};
  std::atomic<std::int64_t> coarse_ns_{now_ns()};
  // Manual mode's virtual clock (null otherwise), shared with the clock_refs handed out.
  std::shared_ptr<std::atomic<std::int64_t>> virtual_ns_ =
      manual_ ? std::make_shared<std::atomic<std::int64_t>>(coarse_ns_.load(std::memory_order_relaxed)) : nullptr;

  // Timers. next_timer_ns_ mirrors the wheel's next wake-up for lock-free checks (INT64_MAX
  // when empty); timer_keeper_ is the parked worker sleeping until then (-1: none).
  mutable std::mutex timer_mu_;
  timer_wheel wheel_;
  std::atomic<std::int64_t> next_timer_ns_;
  std::atomic<int> timer_keeper_{-1};

  // The park drivers and their one holder each: slot 0 is the shared driver, slot 1 + i worker
  // i's own. `turns` counts the holds let go (the holder's alone to write), `seen` is the value
  // check_drivers() saw last (the monitor's alone).
  struct alignas(64) driver_slot {
    std::atomic<park_driver*> d{nullptr};
    std::atomic<bool> held{false};
    std::atomic<std::uint64_t> turns{0};
    std::uint64_t seen = 0;
  };
  std::unique_ptr<driver_slot[]> drivers_;
  // Set by check_drivers(): some worker's own driver went unattended; the next worker to look
  // polls every other worker's free driver once (worker::rescue_drivers).
  std::atomic<bool> rescue_{false};

  std::size_t slot_of(std::size_t worker) const noexcept { return worker == npos ? 0 : 1 + worker; }
  park_driver* try_take_slot(std::size_t slot) noexcept;
  void release_slot(std::size_t slot) noexcept {
    driver_slot& s = drivers_[slot];
    s.turns.store(s.turns.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    s.held.store(false, std::memory_order_release);
  }
};

}  // namespace weft::sched

namespace weft::sched {

inline bool worker::idle_should_wakeup() const noexcept { return sched_->idle_.notify_should_wakeup(); }
inline job* worker::pop_local() noexcept { return local_.pop(sched_->steal_gate_); }

template <class F>
void scheduler::take_queued(F&& f) {
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    worker& w = *workers_[i];
    if (job* j = w.lifo_.exchange(nullptr, std::memory_order_acq_rel)) f(j, i);
    while (job* j = w.local_.pop()) f(j, i);
    // The yield queue is FIFO: its owner takes from the top, as a thief does.
    while (job* j = deque::stealer(w.yield_).steal()) f(j, i);
  }
  while (job* j = injector_.pop()) f(j, npos);
}

/// The clock of the scheduler whose worker the calling thread is (scheduler::now(): virtual in
/// manual mode), or the steady clock off the workers. What deadlines computed inside tasks read.
inline std::int64_t clock_now() noexcept {
  worker* w = this_worker();
  return w ? w->owner().now() : now_ns();
}

}  // namespace weft::sched
