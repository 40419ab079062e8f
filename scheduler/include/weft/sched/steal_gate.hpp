#pragma once
// weft::sched::steal_gate: lets the owners of Chase-Lev deques pop without a fence while no
// thief is at work.
//
// Chase-Lev's pop must order its store of bottom_ before its load of top_ against a thief that
// loads top_ and then bottom_: a full fence on every pop, a locked instruction on x86 (about
// 4 ns on this project's machine; fork-join pays one per spawn). Pops outnumber steals by
// orders of magnitude, so the fence moves to the thieves, as in barrier.hpp:
//
//   owner: deque::pop(gate)                 thief: worker::search()
//     bottom_ = b - 1                          enter(): count += 1; heavy_barrier()
//     light_barrier()                          steal(), steal(), ...   (the classic steal)
//     if count != 0: full fence                leave(): count -= 1     (when it stops searching)
//     t = top_ ...
//
// Why no job is taken twice. Take an owner pop P that read the count as zero; it took its job
// without a fence. For each visit V of a thief (enter() to leave()):
//   - V's entry is included in the count P read. A zero count then includes V's exit too (a
//     thief leaves only after it entered), and P's acquire load of the count makes every CAS on
//     top_ made during V visible to P's load of top_: V is over, P's top_ is exact as far as V
//     goes.
//   - V's entry is not included. membarrier ran a full fence on P's thread at a point after the
//     count went up; had P read the count after that point, it would have seen the entry. So
//     P's store of bottom_ came before that point and was visible to the thief before
//     heavy_barrier() returned, hence before any steal of V: it reads the lowered bottom_ and
//     does not take P's job (and no CAS of V can have come before P's load of top_).
// A pop that reads a non-zero count fences, and then the classic proof applies.
//
// Without membarrier (an old kernel) the gate is held open for good from its construction: every
// pop fences, as in the classic algorithm. So the owner's side needs no light_barrier() of its
// own, only the compiler barrier it is with membarrier (deque::pop(gate) saves the check).
//
// Thread safety: open() from any thread; enter() and leave() in pairs, from the thieves.

#include <atomic>
#include <cstdint>

#include <weft/sched/barrier.hpp>

namespace weft::sched {

class steal_gate {
 public:
  steal_gate() noexcept {
    init_barriers();
    if (!detail::asymmetric_fences.load(std::memory_order_relaxed)) thieves_.store(1, std::memory_order_relaxed);
  }
  steal_gate(const steal_gate&) = delete;
  steal_gate& operator=(const steal_gate&) = delete;

  /// Owner side, after its store of bottom_ and a compiler barrier: whether a thief may be at
  /// work, so that the pop must fence. Always true without membarrier.
  bool open() const noexcept {
    // acquire: pairs with leave(), so the CASes of a thief that left are visible afterwards.
    return thieves_.load(std::memory_order_acquire) != 0;
  }

  /// Thief side: before the first steal. Costs a membarrier.
  void enter() noexcept {
    thieves_.fetch_add(1, std::memory_order_seq_cst);
    heavy_barrier();
  }
  /// Thief side: after the last steal.
  void leave() noexcept { thieves_.fetch_sub(1, std::memory_order_release); }

 private:
  // Its own cache line (the alignment rounds the class up to 64 bytes too): every pop reads it,
  // and only entering and leaving thieves write it.
  alignas(64) std::atomic<std::uint32_t> thieves_{0};
};
static_assert(sizeof(steal_gate) == 64);

}  // namespace weft::sched
