#pragma once
// weft::sched::worker: one thread, its queues, and its loop.
//
//   dispatch order, each tick:
//     every `global_queue_interval` ticks: timers, the global injector, its own yield queue
//     1. the LIFO slot      (task woken by the previous one; at most max_lifo_polls in a row
//                            while other work waits here)
//     2. the local deque    (LIFO: spawns, depth-first)
//     3. the yield queue    (FIFO: yields and budget-exhausted tasks)
//     4. the injector       (a batch, moved into the local deque)
//     5. search: steal about half of a random victim's deque, or its yield queue
//     6. park (futex), with a deadline when it keeps the timers
//
// The owner-only members are called from tasks running on this worker (spawn, wake, yield);
// they take no lock and, apart from the deque's one fence in pop(), no locked instruction.
//
// Thread safety: members marked "owner" only from this worker's thread; the rest from any.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <thread>

#include <weft/sched/barrier.hpp>
#include <weft/sched/cold_call.hpp>
#include <weft/sched/deque.hpp>
#include <weft/sched/frame_allocator.hpp>
#include <weft/sched/job.hpp>
#include <weft/sched/parker.hpp>
#include <weft/sched/worker_stats.hpp>

namespace weft::sched {

class scheduler;
class worker;

namespace detail {
[[gnu::tls_model("initial-exec")]] extern constinit thread_local worker* tls_worker;
}  // namespace detail

/// The worker running the calling thread, or null off the workers.
inline worker* this_worker() noexcept { return detail::tls_worker; }

class worker {
 public:
  worker(scheduler& s, std::size_t index);
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  std::size_t index() const noexcept { return index_; }
  scheduler& owner() const noexcept { return *sched_; }

  /// Owner: takes the LIFO slot's job (null if empty). The loop does; so may a test.
  job* lifo_take() noexcept {
    job* j = lifo_.load(std::memory_order_relaxed);
    if (j) lifo_.store(nullptr, std::memory_order_relaxed);
    light_barrier();
    if (rescue_epoch_.load(std::memory_order_relaxed) != lifo_seen_) [[unlikely]]
      return lifo_settle(j);
    return j;
  }
  /// Owner: puts `j` in the slot; returns the job it displaced (null if none).
  job* lifo_put(job* j) noexcept {
    job* prev = lifo_.load(std::memory_order_relaxed);
    // release: the rescuer's CAS (acquire) may take `j` and hand it to another worker.
    lifo_.store(j, std::memory_order_release);
    light_barrier();
    if (rescue_epoch_.load(std::memory_order_relaxed) != lifo_seen_) [[unlikely]]
      return lifo_settle(prev);
    return prev;
  }
  /// Owner: pushes a newly spawned job at the bottom of the local deque (runs next, LIFO).
  [[gnu::always_inline]] void push(job* j) noexcept {
    stamp(j);
    stats_.spawned.inc();
    if (!local_.push(j)) [[unlikely]]
      WEFT_COLD_NAME(overflow_cold)(this, j);
    notify_if_idle();
  }
  /// Owner: pushes a fork_scope's continuation (its child runs at once): counted as a spawn, as
  /// the child it stands for; no schedule-delay stamp (the owner pops it back without a dispatch).
  [[gnu::always_inline]] void push_continuation(job* j) noexcept {
    stats_.spawned.inc();
    if (!local_.push(j)) [[unlikely]]
      WEFT_COLD_NAME(overflow_cold)(this, j);
    notify_if_idle();
  }
  /// Owner: push() of `job_at(0)`, ..., `job_at(n - 1)` (n >= 1; the last one runs next), with
  /// one publication and one check for idle workers for them all (weft::fork's children).
  template <class F>
  [[gnu::always_inline]] void push_n(std::uint32_t n, F&& job_at) noexcept {
    // As stamp() for each: the push the countdown reaches zero at carries a stamp (one per
    // batch at most: it samples).
    if (until_stamp_ >= n) [[likely]] {
      until_stamp_ -= n;
    } else {
      stamp_slow(job_at(until_stamp_), n - 1 - until_stamp_);
    }
    stats_.spawned.inc(n);
    if (!local_.push_n(n, job_at)) [[unlikely]]
      push_n_overflow(n, job_at);
    notify_if_idle();
  }
  /// push_n() found no room for all: the first ones go to the global queue, so that the last
  /// ones (run first, from the bottom) stay here in their order.
  template <class F>
  [[gnu::noinline, gnu::cold]] void push_n_overflow(std::uint32_t n, F& job_at) noexcept {
    for (std::uint32_t i = 0; i < n; ++i) {
      if (local_.push_n(n - i, [&](std::uint32_t k) { return job_at(i + k); })) return;
      overflow(job_at(i));
    }
  }

  /// Owner: puts a job woken by the running task in the LIFO slot; the previous occupant moves
  /// to the deque.
  void push_wake(job* j) noexcept;

