#pragma once
// WEFT_COLD_CALL and WEFT_COLD_NAME: a rarely taken call from a hot inline path that leaves the
// caller's registers alone.
//
// A hot path with a cold call in it (a frame cache miss, a full deque, a sleeping worker to
// wake) must keep what it still needs across that call in callee-saved registers, so its
// prologue saves them and its epilogue restores them even when the call is not taken: 8 to 12
// instructions on every coroutine ramp and every fork. Under clang on x86-64 the cold function
// is declared `preserve_most` (it saves every register it uses but r11), so the hot path keeps
// its values in any register and saves none. Callgrind, `weft_peer fib 25 1`: a ramp went from
// 32 to 25 instructions and a fork_scope fork from 67 to 62; the whole run from 113.9M to
// 109.2M instructions (nqueens(10): 65.5M to 64.3M).
//
//   WEFT_COLD_CALL static void* WEFT_COLD_NAME(heap_allocate)(std::size_t n) { ... }
//   ... return WEFT_COLD_NAME(heap_allocate)(n);
//
// Only for inline functions defined in a header: each translation unit gets its own copy, in the
// convention of the compiler that built it, and the name differs by convention (`name_pm` under
// clang), so that the linker never merges a g++ copy with a clang one. Arguments and results pass
// as in the C convention either way.
//
// Thread safety: not applicable (a calling convention).

#if defined(__clang__) && defined(__x86_64__)
#define WEFT_COLD_CALL [[gnu::noinline, gnu::cold]] __attribute__((preserve_most))
#define WEFT_COLD_NAME(name) name##_pm
#else
#define WEFT_COLD_CALL [[gnu::noinline, gnu::cold]]
#define WEFT_COLD_NAME(name) name
#endif
