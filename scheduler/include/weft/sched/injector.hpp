#pragma once
// weft::sched::injector: the global queue for work that comes from outside the workers (spawns
// from plain threads, wakes from timers or I/O threads) and for local deques that overflow.
//
// Algorithm: two lists. Pushers never lock: they push on `inbox_`, a lock-free stack (a Treiber
// push: link, then compare-exchange the top). Workers pop under `mu_` from `out_`, a FIFO list
// that a popper refills, when it is empty, by taking the whole inbox at once and reversing it.
// A thread outside the workers that spawns in a loop therefore never waits for a worker that
// takes a batch (with one mutex for both sides, `rt.spawn` from one thread and a worker taking
// the jobs slept on each other in the kernel: bench/runtime's `external`), and the workers'
// frequent "anything there?" check reads one shared word, the length, and takes no lock.
//
// Why it is correct:
// - No ABA: only push compare-exchanges the top, and the only way to take from the inbox is all
//   of it at once. A push that links `j->next_ = top` and then finds the top still equal to
//   `top` has linked to the right job, whatever happened in between: every job below the top
//   was linked when it was pushed and nobody relinks a job while it is in the inbox.
// - Order: a refill happens only when `out_` is empty, so everything in `out_` is older than
//   everything in the inbox; reversing the inbox puts each producer's jobs back in its order.
// - Visibility: every push is a release read-modify-write of the top, so the refill's acquire
//   (the compare-exchange that takes the list) sees every job of the list it took, fully
//   written.
// - The length is counted up *before* the push and down after a pop, so it is never below the
//   number of jobs a popper can find (it never wraps), and a job is counted before a worker can
//   see it: the parking protocol (a pusher's light_barrier, then it reads the idle state; a
//   parking worker's heavy_barrier, then it reads the length) still sees every job or its
//   pusher sees the sleeper. A reader may see the count a moment before the job: it looks, finds
//   nothing, and looks again later. (A pusher preempted between the two makes idle workers look
//   until it runs again, rather than park: a cost in a rare window, never a lost job.)
//
// Closing: once the scheduler has stopped its workers it closes the injector: the top becomes a
// mark that every later push sees and refuses (the pusher disposes of the job), and what was
// queued moves to `out_`, for pop(). So no job is left in a queue nobody drains.
//
// Thread safety: every member may be called from any thread.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include <weft/sched/job.hpp>

namespace weft::sched {

class injector {
 public:
  injector() = default;
  injector(const injector&) = delete;
  injector& operator=(const injector&) = delete;

  /// Appends `j`; false (leaving it alone) once closed. Never allocates (the link lives in the
  /// job) and never locks.
  [[nodiscard]] bool push(job* j) noexcept {
    // relaxed: a count, not a publication (the compare-exchange below publishes the job).
    len_.fetch_add(1, std::memory_order_relaxed);
    job* top = inbox_.load(std::memory_order_relaxed);
    do {
      if (top == closed_mark()) {
        len_.fetch_sub(1, std::memory_order_relaxed);
        return false;
      }
      j->next_ = top;
      // release: publishes the job (and its link) to the refill that takes the list.
    } while (!inbox_.compare_exchange_weak(top, j, std::memory_order_release, std::memory_order_relaxed));
    return true;
  }

  /// Refuses every later push. What is queued stays, for pop().
  void close() noexcept {
    std::lock_guard lock(mu_);
    // acquire: as a refill, we read the jobs we take.
    job* taken = inbox_.exchange(closed_mark(), std::memory_order_acquire);
    if (taken != closed_mark()) append_reversed(taken);
  }

  /// Removes up to `max` jobs from the front and returns them as a list linked by `next_`
  /// (null when empty). `count` receives how many.
  job* pop_batch(std::size_t max, std::size_t& count) noexcept {
    count = 0;
    if (empty()) return nullptr;
    std::lock_guard lock(mu_);
    if (!out_head_) refill();
    job* first = out_head_;
    job* last = nullptr;
    while (out_head_ && count < max) {
      last = out_head_;
      out_head_ = out_head_->next_;
      ++count;
    }
    if (last) last->next_ = nullptr;
    if (!out_head_) out_tail_ = nullptr;
    if (count) len_.fetch_sub(count, std::memory_order_relaxed);
    return count ? first : nullptr;
  }

  job* pop() noexcept {
    std::size_t n;
    return pop_batch(1, n);
  }

  bool empty() const noexcept { return len_.load(std::memory_order_relaxed) == 0; }
  /// Jobs queued, or about to be (a push in progress counts).
  std::size_t size() const noexcept { return len_.load(std::memory_order_relaxed); }

 private:
  static job* closed_mark() noexcept { return reinterpret_cast<job*>(std::uintptr_t{1}); }

  /// Under mu_, with out_ empty: takes the whole inbox (unless empty or closed) into out_.
  void refill() noexcept {
    job* top = inbox_.load(std::memory_order_relaxed);
    while (top && top != closed_mark()) {
      // acquire: pairs with the pushes' release (see above).
      if (inbox_.compare_exchange_weak(top, nullptr, std::memory_order_acquire, std::memory_order_relaxed)) {
        append_reversed(top);
        return;
      }
    }
  }
  /// Under mu_: appends the inbox list `top` (newest first) to out_, oldest first.
  void append_reversed(job* top) noexcept {
    job* head = nullptr;
    job* tail = top;
    while (top) {
      job* next = top->next_;
      top->next_ = head;
      head = top;
      top = next;
    }
    if (!head) return;
    if (out_tail_)
      out_tail_->next_ = head;
    else
      out_head_ = head;
    out_tail_ = tail;
  }

  // Three cache lines. The length is read by every idle worker all the time; the inbox top only
  // by pushers and a refill; the poppers' side only by poppers. Sharing one line, a push missed
  // twice in the cache (bench/runtime `external`, perf annotate: each locked instruction).
  alignas(64) std::atomic<std::size_t> len_{0};
  alignas(64) std::atomic<job*> inbox_{nullptr};
  alignas(64) std::mutex mu_;
  job* out_head_ = nullptr;
  job* out_tail_ = nullptr;
};

}  // namespace weft::sched
