#pragma once
// weft::sched frame allocation: a per-thread recycling cache for coroutine frames.
//
// Every weft::task frame is allocated through allocate_frame(). On a worker thread the request
// is served from that worker's frame_cache: a free list per 16-byte size class up to 4 KiB, so
// the steady state of spawn/complete never calls malloc (a frame above the limit costs a malloc
// and a free per call: at a 1 KiB limit, 120 more bytes in nqueens(10)'s frame cost 10 %). A
// frame freed on another worker goes to *that* worker's cache (frames migrate with stolen
// work); each list is capped, and a full list returns blocks to the global heap, so a
// producer/consumer imbalance cannot hoard memory. Off the workers (the thread calling
// block_on, say) the cache pointer is null and the heap is used directly. Blocks are always
// allocated at their class size, so a block allocated on one path can be freed on the other.
//
// Thread safety: a frame_cache belongs to one thread (installed by the worker for its lifetime);
// allocate_frame()/deallocate_frame() may be called from any thread.

#include <array>
#include <cstddef>
#include <cstdint>
#include <new>

#include <weft/sched/cold_call.hpp>

namespace weft::sched {

class frame_cache {
 public:
  static constexpr std::size_t granularity = 16;
  static constexpr std::size_t max_cached_size = 4096;
  static constexpr std::size_t classes = max_cached_size / granularity;
  /// Blocks a class keeps: max_per_class for blocks up to 1 KiB; above, as many as fit in
  /// 256 KiB (a 4 KiB class keeps 64), so that a class of large frames holds no more memory
  /// than one of 256-byte frames.
  static constexpr std::uint32_t max_per_class = 1024;
  static constexpr std::uint32_t limit_of(std::size_t c) noexcept { return limits_[c]; }

  frame_cache() = default;
  frame_cache(const frame_cache&) = delete;
  frame_cache& operator=(const frame_cache&) = delete;
  ~frame_cache() { release_all(); }

  static constexpr std::size_t class_of(std::size_t n) noexcept { return (n - 1) / granularity; }
  static constexpr std::size_t rounded(std::size_t n) noexcept {
    return n <= max_cached_size ? (class_of(n) + 1) * granularity : n;
  }

  void* allocate(std::size_t n) {
    std::size_t c = class_of(n);
    if (block* b = free_[c]) {
      free_[c] = b->next;
      --count_[c];
      return b;
    }
    return WEFT_COLD_NAME(heap_allocate)(rounded(n));
  }

  /// A block the cache does not have, from the heap: a cold call that leaves the ramp's
  /// registers alone (cold_call.hpp).
  WEFT_COLD_CALL static void* WEFT_COLD_NAME(heap_allocate)(std::size_t n) { return ::operator new(n); }

  void deallocate(void* p, std::size_t n) noexcept {
    std::size_t c = class_of(n);
    if (count_[c] < limits_[c]) {
      free_[c] = new (p) block{free_[c]};
      ++count_[c];
    } else {
      ::operator delete(p);
    }
  }

  /// Returns every cached block to the heap.
  void release_all() noexcept;

  /// Blocks currently cached (for tests and metrics).
  std::size_t cached_blocks() const noexcept;

 private:
  struct block {
    block* next;
  };
  static constexpr std::array<std::uint32_t, classes> limits_ = [] {
    std::array<std::uint32_t, classes> l{};
    for (std::size_t c = 0; c < classes; ++c) {
      const std::size_t size = (c + 1) * granularity;
      l[c] = size <= 1024 ? max_per_class : static_cast<std::uint32_t>((256 * 1024) / size);
    }
    return l;
  }();
  block* free_[classes] = {};
  std::uint32_t count_[classes] = {};
};

namespace detail {
// initial-exec: the cache pointer is read on every frame allocation, so it must be one
// fs-relative load, not a call to __tls_get_addr.
[[gnu::tls_model("initial-exec")]] extern constinit thread_local frame_cache* tls_frame_cache;
}  // namespace detail

/// Installs `c` as the calling thread's cache (null to uninstall). Returns the previous one.
frame_cache* install_frame_cache(frame_cache* c) noexcept;

/// Allocates `n` bytes for a coroutine frame (16-byte aligned).
inline void* allocate_frame(std::size_t n) {
  frame_cache* c = detail::tls_frame_cache;
  if (c && n <= frame_cache::max_cached_size) return c->allocate(n);
  return frame_cache::WEFT_COLD_NAME(heap_allocate)(frame_cache::rounded(n));
}

/// Frees a frame from allocate_frame(); `n` must be the size passed to it.
inline void deallocate_frame(void* p, std::size_t n) noexcept {
  frame_cache* c = detail::tls_frame_cache;
  if (c && n <= frame_cache::max_cached_size) return c->deallocate(p, n);
  ::operator delete(p);
}

}  // namespace weft::sched
