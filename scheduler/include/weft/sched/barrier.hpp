#pragma once
// weft::sched asymmetric barriers: a cheap side for the hot path, an expensive side for the
// rare path, together as strong as a full fence on both.
//
// The one place weft needs store->load ordering across threads is the "wake a sleeper?" check:
// a pusher stores a job and then loads the idle state; a parking worker updates the idle state
// and then loads the queues. Without a fence on both sides each could miss the other and a job
// would wait for the next push to wake anyone. Tokio pays a locked RMW on every push for this.
// weft makes the pusher pay a compiler barrier only and the parker (already about to make a
// syscall) pay membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which runs a full fence on every
// CPU currently running one of this process's threads. On kernels without it, both sides fall
// back to std::atomic_thread_fence(seq_cst).
//
// Thread safety: both functions may be called from any thread at any time.

#include <atomic>

namespace weft::sched {

namespace detail {
/// True once membarrier registration succeeded. Set once, before any worker starts.
extern std::atomic<bool> asymmetric_fences;
}  // namespace detail

/// The hot side. Pairs with heavy_barrier().
inline void light_barrier() noexcept {
  if (detail::asymmetric_fences.load(std::memory_order_relaxed))
    std::atomic_signal_fence(std::memory_order_seq_cst);
  else
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

/// The rare side. Pairs with light_barrier().
void heavy_barrier() noexcept;

/// Registers the process for expedited membarrier; idempotent. The scheduler calls it before
/// starting its threads.
void init_barriers() noexcept;

}  // namespace weft::sched
