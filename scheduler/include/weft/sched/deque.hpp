#pragma once
// weft::sched::deque: a bounded Chase-Lev work-stealing deque of job pointers.
//
// Algorithm: D. Chase and Y. Lev, "Dynamic Circular Work-Stealing Deque" (SPAA 2005), with the
// memory orderings of N. M. Lê et al., "Correct and Efficient Work-Stealing for Weak Memory
// Models" (PPoPP 2013). The buffer is a fixed power-of-two ring, so there is no resizing and no
// old buffer to keep alive; a push that finds the ring full returns false and the caller sends
// the job elsewhere (the worker overflows to the global injector).
//
// Who may call what:
//   owner  (exactly one thread, the worker):  push() / push_n() at the bottom, pop() from the
//                                             bottom (LIFO)
//   stealer (any thread, including the owner): steal() from the top (FIFO)
// Ownership is a type: the deque object itself is the owner's side (a worker keeps its deques
// private), and thieves get a `deque::stealer`. The owner's operations take no indirection.
//
// Invariants: top_ only grows, and only by a successful CAS; bottom_ is written by the owner only.
// Slots in [top_, bottom_) hold jobs. An item can be claimed by the owner without a CAS unless
// it is the last one (top_ == bottom_ - 1 after the owner's decrement), in which case owner and
// thieves race for it with the same CAS on top_.
//
// x86 cost: push is two plain stores; pop is one locked exchange (the seq_cst store of bottom_,
// which gives the store->load ordering the algorithm needs) plus a CAS only for the last item;
// steal is one CAS. A deque whose thieves pass a steal_gate (the workers' local deques) pops
// without the exchange while no thief is at work: steal_gate.hpp.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

#include <weft/sched/job.hpp>
#include <weft/sched/steal_gate.hpp>

namespace weft::sched {

class deque {
 public:
  /// `capacity` is rounded up to a power of two, at least 2. Tests shrink it to 4.
  explicit deque(std::size_t capacity);
  deque(const deque&) = delete;
  deque& operator=(const deque&) = delete;

  class stealer;

  /// Owner only: pushes `j` at the bottom. Returns false, leaving the deque unchanged, when full.
  bool push(job* j) noexcept {
    auto b = bottom_.load(std::memory_order_relaxed);
    // acquire: pairs with the thieves' CAS on top_, so a slot they vacated is not overwritten
    // before their read of it is done.
    auto t = top_.load(std::memory_order_acquire);
    if (b - t > static_cast<std::int64_t>(mask_)) return false;
    slot(b).store(j, std::memory_order_relaxed);
    // release: publishes the slot (and everything the pusher wrote to the job) to a thief
    // that acquires bottom_ in steal().
    bottom_.store(b + 1, std::memory_order_release);
    return true;
  }

  /// Owner only: pushes `job_at(0)`, ..., `job_at(n - 1)` at the bottom (the last one is popped
  /// first), publishing them all with one store of bottom_. Returns false, leaving the deque
  /// unchanged, when there is no room for all n.
  ///
  /// Why one store is enough: a thief reads a slot only below the bottom_ it acquired, so the
  /// n slots written before the release store are visible to it together with the new bottom_,
  /// as push()'s one slot is. The room check is push()'s with n slots: top_ only grows, so
  /// room seen here stays room until we store.
  template <class F>
  bool push_n(std::uint32_t n, F&& job_at) noexcept {
    auto b = bottom_.load(std::memory_order_relaxed);
    auto t = top_.load(std::memory_order_acquire);  // as in push()
    if (b - t + static_cast<std::int64_t>(n) > static_cast<std::int64_t>(mask_) + 1) return false;
    for (std::uint32_t i = 0; i < n; ++i) slot(b + i).store(job_at(i), std::memory_order_relaxed);
    bottom_.store(b + n, std::memory_order_release);
    return true;
  }

  /// Owner only: pops the most recently pushed job, or null when empty or when a thief won the
  /// last one.
  job* pop() noexcept {
    auto b = bottom_.load(std::memory_order_relaxed) - 1;
    // seq_cst store then seq_cst load of top_: the store must be visible before we read top_,
    // or a thief and the owner could both take the last item. A locked xchg on x86.
    bottom_.store(b, std::memory_order_seq_cst);
    return pop_tail(b);
  }

  /// Owner only: pop(), for a deque whose thieves all pass `gate` (steal_gate.hpp): fences only
  /// while a thief is in the gate. In the common case no locked instruction at all.
  job* pop(const steal_gate& gate) noexcept {
    auto b = bottom_.load(std::memory_order_relaxed) - 1;
    bottom_.store(b, std::memory_order_relaxed);
    // light_barrier() with membarrier, which pairs with the heavy_barrier() of
    // steal_gate::enter(); without, the gate is open for good and the fence below is taken.
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (gate.open()) [[unlikely]]
      std::atomic_thread_fence(std::memory_order_seq_cst);
    return pop_tail(b);
  }

  /// Jobs currently held, as seen by a racing observer: exact only when nobody is pushing or
  /// stealing. Used for metrics and for the "is there work anywhere" check before parking.
  std::size_t size_approx() const noexcept {
    auto b = bottom_.load(std::memory_order_relaxed);
    auto t = top_.load(std::memory_order_relaxed);
    return b > t ? static_cast<std::size_t>(b - t) : 0;
  }
  std::size_t capacity() const noexcept { return mask_ + 1; }

 private:
  // Owner side and thief side on separate cache lines: thieves write top_, the owner bottom_.
  alignas(64) std::atomic<std::int64_t> top_{0};
  alignas(64) std::atomic<std::int64_t> bottom_{0};
  std::size_t mask_;
  std::unique_ptr<std::atomic<job*>[]> slots_;

  std::atomic<job*>& slot(std::int64_t i) noexcept { return slots_[static_cast<std::size_t>(i) & mask_]; }

  // The rest of a pop, once bottom_ = b is visible to the thieves that could race for item b.
  job* pop_tail(std::int64_t b) noexcept {
    auto t = top_.load(std::memory_order_seq_cst);
    if (t > b) {  // empty: restore
      bottom_.store(b + 1, std::memory_order_relaxed);
      return nullptr;
    }
    job* j = slot(b).load(std::memory_order_relaxed);
    if (t == b) {
      // Last item: race the thieves for it on top_.
      if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst, std::memory_order_relaxed)) j = nullptr;
      bottom_.store(b + 1, std::memory_order_relaxed);
    }
    return j;
  }

 public:
  /// A thief's handle: any number of threads may steal concurrently.
  class stealer {
   public:
    explicit stealer(deque& d) noexcept : d_(&d) {}

    /// Takes the oldest job, or null when empty or when another thief (or the owner, for the
    /// last item) won the race. A null return on a lost race is not "empty": see size_approx().
    job* steal() noexcept {
      // seq_cst loads, top_ first: pairs with pop()'s seq_cst store of bottom_, so a thief
      // never sees an item the owner has already claimed without a CAS.
      auto t = d_->top_.load(std::memory_order_seq_cst);
      auto b = d_->bottom_.load(std::memory_order_seq_cst);
      if (t >= b) return nullptr;
      job* j = d_->slot(t).load(std::memory_order_relaxed);
      if (!d_->top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst, std::memory_order_relaxed))
        return nullptr;
      return j;
    }

    deque& get() const noexcept { return *d_; }

   private:
    deque* d_;
  };
};

}  // namespace weft::sched
