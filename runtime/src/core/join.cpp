// The slow half of the join protocol (task_record.hpp): completion of a spawned task that was
// not joined inline, joins that must wait, and handles that let go.

#include <weft/detail/join.hpp>

#include <weft/detail/current.hpp>
#include <weft/errors.hpp>

#include <weft/sched/barrier.hpp>
#include <weft/sched/futex.hpp>
#include <weft/sched/scheduler.hpp>

namespace weft::detail {
namespace {

// Hands the thread to `joiner` by symmetric transfer.
std::coroutine_handle<> transfer_to(task_record* joiner, worker_context* ctx) noexcept {
  if (ctx) {
    ctx->current = joiner;
    ctx->w->switch_current(joiner);
  }
  joiner->set_running();
  return joiner->resume_point;
}

// Wakes `joiner`, taken out of `r`'s join word by r's completion, where `r` completed: on one
// of r's runtime's workers (a task runs on its own runtime's workers only). If that is one of
// the joiner's runtime's workers too, the joiner is of r's runtime and holds nothing. A joiner of
// another runtime holds its own runtime's core since it registered (join_suspend_slow):
// wake_from_outside() wakes it and drops that hold.
void wake_joiner(task_record* r, task_record* joiner) noexcept {
  if (wake_here(joiner, sched::hint::wake)) return;
  if (joiner->rt == r->rt) [[unlikely]]
    joiner->rt->hold_for_wake();  // a joiner of our runtime, woken off its workers: wake()'s hold
  joiner->rt->wake_from_outside(joiner, sched::hint::wake);
}

}  // namespace

bool is_cancellation(const std::exception_ptr& error) noexcept {
  try {
    std::rethrow_exception(error);
  } catch (const cancelled_error&) {
    return true;
  } catch (...) {
  }
  return false;
}

void count_failure(worker_context* ctx, runtime_core* rt, const std::exception_ptr& error) noexcept {
  const bool cancelled = is_cancellation(error);
  if (ctx && ctx->rt == rt)
    (cancelled ? ctx->cancelled : ctx->failed).inc();
  else
    (cancelled ? rt->external_cancelled : rt->external_failed).fetch_add(1, std::memory_order_relaxed);
}

void record_completion(task_record* r, worker_context* ctx, const std::exception_ptr& error) noexcept {
  runtime_core* rt = r->rt;
  if (ctx && ctx->rt == rt)
    ctx->completed.inc();
  else
    rt->external_completed.fetch_add(1, std::memory_order_relaxed);
  if (error) count_failure(ctx, rt, error);
  r->set_state(record_state::completed, rt->coarse_now());
  if (rt->tracer.load(std::memory_order_relaxed)) [[unlikely]]
    trace_complete(r);
}

std::coroutine_handle<> complete_spawned(task_record* r, const std::exception_ptr& error) noexcept {
  worker_context* ctx = tls_ctx;
  record_completion(r, ctx, error);

  // acq_rel: release publishes the result to whoever reads `join_done`; acquire pairs with the
  // joiner's CAS that registered it (its resume_point and state).
  std::uintptr_t prev = r->join.exchange(join_done, std::memory_order_acq_rel);
  if (prev == join_running || prev == join_cancel_pending) return std::noop_coroutine();
  if (prev == join_detached) {
    r->root.destroy();
    free_record(r);
    return std::noop_coroutine();
  }
  if (prev & 1) {
    auto* tw = reinterpret_cast<thread_waiter*>(prev & ~std::uintptr_t{1});
    // release: the blocked thread acquires `done` and then reads the result.
    tw->done.store(1, std::memory_order_release);
    sched::futex_wake(&tw->done);
    return std::noop_coroutine();
  }
  auto* joiner = reinterpret_cast<task_record*>(prev);
  // A task of another runtime awaited this one: it goes back to its own runtime's workers (run
  // here, it would pass for one of this worker's tasks). Its runtime's core is held from the
  // joiner's registration (join_suspend_slow) until it is queued: its runtime may end meanwhile,
  // finding it taken out of our join word, and end it.
  if (!ctx || ctx->rt != joiner->rt) [[unlikely]] {
    wake_joiner(r, joiner);
    return std::noop_coroutine();
  }
  return transfer_to(joiner, ctx);
}

void join_state::join_hook(cancel_hook* h, hook_op op) noexcept {
  auto& s = static_cast<join_state&>(*static_cast<suspension*>(h));
  if (!s.waiting.load(std::memory_order_acquire)) {
    // The joiner runs its child (or a sibling) inline: cancelling it cancels the child, whose
    // failure then unwinds the joiner. The child's record stays valid: the joiner frees it only
    // after disarm(), which waits for us. (Abandoned inline, or every task being cancelled at
    // once: the child is ended, or cancelled, on its own.)
    if (op == hook_op::cancel) s.child->request_cancel();
    return;
  }
  // Waiting in child->join: take the joiner back out and wake it; if it is not registered yet,
  // leave a marker that makes its registration fail. Abandoned: only take it out.
  task_record* joiner = s.me();
  auto me = reinterpret_cast<std::uintptr_t>(joiner);
  std::uintptr_t v = me;
  for (;;) {
    if (s.child->join.compare_exchange_strong(v, join_running, std::memory_order_acq_rel)) {
      const bool far = s.child->rt != joiner->rt;
      if (wakes(op)) {
        s.mark_cancelled();
        // As every hook wakes its task (current.hpp): marked runnable, and from a thread off the
        // joiner's workers through wake_from_outside, which leaves the joiner to a shutdown that
        // is stopping the workers, as it leaves every other task woken then.
        wake(joiner);
      }
      // Taken back out by us: the hold of a joiner of another runtime's task is ours to drop
      // (join_suspend_slow). Never the last reference: the joiner lives while we run its hook
      // (its disarm() waits for us), and its runtime ends only after ending it.
      if (far) [[unlikely]]
        joiner->rt->drop_wake_hold();
      return;
    }
    if (v != join_running || op == hook_op::abandon)
      return;  // done (completion resumes the joiner) or a marker already
    if (s.child->join.compare_exchange_strong(v, join_cancel_pending, std::memory_order_acq_rel)) return;
    v = me;  // the joiner registered in between: retry with its pointer
  }
}

std::coroutine_handle<> join_suspend_slow(join_state& s) noexcept {
  task_record* me = s.me();
  task_record* child = s.child;
  // release: the hook reads `waiting` and then the join word; a canceller that sees 1 takes the
  // CAS protocol below.
  s.waiting.store(1, std::memory_order_release);
  sched::light_barrier();  // pairs with heavy_barrier() in request_cancel(): see `waiting` or the bit
  if (me->register_token() || me->cancelled()) {
    s.mark_cancelled();
    return transfer_to(me, tls_ctx);
  }
  join_state* helping = s.publish(await_kind::join, child->id.load(std::memory_order_relaxed), "join");
  // Waiting for a task of another runtime, we are taken out of its join word off our runtime's
  // workers: by its completion on its runtime's worker (which then wakes us), or by its
  // runtime's end (orphan_record). Our runtime may end between that and our wake: its shutdown
  // finds us taken out (our hook does nothing), destroys our frame and may free the core, our
  // record with it, before the wake. A join word has no lock under which a completion could take
  // a hold first (as take_for_wake() does for a wait list), so we take it here, for whoever
  // takes us out to drop: the completion's wake, our hook (cancelled or abandoned while still
  // registered) or orphan_record's wake. A join within one runtime pays only this test.
  const bool far = child->rt != me->rt;
  if (far) [[unlikely]]
    me->rt->hold_for_wake();  // relaxed: ordered before the other side by our CAS (release)
  std::uintptr_t expected = join_running;
  // After this CAS succeeds the child's completion (on any thread) may resume us: touch nothing
  // of the awaiter or the frame afterwards.
  if (child->join.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(me), std::memory_order_acq_rel,
                                          std::memory_order_acquire))
    return join_state::suspended(helping);
  if (far) [[unlikely]]
    me->rt->drop_wake_hold();  // not registered; never the last reference (our runtime runs us)
  // Finished, cancelled, or (a child of another runtime) ended by its runtime's shutdown:
  // await_resume tells the last from the word (we set `waiting`).
  s.unpublish(helping);
  if (expected == join_cancel_pending &&
      child->join.compare_exchange_strong(expected, join_running, std::memory_order_acq_rel))
    s.mark_cancelled();
  // Finished meanwhile, or cancelled: resume at once. We may be here from a helped sibling's
  // completion (complete_helped), so the worker's current task is set back to the joiner.
  return transfer_to(me, tls_ctx);
}

