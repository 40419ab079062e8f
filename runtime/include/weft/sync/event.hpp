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
// Lifetime: an event must outlive the tasks waiting on it.

#include <coroutine>
#include <mutex>

#include <weft/detail/waiter.hpp>

namespace weft {

class event {
 public:
  explicit event(bool initially_set = false) noexcept : set_(initially_set) {}
  event(const event&) = delete;
  event& operator=(const event&) = delete;

  /// Sets the event and wakes every waiter.
  void set() noexcept {
    detail::waiter* woken = nullptr;
    {
      std::lock_guard lock(mu_);
      set_ = true;
      woken = detail::take_all(waiters_);
    }
    detail::resume_all(woken);
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
    explicit awaiter(event& e) noexcept : e_(&e) { fn = &on_cancel; }
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
      return detail::suspend_on(
          e_->mu_, *this, h, "event", [&] { return e_->set_; },
          [&](detail::waiter* w) { e_->waiters_.push_back(w); }, [] {});
    }
    void await_resume() { detail::finish_wait(*this); }

   private:
    static void on_cancel(detail::cancel_hook* h) noexcept {
      auto* self = static_cast<awaiter*>(h);
      detail::cancel_waiter(self->e_->mu_, self->e_->waiters_, *self);
    }
    event* e_;
  };

  /// Suspends until the event is set (at once if it is). Throws cancelled_error if the task is
  /// cancelled first.
  awaiter wait() noexcept { return awaiter(*this); }

 private:
  mutable std::mutex mu_;
  bool set_;
  detail::waiter_queue waiters_;
};

}  // namespace weft