  /// Owner: sends a job to the back of the line (yield, exhausted budget).
  void push_yield(job* j) noexcept;
  /// Owner: the running job `j` goes to the back of the line (it yields). The worker stops
  /// naming it as its current job first: a thief may run it at once, and the stall sampler
  /// must not count this worker's way back to its loop against it.
  void requeue_current(job* j) noexcept {
    switch_current(nullptr);
    push_yield(j);
  }

  /// Owner: pops the most recent job of the local deque (a joiner looking for its child, or a
  /// sibling to run while it waits), or null.
  job* pop_local() noexcept;  // scheduler.hpp: the scheduler's steal_gate
  /// Owner, from a task that has just suspended: takes the job in the LIFO slot (the task it
  /// woke last, usually) when it is of the kind `kind` and the loop would run it next anyway,
  /// and counts it as a dispatch (stall sampler, budget, fairness tick), so that the caller can
  /// resume it at once by symmetric transfer. Null when the loop should choose: its fairness
  /// round is due, the slot has had its turns while other work waits, the job carries a
  /// schedule-delay stamp, or the scheduler is in manual mode (its controller picks every job).
  job* take_lifo_for_transfer(job::run_fn kind) noexcept;
  /// Owner: puts back a job just taken with pop_local() (its slot is free: cannot fail).
  void push_back_local(job* j) noexcept { local_.push(j); }

  /// Owner: spends one unit of the running task's budget. False when exhausted: the caller
  /// should suspend and requeue_current() itself.
  bool consume_budget() noexcept {
    if (budget_ == 0) return false;
    --budget_;
    return true;
  }
  void note_budget_yield() noexcept { stats_.budget_yields.inc(); }

  /// Owner: the running task handed the thread to `j` by symmetric transfer (an inline join,
  /// or a completion resuming its joiner). Keeps the stall sampler's view right.
  void switch_current(job* j) noexcept { current_.store(j, std::memory_order_release); }

  /// Any thread: the job being run now (null when idle), and a counter bumped at each dispatch.
  /// The stall sampler reads both: the same non-null job and the same count on two samples
  /// means one dispatch has been running for at least the time between them.
  job* current() const noexcept { return current_.load(std::memory_order_acquire); }
  std::uint64_t dispatch_count() const noexcept { return dispatches_.load(std::memory_order_relaxed); }

  std::size_t local_depth() const noexcept {
    return local_.size_approx() + yield_.size_approx() + (lifo_.load(std::memory_order_relaxed) ? 1 : 0);
  }
  const worker_stats& stats() const noexcept { return stats_; }
  std::thread::id thread_id() const noexcept { return thread_id_.load(std::memory_order_acquire); }
  /// The worker thread's pthread handle (0 before it started), e.g. to signal it for a
  /// backtrace.
  unsigned long native_thread() const noexcept { return native_.load(std::memory_order_acquire); }
  /// True for a replacement slot's worker.
  bool is_replacement() const noexcept { return replacement_; }
  /// True while its thread runs the loop.
  bool active() const noexcept { return active_.load(std::memory_order_acquire); }

 private:
  friend class scheduler;

  void run();
  void leave_for_retirement() noexcept;
  job* find_work();
  job* take_injector();
  job* search();
  void stop_searching();
  void leave_gate() noexcept;
  /// Polls the park driver if nobody holds it (its events run here).
  void poll_driver() noexcept;
  /// Takes this worker's own park driver if it has one and it is free, else the shared one if
  /// free; `slot` names what it took, for release_slot(). Null: none (free).
  park_driver* take_driver(std::size_t& slot) noexcept;
  /// Whether this worker has a park driver of its own (a reactor per worker).
  bool has_own_driver() const noexcept;
  /// Polls every other worker's own driver that is free, once (scheduler::check_drivers found
  /// one unattended).
  [[gnu::cold]] void rescue_drivers() noexcept;
  /// Before parking: looks for work for options::idle_spin_ns. True if some is in sight (or
  /// the worker must stop): do not park.
  bool spin_for_work() noexcept;
  void park();
  bool work_visible() const noexcept;
  void execute(job* j) noexcept;
  void maintenance() noexcept;
  void overflow(job* j) noexcept;
  void notify_if_idle() noexcept {
    // One test for the two uncommon cases (the two flags share a 16-bit word): inside the park
    // driver, or fences without membarrier.
    if (in_driver_ | symmetric_fences_) [[unlikely]]
      return WEFT_COLD_NAME(notify_if_idle_cold)(this);
    std::atomic_signal_fence(std::memory_order_seq_cst);  // light_barrier() with membarrier
    if (idle_should_wakeup()) [[unlikely]]
      WEFT_COLD_NAME(notify_cold)(this);
  }
  WEFT_COLD_CALL static void WEFT_COLD_NAME(notify_if_idle_cold)(worker* w) noexcept {
    // Inside the park driver this worker is counted asleep, yet it runs what its events wake as
    // soon as it leaves: nobody else is woken for that (after_driver() spreads any surplus).
    if (w->in_driver_) return;
    std::atomic_thread_fence(std::memory_order_seq_cst);  // light_barrier() without membarrier
    if (w->idle_should_wakeup()) w->notify_slow();
  }
  // The cold calls of the inline push paths, leaving the pusher's registers alone (cold_call.hpp).
  WEFT_COLD_CALL static void WEFT_COLD_NAME(overflow_cold)(worker* w, job* j) noexcept { w->overflow(j); }
  WEFT_COLD_CALL static void WEFT_COLD_NAME(notify_cold)(worker* w) noexcept { w->notify_slow(); }
  WEFT_COLD_CALL static void WEFT_COLD_NAME(stamp_cold)(worker* w, job* j) noexcept { w->stamp_slow(j, 0); }
  /// Back from the park driver: if its events queued more than the next job, wake a helper.
  void after_driver() noexcept;
  bool idle_should_wakeup() const noexcept;
  void notify_slow() noexcept;
  /// One push in sample_mask_ + 1 gives its job a schedule-delay stamp (when that histogram is
  /// on): a countdown, so that a push costs one decrement and one test.
  void stamp(job* j) noexcept {
    if (until_stamp_-- == 0) [[unlikely]]
      WEFT_COLD_NAME(stamp_cold)(this, j);
  }
  /// The countdown reached zero at `j`, and `later` pushes followed it: stamps `j` and starts
  /// the next countdown, less those.
  void stamp_slow(job* j, std::uint32_t later) noexcept {
    if (sample_delay_) j->enqueued_ns_ = now_ns();
    until_stamp_ = later <= sample_mask_ ? sample_mask_ - later : 0;
  }
  std::uint64_t next_random() noexcept;