std::coroutine_handle<> complete_helped(task_record* r, const std::exception_ptr& error) noexcept {
  worker_context* ctx = tls_ctx;
  join_state& s = *r->helping;
  r->helping = nullptr;
  record_completion(r, ctx, error);
  // Its own handle (usually held by the joiner we help, possibly by someone waiting already).
  std::uintptr_t prev = r->join.exchange(join_done, std::memory_order_acq_rel);
  if (prev == join_detached) {
    r->root.destroy();
    free_record(r);
  } else if (prev & 1) {
    auto* tw = reinterpret_cast<thread_waiter*>(prev & ~std::uintptr_t{1});
    tw->done.store(1, std::memory_order_release);
    sched::futex_wake(&tw->done);
  } else if (prev > join_cancel_pending) {
    wake_joiner(r, reinterpret_cast<task_record*>(prev));
  }
  // Back to the join we were helping with: the child itself may be at the bottom now.
  return join_next(s, ctx);
}

std::coroutine_handle<> after_suspend(join_state* hs) noexcept {
  worker_context* ctx = tls_ctx;
  if (hs) return join_next(*hs, ctx);
  // The task this one woke last (a channel's receiver, a mutex's next owner) usually waits in
  // the LIFO slot, the loop's next pick: resume it right here by symmetric transfer instead of
  // unwinding to the worker loop and dispatching it from there. (A trace records dispatches in
  // run_record_traced: with one on, the loop does it.)
  if (ctx && !ctx->tracing->load(std::memory_order_relaxed)) [[likely]] {
    if (sched::job* j = ctx->w->take_lifo_for_transfer(&run_record)) {
      auto* r = static_cast<task_record*>(j);
      ctx->current = r;
      r->set_running();
      return r->resume_point;
    }
  }
  return std::noop_coroutine();
}

