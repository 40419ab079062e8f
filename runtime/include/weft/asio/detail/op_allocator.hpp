#pragma once
// weft::detail::op_allocator: the allocator use_task's handler gives Asio for an operation's
// state (the reactor's op object, a composed operation's steps): weft's per-worker frame cache
// (sched/frame_allocator.hpp), the cache that task frames come from.
//
// Without it Asio uses its own recycling allocator, which caches in the thread_info of the
// innermost io_context call on the thread. An operation started by a task is allocated from the
// worker's long-lived one (use_task.cpp runs the initiation inside it), but it completes inside
// the worker's wait in the reactor (`run_one`, `poll`), whose thread_info lives for that call
// only: the block went into it, and out to the heap when the call returned. So every operation
// that waited in the reactor cost a heap allocation and a free (about one per request in
// bench/net's HTTP server, one worker). The frame cache belongs to the worker thread for its
// whole life, and takes back a block freed on any thread (on a worker into that worker's cache,
// elsewhere to the heap): an operation of another io_context, completed by that context's
// thread, is fine.
//
// Stateless: every instance is equal, so Asio may free with a copy rebound to another type.

#include <cstddef>
#include <limits>
#include <memory>
#include <new>

#include <weft/sched/frame_allocator.hpp>

namespace weft::detail {

template <class T>
struct op_allocator {
  using value_type = T;

  op_allocator() noexcept = default;
  template <class U>
  op_allocator(const op_allocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if constexpr (alignof(T) > alignof(std::max_align_t)) {
      return std::allocator<T>().allocate(n);  // the cache's blocks are 16-byte aligned only
    } else {
      if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
      return static_cast<T*>(sched::allocate_frame(n * sizeof(T)));
    }
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if constexpr (alignof(T) > alignof(std::max_align_t))
      std::allocator<T>().deallocate(p, n);
    else
      sched::deallocate_frame(p, n * sizeof(T));
  }

  template <class U>
  friend bool operator==(const op_allocator&, const op_allocator<U>&) noexcept {
    return true;
  }
};

}  // namespace weft::detail