  scheduler* sched_;
  std::size_t index_;
  std::uint32_t sample_mask_;
  bool sample_delay_;

  // Owner-private state.
  std::uint32_t until_fair_ = 1;  // dispatches until the next fairness round (global_queue_interval)
  std::uint32_t budget_ = 0;
  std::uint32_t lifo_polls_ = 0;
  std::uint32_t until_stamp_;  // pushes until the next schedule-delay stamp (stamp())
  std::uint64_t rng_;
  bool searching_ = false;
  bool in_gate_ = false;    // inside the scheduler's steal_gate: may steal from local deques
  bool in_driver_ = false;  // waiting in, or polling, the park driver
  /// No membarrier on this system: light_barrier() is a full fence (read once, at construction).
  const bool symmetric_fences_;
  std::size_t own_slot_;  // the scheduler's driver slot of this worker's own driver (0: none)

  // ---- the LIFO slot ----
  //
  // Not stealable: a woken task should run right here, next. Its one other user is the stall
  // detector, which takes the job out of a stuck worker's slot (scheduler::rescue_lifo). The
  // owner puts and takes with plain loads and stores, twice per wake, so a wake costs no locked
  // instruction; the rare rescuer pays for both sides, as in barrier.hpp:
  //
  //   owner (lifo_take, lifo_put)             rescuer (rescue_lifo)
  //     held = slot; slot = new (or null)       epoch = odd
  //     light_barrier()                         heavy_barrier()
  //     if epoch != seen: settle(held)          CAS(slot: job -> null); rescued = job
  //                                             epoch = even
  //
  // The danger is a job owned twice: the rescuer's CAS lands between the owner's load of `held`
  // and its store. Then the CAS came after the heavy barrier, so the owner's store came after it
  // too, and so did its load of the epoch: it sees the rescue (odd, or changed since the owner's
  // last look) and settles: waits for the rescue to end, and drops `held` if that is what the
  // rescue took. Had the owner's store come before the barrier, the CAS would have seen it and
  // failed. Every owner operation checks the epoch, even one that found the slot empty, so each
  // rescue is settled by the owner's first operation after it: a `rescued` left over can never
  // match a job that came back to the slot later (it came back through an operation that
  // settled). The rescuer skips a worker whose last rescue is not settled yet: the owner has not
  // touched its slot since, so the slot is empty.
  alignas(64) std::atomic<job*> lifo_{nullptr};
  std::atomic<std::uint32_t> rescue_epoch_{0};  // odd while a rescue runs
  std::atomic<job*> rescued_{nullptr};          // what the last rescue took, until settled
  std::uint32_t lifo_seen_ = 0;                 // owner: the epoch of the last rescue settled
  /// Owner: a rescue ran since the last look; returns `held` unless that rescue took it.
  job* lifo_settle(job* held) noexcept;

  deque local_;
  deque yield_;

  alignas(64) std::atomic<job*> current_{nullptr};
  std::atomic<std::uint64_t> dispatches_{0};
  std::atomic<std::thread::id> thread_id_{};
  std::atomic<unsigned long> native_{0};
  std::atomic<bool> active_{false};
  std::atomic<bool> retire_{false};  // set by retire_replacement(); the worker leaves its loop
  bool replacement_ = false;

  parker parker_;
  frame_cache frames_;
  worker_stats stats_;
  std::thread thread_;
};

}  // namespace weft::sched
