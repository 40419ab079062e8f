#pragma once
// weft::latch: a countdown that tasks can wait for.
//
//   weft::latch done(3);
//   ... each of three tasks: done.count_down();
//   co_await done.wait();     // resumes when the count reaches zero
//
// count_down() below zero throws std::invalid_argument, and so does a count above max()
// (PTRDIFF_MAX, as std::latch's: a negative count converted to std::size_t, which would never
// reach zero). wait() is a cancellation point.
//
// Thread safety: every member may be called from any thread. Lifetime: should outlive its
// waiters (one destroyed under them wakes them with usage_error); may outlive its runtime.

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>

#include <weft/sync/detail/waiter.hpp>

namespace weft {

class latch {
 public:
  /// Throws std::invalid_argument if `count` is above max().
  explicit latch(std::size_t count) : count_(checked(count)) {}
  latch(const latch&) = delete;
  latch& operator=(const latch&) = delete;
  ~latch() { detail::orphan_all(mu_, waiters_); }

  /// Decrements the count by `n`; at zero, wakes every waiter.
  void count_down(std::size_t n = 1) {
    detail::wake_list woken;
    {
      std::lock_guard lock(mu_);
      if (n > count_) throw std::invalid_argument("weft::latch::count_down below zero");
      count_ -= n;
      if (count_ != 0) return;
      detail::complete_all(waiters_, detail::waiter::outcome::done, woken);
    }
    woken.wake_all();
  }
  bool try_wait() const noexcept {
    std::lock_guard lock(mu_);
    return count_ == 0;
  }
  std::size_t count() const noexcept {
    std::lock_guard lock(mu_);
    return count_;
  }

  /// Suspends until the count reaches zero.
  auto wait() noexcept { return detail::wait_awaiter<wait_op>(*this); }

  /// The largest count a latch may start with.
  static constexpr std::size_t max() noexcept { return PTRDIFF_MAX; }

 private:
  static std::size_t checked(std::size_t count) {
    if (count > max())
      throw std::invalid_argument("weft::latch: a count of " + std::to_string(count) +
                                  " is above the most, PTRDIFF_MAX (a negative count converted to std::size_t?)");
    return count;
  }

  struct wait_op {
    using primitive = latch;
    static constexpr const char* what = "latch";
    static constexpr const char* name = "weft::latch";
    static constexpr detail::waiter::undo_fn give_back = nullptr;
    static detail::short_mutex& lock(latch& l) noexcept { return l.mu_; }
    static detail::waiter_queue& queue(latch& l) noexcept { return l.waiters_; }
    static bool ready(latch& l) noexcept { return l.count_ == 0; }
    static void result(latch&) noexcept {}
  };

  mutable detail::short_mutex mu_;
  std::size_t count_;
  detail::waiter_queue waiters_;
};

}  // namespace weft
