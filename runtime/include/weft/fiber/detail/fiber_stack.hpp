#pragma once
// weft::detail fiber stacks: mmap'd, a PROT_NONE guard region below each, pooled for reuse.
//
//   base               bottom()                                   top()
//   | guard (PROT_NONE) | usable stack, grows down from top() ...   |
//
// A stack that runs into its guard region faults there; the fiber guard handler
// (fiber_guard.cpp) recognises the address and reports which fiber overflowed.
//
// Pool: each thread keeps a few free stacks (no lock, no shared write on the hot path), and a
// process-wide pool under a mutex takes the overflow, one free list per usable size. Stacks
// are acquired by a fiber's driver on one worker and released, often, on another: the thread
// caches balance through the global pool. The global pool keeps at most `max_pooled_bytes`;
// beyond that a released stack is unmapped. Stacks are never unmapped while a fiber uses them.
//
// Thread safety: every function may be called from any thread.

#include <cstddef>

namespace weft::detail {

struct fiber_stack {
  std::byte* base = nullptr;    ///< start of the mapping: the guard region
  std::size_t guard = 0;        ///< bytes of guard region
  std::size_t usable = 0;       ///< bytes of stack above the guard
  fiber_stack* next = nullptr;  ///< free-list link, owned by the pool that holds the stack

  std::byte* bottom() const noexcept { return base + guard; }
  std::byte* top() const noexcept { return base + guard + usable; }
  bool in_guard(const void* p) const noexcept {
    auto* b = static_cast<const std::byte*>(p);
    return b >= base && b < bottom();
  }
};

/// Usable bytes of a stack requested as `requested` (0 means the default): rounded up to whole
/// pages, at least 16 KiB.
std::size_t fiber_stack_usable(std::size_t requested) noexcept;

/// A stack of fiber_stack_usable(requested) usable bytes. Throws std::bad_alloc if the kernel
/// refuses the mapping.
fiber_stack* acquire_fiber_stack(std::size_t requested);

/// Returns a stack to the pool. Its fiber must be finished (or never started).
void release_fiber_stack(fiber_stack* s) noexcept;

/// Counts for tests and tools. Exact when no fiber starts or ends meanwhile.
struct fiber_stack_stats {
  std::size_t in_use = 0;  ///< held by live fibers
  std::size_t pooled = 0;  ///< free, in a thread cache or the global pool
  std::size_t mapped = 0;  ///< in_use + pooled: stacks that exist
};
fiber_stack_stats fiber_stacks() noexcept;

}  // namespace weft::detail
