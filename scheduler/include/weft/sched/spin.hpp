#pragma once
// weft::sched::spin_pause(): the body of a short spin-wait loop. (Not `cpu_relax`: Boost.Fiber
// defines a macro of that name.)
//
// On x86 the `pause` instruction tells the core that this is a spin: it saves power, lets the
// sibling hyperthread run, and avoids the memory-order mis-speculation that would otherwise
// flush the pipeline when the awaited store arrives. Elsewhere it does nothing.
//
// Thread safety: none needed; any thread.

namespace weft::sched {

inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace weft::sched
