#pragma once
// weft::yield(): let the other runnable tasks go first.
//
//   co_await weft::yield();
//
// The task goes to the back of its worker's yield queue (which other workers may steal from)
// and resumes after the tasks ahead of it. A cancellation point: throws cancelled_error, instead
// of yielding, once the task's cancellation was requested.

#include <coroutine>

#include <weft/detail/current.hpp>

namespace weft {

namespace detail {
struct yield_awaiter {
  task_record* me = nullptr;
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
    me = current_task("weft::yield()");
    if (me->cancelled()) return h;
    me->resume_point = h;
    me->set_state(record_state::runnable, me->rt->coarse_now());
    join_state* helping = take_helping(me);
    tls_ctx->w->requeue_current(me);  // may be stolen and resumed at once: touch nothing after this
    return after_suspend(helping);
  }
  void await_resume() const { throw_if_cancelled(me); }
};
}  // namespace detail

/// Suspends the calling task and requeues it behind the tasks already waiting.
inline detail::yield_awaiter yield() noexcept { return {}; }

}  // namespace weft
