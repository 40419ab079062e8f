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

  /// Suspends until the event is set (at once if it is). Throws cancelled_error if the task is
  /// cancelled first.
  auto wait() noexcept { return detail::wait_awaiter<wait_op>(*this); }

 private:
  struct wait_op {
    using primitive = event;
    static constexpr const char* what = "event";
    static constexpr const char* name = "weft::event";
    static constexpr detail::waiter::undo_fn give_back = nullptr;
    static detail::short_mutex& lock(event& e) noexcept { return e.mu_; }
    static detail::waiter_queue& queue(event& e) noexcept { return e.waiters_; }
    static bool ready(event& e) noexcept { return e.set_; }
    static void result(event&) noexcept {}
  };

  mutable detail::short_mutex mu_;
  bool set_;
  detail::waiter_queue waiters_;
};

}  // namespace weft
