#pragma once
// weft::sched::injector: the global queue for work that comes from outside the workers (spawns
// from plain threads, wakes from timers or I/O threads) and for local deques that overflow.
//
// Algorithm: an intrusive singly linked FIFO under a mutex, with an atomic length so that the
// workers' frequent "anything there?" check reads one shared word and takes no lock. This is
// the same choice as Tokio's inject queue: the injector is off the hot path (local spawns and
// wakes never touch it), a pop moves a batch into the worker's own deque, and a lock-free MPMC
// queue would cost more per operation on this path than the uncontended mutex does.
//
// Closing: once the scheduler has stopped its workers it closes the injector; a push after that
// is refused (the pusher disposes of the job), so no job is left in a queue nobody drains.
//
// Thread safety: every member may be called from any thread.

#include <atomic>
#include <cstddef>
#include <mutex>

#include <weft/sched/job.hpp>

namespace weft::sched {

class injector {
 public:
  /// Appends `j`; false (leaving it alone) once closed. Never allocates (the link lives in the
  /// job).
  bool push(job* j) noexcept {
    j->next_ = nullptr;
    std::lock_guard lock(mu_);
    if (closed_) return false;
    if (tail_)
      tail_->next_ = j;
    else
      head_ = j;
    tail_ = j;
    // relaxed: the length is a hint for lock-free emptiness checks; the list itself is only
    // read under mu_, which orders everything else.
    len_.store(len_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return true;
  }

  /// Refuses every later push. What is queued stays, for pop().
  void close() noexcept {
    std::lock_guard lock(mu_);
    closed_ = true;
  }

  /// Removes up to `max` jobs from the front and returns them as a list linked by `next_`
  /// (null when empty). `count` receives how many.
  job* pop_batch(std::size_t max, std::size_t& count) noexcept {
    count = 0;
    if (empty()) return nullptr;
    std::lock_guard lock(mu_);
    job* first = head_;
    job* last = nullptr;
    while (head_ && count < max) {
      last = head_;
      head_ = head_->next_;
      ++count;
    }
    if (last) last->next_ = nullptr;
    if (!head_) tail_ = nullptr;
    len_.store(len_.load(std::memory_order_relaxed) - count, std::memory_order_relaxed);
    return count ? first : nullptr;
  }

  job* pop() noexcept {
    std::size_t n;
    return pop_batch(1, n);
  }

  bool empty() const noexcept { return len_.load(std::memory_order_relaxed) == 0; }
  std::size_t size() const noexcept { return len_.load(std::memory_order_relaxed); }

 private:
  std::mutex mu_;
  job* head_ = nullptr;
  job* tail_ = nullptr;
  bool closed_ = false;
  std::atomic<std::size_t> len_{0};
};

}  // namespace weft::sched
