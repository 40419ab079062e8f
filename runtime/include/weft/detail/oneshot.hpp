#pragma once
// weft::detail::oneshot: a signal set once and awaited by at most one task at a time.
// Used by task_group, when_all and when_any to wait for their children.
//
// `state_` is 0 (not set, nobody waiting), 1 (set), 2 (a canceller came before the waiter
// registered), or the waiting task's record. set() swaps in 1 and wakes a waiter it finds; a
// waiter CASes 0 -> itself. A cancellable wait arms a cancel hook that takes the waiter back out
// with a CAS, or, finding no waiter yet, leaves 2 so that the registration fails. One word
// arbitrates, so exactly one of set() and the canceller wakes a waiter.
//
// Thread safety: set() from any thread, any number of times; one waiter at a time.

#include <atomic>
#include <coroutine>
#include <cstdint>

#include <weft/detail/current.hpp>

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
  /// and `cancelled()` on the awaiter tells.
  class awaiter : cancel_hook {
   public:
    awaiter(oneshot& o, bool cancellable) noexcept : o_(&o), cancellable_(cancellable) {}
    bool await_ready() const noexcept { return o_->is_set(); }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
      task_record* me = current_task("a task_group / when_all / when_any join");
      me_ = me;
      me->resume_point = h;
      if (cancellable_) {
        fn = &on_cancel;
        if (me->arm(this)) {
          cancelled_ = true;
          return h;
        }
      }
      me->set_awaiting(await_kind::other, 0, me->rt->coarse_now(), "children (task_group, when_all, when_any)");
      trace_wait(me, "children (task_group, when_all, when_any)");
      join_state* helping = take_helping(me);  // before the CAS publishes the wait
      std::uintptr_t expected = 0;
      if (o_->state_.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(me),
                                             std::memory_order_acq_rel, std::memory_order_acquire))
        return after_suspend(helping);  // set() or the canceller resumes us: touch nothing after this
      restore_helping(me, helping);
      if (expected == cancel_pending &&
          o_->state_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel))
        cancelled_ = true;
      me->set_running();
      return h;  // already set, or cancelled
    }
    /// Returns false if the wait ended by cancellation rather than set().
    bool await_resume() noexcept {
      if (me_ && cancellable_) me_->disarm();
      return !cancelled_;
    }

   private:
    static void on_cancel(cancel_hook* h) noexcept {
      auto* self = static_cast<awaiter*>(h);
      const auto me = reinterpret_cast<std::uintptr_t>(self->me_);
      std::uintptr_t v = me;
      for (;;) {
        if (self->o_->state_.compare_exchange_strong(v, 0, std::memory_order_acq_rel)) {
          self->cancelled_ = true;
          wake(self->me_);
          return;
        }
        if (v != 0) return;  // set, or marked already
        if (self->o_->state_.compare_exchange_strong(v, cancel_pending, std::memory_order_acq_rel))
          return;  // the waiter's registration will fail and see the mark
        v = me;    // it registered in between: take it out
      }
    }

    oneshot* o_;
    task_record* me_ = nullptr;
    bool cancellable_;
    bool cancelled_ = false;
  };

  awaiter wait(bool cancellable) noexcept { return awaiter(*this, cancellable); }

 private:
  static constexpr std::uintptr_t cancel_pending = 2;
  std::atomic<std::uintptr_t> state_{0};
};

}  // namespace weft::detail
