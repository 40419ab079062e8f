#pragma once
// weft::detail::cancel_state: the shared state behind cancel_source and cancel_token.
//
// A reference-counted flag plus an intrusive list of callbacks under a mutex, with the
// std::stop_token protocol for callbacks: request() runs each registered callback exactly once,
// outside the lock; add() refuses (returns false) once cancellation was requested, so the caller
// handles it itself; remove() of a callback that another thread is running waits for it to
// finish (so its memory may be freed after), but returns at once when called from inside that
// very callback.
//
// Thread safety: every member may be called from any thread.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>

namespace weft::detail {

/// An intrusive callback node. The owner keeps it alive while registered.
struct cancel_callback {
  void (*fn)(cancel_callback*) noexcept = nullptr;
  cancel_callback* prev = nullptr;
  cancel_callback* next = nullptr;
  bool linked = false;
};

class cancel_state {
 public:
  /// A new state with one reference.
  static cancel_state* create() { return new cancel_state(); }

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    // acq_rel: the last release sees every other holder's writes before deleting.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  bool requested() const noexcept { return requested_.load(std::memory_order_acquire); }

  /// Registers `cb`, or returns false (not registering it) if cancellation was requested.
  bool add(cancel_callback* cb);
  /// Unregisters `cb` (see above for a callback that is running).
  void remove(cancel_callback* cb);
  /// Requests cancellation and runs the callbacks. Returns false if it was requested before.
  bool request();

 private:
  cancel_state() = default;

  std::atomic<std::size_t> refs_{1};
  std::atomic<bool> requested_{false};
  std::mutex mu_;
  std::condition_variable done_cv_;
  cancel_callback* head_ = nullptr;
  cancel_callback* running_ = nullptr;
  std::thread::id running_on_;
};

}  // namespace weft::detail