void orphan_record(task_record* r) noexcept {
  std::uintptr_t prev = r->join.exchange(join_orphaned, std::memory_order_acq_rel);
  if (prev == join_detached) {
    free_record(r);
  } else if (prev & 1) {
    auto* tw = reinterpret_cast<thread_waiter*>(prev & ~std::uintptr_t{1});
    tw->done.store(2, std::memory_order_release);  // block_on throws runtime_stopped
    sched::futex_wake(&tw->done);
  } else if (prev > join_forked) {
    // A task waits in the word. One of our own runtime is ended by this same shutdown (its
    // abandoned hook finds the word orphaned and leaves it). One of another runtime is woken,
    // as the completion would have woken it (wake_joiner), and its join throws runtime_stopped
    // (join_awaiter::await_resume reads the word: our exchange happens-before its resumption,
    // through the queue it is woken by). Its cancel hook, racing us, finds the word orphaned
    // and leaves the wake to us. Its runtime may be ending meanwhile: it finds the joiner taken
    // out (not at a hook that would take it back) and ends it; the hold the joiner took at its
    // registration (join_suspend_slow), which we took over with it, keeps its core, and its
    // record, alive until wake_from_outside() is done with them, and is dropped there (possibly
    // the last reference). On one of the joiner's runtime's workers (a shutdown called from a task
    // of another runtime) that runtime is alive and runs the wake itself.
    auto* joiner = reinterpret_cast<task_record*>(prev);
    if (joiner->rt != r->rt) [[unlikely]] {
      if (wake_here(joiner, sched::hint::fifo))
        joiner->rt->drop_wake_hold();  // never the last reference: its runtime runs us
      else
        joiner->rt->wake_from_outside(joiner, sched::hint::wake);
    }
  }
  // Otherwise a handle still refers to the record and frees it when it lets go (a waiting task's
  // handle included, once woken: throw_join_ended_by_shutdown).
}

void check_far_join(const task_record* child, const runtime_core* mine) {
  // As runtime::check_block_on_handle, for a task's join: nothing runs a sim's tasks but its own
  // block_on or advance, on the thread that calls them, so a task of another runtime (threads,
  // or another sim) would wait for a task that nobody drives: a hang, unless some thread drives
  // the sim meanwhile. A task of the sim that has ended would give its value; it is refused too,
  // so the outcome does not depend on timing. The handle stays with its owner (its destructor
  // detaches the task; a sim's block_on may still join it). The other way round, a sim's task
  // may join another runtime's: that task ends on its own runtime's threads and wakes the sim
  // from outside (sim_options::wait_for_outside; without it the sim finding nothing else to do
  // reports a deadlock, it does not hang).
  const runtime_core* theirs = child->rt;
  if (!theirs->sched.manual()) return;
  throw usage_error("weft: co_await of the join_handle of a task of weft::testing::sim \"" + theirs->sched.opts().name +
                    "\" in a task of runtime \"" + mine->sched.opts().name +
                    "\"; only the sim's own block_on or advance run its tasks, on the thread that calls them, so this "
                    "would wait for a task that nothing runs. co_await it in another of the sim's tasks, or call "
                    "block_on of the sim with the handle");
}

void throw_join_ended_by_shutdown(task_record* r) {
  // The word stays join_orphaned: nobody else changes it, and the handle was ours (consumed).
  free_record(r);  // the frame is gone already; r->rt's core is let go if it has ended
  throw runtime_stopped("weft: the runtime shut down before the task finished");
}

void release_handle(task_record* r) noexcept {
  std::uintptr_t prev = r->join.exchange(join_detached, std::memory_order_acq_rel);
  if (prev == join_done) {
    r->root.destroy();
    free_record(r);
  } else if (prev == join_orphaned) {
    free_record(r);  // shutdown already destroyed the frame
  }
}

}  // namespace weft::detail
