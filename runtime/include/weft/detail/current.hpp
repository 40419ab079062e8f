#pragma once
// Helpers every weft awaitable shares: find the running task, wake a task, spend budget.

#include <coroutine>
#include <utility>

#include <weft/detail/runtime_core.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/detail/worker_context.hpp>
#include <weft/errors.hpp>

namespace weft::detail {

[[noreturn]] void throw_not_in_task(const char* what);

struct join_state;

/// A task that runs inline to help a joiner (join.hpp, help-first joins) must not keep that
/// joiner waiting on it once it suspends: the joiner would depend on a task it merely helped
/// with, which may wait for the joiner itself (a consumer waiting for the joiner to close its
/// channel). So every suspension point takes the help relationship *before* publishing the wait
/// (after that, a waker may resume and finish the task on another thread), gives it back if it
/// does not suspend after all, and after publishing continues the joiner's join.
inline join_state* take_helping(task_record* me) noexcept { return std::exchange(me->helping, nullptr); }
inline void restore_helping(task_record* me, join_state* hs) noexcept {
  if (hs) me->helping = hs;
}
/// After a suspension was published: what this thread runs next (join.cpp).
std::coroutine_handle<> after_suspend(join_state* hs) noexcept;

/// Tracing hooks (tracing.cpp): each does nothing unless a weft::trace is on.
void trace_wait(task_record* me, const char* what) noexcept;  ///< a blocking wait begins
void trace_spawn(task_record* r) noexcept;
/// trace_spawn() from a spawn's inline path, leaving the spawner's registers alone (cold_call.hpp).
WEFT_COLD_CALL inline void WEFT_COLD_NAME(trace_spawn_cold)(task_record* r) noexcept { trace_spawn(r); }
void trace_complete(task_record* r) noexcept;

/// The task running on this thread. Throws usage_error off the runtime's workers.
inline task_record* current_task(const char* what) {
  worker_context* ctx = tls_ctx;
  if (!ctx || !ctx->current) [[unlikely]]
    throw_not_in_task(what);
  return ctx->current;
}

/// Makes a suspended task runnable again (from any thread), by the one waker that won the right
/// to (the wait's own protocol decides who). On one of its runtime's workers it goes to the LIFO
/// slot and runs next (hint::wake), or to the back of the line (hint::fifo). From anywhere else
/// (a plain thread, an Asio thread, another runtime's worker) it goes through
/// runtime_core::wake_from_outside: once queued, the task may run and end, and its runtime shut
/// down and be destroyed, while this thread is still in the scheduler waking a worker, so the
/// core is held for that moment (it is alive now: the task waits, and shutdown waits for a
/// waker inside a wait's protocol before it destroys the task; a join word has no lock to wait
/// on, so a task waiting for another runtime's task holds its core itself: join.cpp).
///
/// wake_here(): its half on one of the task's runtime's workers (false, doing nothing, elsewhere);
/// wake_taken() shares it.
inline bool wake_here(task_record* r, sched::hint h) noexcept {
  runtime_core* rt = r->rt;
  sched::worker* w = sched::this_worker();
  if (!w || &w->owner() != &rt->sched) [[unlikely]]
    return false;
  r->set_state(record_state::runnable, rt->coarse_now());
  if (h == sched::hint::wake)
    w->push_wake(r);  // scheduler::schedule's common case
  else
    rt->sched.schedule(r, h);
  return true;
}
inline void wake(task_record* r, sched::hint h = sched::hint::wake) noexcept {
  if (wake_here(r, h)) [[likely]]
    return;
  r->rt->hold_for_wake();
  r->rt->wake_from_outside(r, h);
}

/// The waker's half of taking a suspended task out of a wait list (sync/detail/waiter.hpp):
/// call under the list's lock, while the task still waits there, and wake it with wake_taken()
/// on the same thread once the lock is let go. In between, a waker off the task's runtime's
/// workers (a plain thread, another runtime's worker) may see that runtime shut down and
/// destroyed: shutdown finds the task taken out and ends it, and the runtime's core, the task's
/// record with it, lives on until the wake (which then does nothing). Returns `r`.
inline task_record* take_for_wake(task_record* r) noexcept {
  if (!r->rt->sched.on_worker()) [[unlikely]]
    r->rt->hold_for_wake();
  return r;
}
/// Wakes a task taken out with take_for_wake() (see there).
inline void wake_taken(task_record* r, sched::hint h = sched::hint::wake) noexcept {
  if (wake_here(r, h)) [[likely]]
    return;
  r->rt->wake_from_outside(r, h);  // take_for_wake() held the core
}

/// Spends one unit of the running task's cooperative budget; false when it is exhausted and the
/// caller should yield (sched/options.hpp, `budget`).
inline bool consume_budget() noexcept {
  worker_context* ctx = tls_ctx;
  return !ctx || ctx->w->consume_budget();
}

/// Throws cancelled_error if the running task's cancellation was requested.
inline void throw_if_cancelled(const task_record* me) {
  if (me->cancelled()) [[unlikely]]
    throw cancelled_error();
}

}  // namespace weft::detail
