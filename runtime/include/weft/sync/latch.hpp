#pragma once
// weft::latch: a countdown that tasks can wait for.
//
//   weft::latch done(3);
//   ... each of three tasks: done.count_down();
//   co_await done.wait();     // resumes when the count reaches zero
//
// count_down() below zero throws std::invalid_argument. wait() is a cancellation point.
//
// Thread safety: every member may be called from any thread. Lifetime: should outlive its
// waiters (one destroyed under them wakes them with usage_error); may outlive its runtime.

#include <coroutine>
#include <cstddef>
#include <mutex>
#include <stdexcept>

#include <weft/sync/detail/waiter.hpp>

namespace weft {

class latch {
 public:
  explicit latch(std::size_t count) noexcept : count_(count) {}
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

  class awaiter : detail::waiter {
   public:
    explicit awaiter(latch& l) noexcept : waiter(l.mu_, l.waiters_, &l), l_(&l) {}
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
      return suspend(
          h, "latch", [&] { return l_->count_ == 0; }, [&](waiter* w) { l_->waiters_.push_back(w); }, [] {});
    }
    void await_resume() { finish("weft::latch"); }

   private:
    latch* l_;
  };

  /// Suspends until the count reaches zero.
  awaiter wait() noexcept { return awaiter(*this); }

 private:
  mutable detail::short_mutex mu_;
  std::size_t count_;
  detail::waiter_queue waiters_;
};

}  // namespace weft
