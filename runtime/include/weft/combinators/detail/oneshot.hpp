#pragma once
// weft::detail::oneshot: a signal set once and awaited by at most one task at a time.
// Used by task_group, when_all and when_any to wait for their children, and by spawn_blocking's
// driver task to wait for its call.
//
// `state_` is 0 (not set, nobody waiting), 1 (set), 2 (a canceller came before the waiter
// registered), or the waiting task's record. set() swaps in 1 and wakes a waiter it finds; a
// waiter CASes 0 -> itself. A cancellable wait arms a cancel hook that takes the waiter back out
// with a CAS, or, finding no waiter yet, leaves 2 so that the registration fails. One word
// arbitrates, so exactly one of set() and the canceller wakes a waiter. A waiter destroyed while
// suspended (shutdown) takes itself back out the same way (suspension.hpp).
//
// Thread safety: set() from any thread, any number of times; one waiter at a time.

#include <atomic>
#include <coroutine>
#include <cstdint>

#include <weft/detail/suspension.hpp>

namespace weft::detail {

class oneshot {
 public:
  void set() noexcept {
    // acq_rel: release publishes what the setter wrote before (children's results); acquire
    // pairs with the waiter's registration.
    std::uintptr_t prev = state_.exchange(1, std::memory_order_acq_rel);
    if (prev > cancel_pending) wake(reinterpret_cast<task_record*>(prev));
  }
  bool is_set() const noexcept { return state_.load(std::memory_order_acquire) == 1; }
  /// Back to "not set". Only while nobody waits.
  void reset() noexcept { state_.store(0, std::memory_order_relaxed); }

  /// Awaits set(). With `cancellable`, a cancellation of the waiting task resumes it early
  /// and await_resume() says so.
  class awaiter : suspension {
   public:
    awaiter(oneshot& o, bool cancellable, const char* what) noexcept
        : suspension(&hook), o_(&o), cancellable_(cancellable), what_(what) {}
    bool await_ready() const noexcept { return o_->is_set(); }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
      if (!enter(h, what_ ? what_ : "a task_group / when_all / when_any join", cancellable_)) return h;
      if (cancellable_ && !arm()) return h;
      join_state* helping = publish(await_kind::other, 0, what_ ? what_ : "children (task_group, when_all, when_any)");
      std::uintptr_t expected = 0;
      if (o_->state_.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(task_),
                                             std::memory_order_acq_rel, std::memory_order_acquire))
        return suspended(helping);  // set() or the canceller resumes us: touch nothing after this
      if (expected == cancel_pending && o_->state_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel))
        mark_cancelled();
      return not_suspended(helping, h);  // already set, or cancelled
    }
    /// Returns false if the wait ended by cancellation rather than set().
    bool await_resume() noexcept {
      leave_quietly();
      return !was_cancelled();
    }

   private:
    static void hook(cancel_hook* h, hook_op op) noexcept {
      auto* self = static_cast<awaiter*>(h);
      const auto me = reinterpret_cast<std::uintptr_t>(self->task_);
      std::uintptr_t v = me;
      for (;;) {
        if (self->o_->state_.compare_exchange_strong(v, 0, std::memory_order_acq_rel)) {
          if (wakes(op)) {
            self->mark_cancelled();
            wake(self->task_);
          }
          return;
        }
        if (v != 0 || op == hook_op::abandon) return;  // set, or marked already
        if (self->o_->state_.compare_exchange_strong(v, cancel_pending, std::memory_order_acq_rel))
          return;  // the waiter's registration will fail and see the mark
        v = me;    // it registered in between: take it out
      }
    }

    oneshot* o_;
    bool cancellable_;
    const char* what_;
  };

  /// `what` names the wait in dumps (it must outlive the wait); null: a group's join.
  awaiter wait(bool cancellable, const char* what = nullptr) noexcept { return awaiter(*this, cancellable, what); }

 private:
  static constexpr std::uintptr_t cancel_pending = 2;
  std::atomic<std::uintptr_t> state_{0};
};

}  // namespace weft::detail
