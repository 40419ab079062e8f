// The slow half of the join protocol (task_record.hpp): completion of a spawned task that was
// not joined inline, joins that must wait, and handles that let go.

#include <weft/detail/join.hpp>

#include <weft/detail/current.hpp>

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

// Cancel hook of a waiting join: take the joiner back out of the child's `join` word and wake
// it; if it is not registered yet, leave a marker that makes its registration fail.
void slow_join_hook(cancel_hook* h) noexcept {
  auto& s = static_cast<join_state&>(*h);
  auto me = reinterpret_cast<std::uintptr_t>(s.me);
  std::uintptr_t v = me;
  for (;;) {
    if (s.child->join.compare_exchange_strong(v, join_running, std::memory_order_acq_rel)) {
      s.woken_by_cancel = true;
      s.me->rt->sched.schedule(s.me, sched::hint::wake);
      return;
    }
    if (v != join_running) return;  // done (completion resumes the joiner) or a marker already
    if (s.child->join.compare_exchange_strong(v, join_cancel_pending, std::memory_order_acq_rel))
      return;
    // the joiner registered in between: retry with its pointer
    v = me;
  }
}

}  // namespace

void count_failure(worker_context* ctx, runtime_core* rt, const std::exception_ptr& error) noexcept {
  bool cancelled = false;
  try {
    std::rethrow_exception(error);
  } catch (const cancelled_error&) {
    cancelled = true;
  } catch (...) {
  }
  if (ctx && ctx->rt == rt)
    (cancelled ? ctx->cancelled : ctx->failed).inc();
  else
    (cancelled ? rt->external_cancelled : rt->external_failed).fetch_add(1, std::memory_order_relaxed);
}

std::coroutine_handle<> complete_spawned(task_record* r, const std::exception_ptr& error) noexcept {
  worker_context* ctx = tls_ctx;
  runtime_core* rt = r->rt;
  if (ctx && ctx->rt == rt)
    ctx->completed.inc();
  else
    rt->external_completed.fetch_add(1, std::memory_order_relaxed);
  if (error) count_failure(ctx, rt, error);
  r->set_state(record_state::completed, rt->coarse_now());
  trace_complete(r);

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
  return transfer_to(reinterpret_cast<task_record*>(prev), ctx);
}

std::coroutine_handle<> join_suspend_slow(join_state& s, std::coroutine_handle<> h) noexcept {
  task_record* me = s.me;
  task_record* child = s.child;
  s.fn = &slow_join_hook;
  if (me->arm(&s)) {
    s.woken_by_cancel = true;
    return h;
  }
  me->set_awaiting(await_kind::join, child->id.load(std::memory_order_relaxed), me->rt->coarse_now());
  trace_wait(me, "join");
  std::uintptr_t expected = join_running;
  // After this CAS succeeds the child's completion (on any thread) may resume us: touch nothing
  // of the awaiter or the frame afterwards.
  if (child->join.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(me),
                                          std::memory_order_acq_rel, std::memory_order_acquire))
    return std::noop_coroutine();
  if (expected == join_cancel_pending &&
      child->join.compare_exchange_strong(expected, join_running, std::memory_order_acq_rel))
    s.woken_by_cancel = true;
  me->set_running();
  return h;  // finished meanwhile, or cancelled: resume at once
}

void inline_join_hook(cancel_hook* h) noexcept {
  // The joiner waits for the child it runs inline; cancelling the joiner cancels that child,
  // whose failure then unwinds the joiner. The child's record stays valid: the joiner frees it
  // only after disarm(), which waits for us.
  static_cast<join_state*>(h)->child->request_cancel();
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
