#pragma once
// weft::event: a flag tasks can wait for.
//
//   weft::event ready;
//   co_await ready.wait();   // suspends until ready.set()
//
// set() wakes every waiting task and lets later waits pass until reset(). wait() is a
// cancellation point.
//
// Thread safety: every member may be called from any thread (set() from plain threads too).
// Lifetime: an event should outlive the tasks waiting on it; one destroyed under them wakes
// them with usage_error. It may outlive its runtime.

#include <coroutine>
#include <mutex>

#include <weft/sync/detail/waiter.hpp>

namespace weft {

class event {
 public:
  explicit event(bool initially_set = false) noexcept : set_(initially_set) {}
  event(const event&) = delete;
  event& operator=(const event&) = delete;
  ~event() { detail::orphan_all(mu_, waiters_); }

  /// Sets the event and wakes every waiter.
  void set() noexcept {
    detail::wake_list woken;
    {
      std::lock_guard lock(mu_);
      set_ = true;
      detail::complete_all(waiters_, detail::waiter::outcome::done, woken);
    }
    woken.wake_all();
  }
  void reset() noexcept {
    std::lock_guard lock(mu_);
    set_ = false;
  }
  bool is_set() const noexcept {
    std::lock_guard lock(mu_);
    return set_;
  }

  class awaiter : detail::waiter {
   public:
    explicit awaiter(event& e) noexcept : waiter(e.mu_, e.waiters_, &e), e_(&e) {}
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
      return suspend(
          h, "event", [&] { return e_->set_; }, [&](waiter* w) { e_->waiters_.push_back(w); }, [] {});
    }
    void await_resume() { finish("weft::event"); }

   private:
    event* e_;
  };

  /// Suspends until the event is set (at once if it is). Throws cancelled_error if the task is
  /// cancelled first.
  awaiter wait() noexcept { return awaiter(*this); }

 private:
  mutable detail::short_mutex mu_;
  bool set_;
  detail::waiter_queue waiters_;
};

}  // namespace weft
