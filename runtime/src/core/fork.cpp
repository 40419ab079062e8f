// The slow half of weft::fork (detail/fork.hpp): children that run as tasks of their own, the
// parent's wait for them, and their records.

#include <weft/detail/fork.hpp>

#include <weft/detail/current.hpp>
#include <weft/detail/join_word.hpp>
#include <weft/detail/promise.hpp>
#include <weft/detail/runtime_core.hpp>
#include <weft/errors.hpp>
#include <weft/sched/barrier.hpp>

namespace weft::detail {

void run_fork_slot(sched::job* j) noexcept {
  auto* s = static_cast<fork_slot*>(j);
  fork_join& f = *s->fork;
  worker_context* ctx = tls_ctx;
  task_record* r = ctx->alloc_record();
  cancel_state* token = f.token;
  if (token) token->add_ref();
  init_record(r, s->child, {}, f.site, ctx->next_id(), 0, token, ctx->rt->coarse_now(), f.parent);
  mark_forked(r);
  // The parent's canceller reads the record (cancel_children) after setting the parent's bit;
  // we read the bit after publishing the record: one of the two sees the other.
  s->record.store(r, std::memory_order_release);
  sched::light_barrier();  // pairs with heavy_barrier() in request_cancel()
  if (std::uint32_t bits = f.parent->cancel_bits.load(std::memory_order_relaxed))
    r->cancel_bits.fetch_or(bits, std::memory_order_relaxed);
  ctx->current = r;
  ctx->w->switch_current(r);
  if (ctx->rt->tracer.load(std::memory_order_relaxed)) [[unlikely]] {
    // A trace sees it as any task: spawned here, then a run (its record's first dispatch).
    trace_spawn(r);
    return run_record(r);
  }
  r->set_running();
  s->child.resume();
}

std::coroutine_handle<> fork_complete_own(fork_slot* s, const std::exception_ptr& error) noexcept {
  task_record* r = s->record.load(std::memory_order_relaxed);
  fork_join& f = *s->fork;
  runtime_core* rt = r->rt;
  worker_context* ctx = tls_ctx;
  record_completion(r, ctx, error);
  task_record* parent = f.parent;
  std::coroutine_handle<> h = f.parent_h;
  // acq_rel: the release publishes this child's result to the parent; the last one acquires
  // the others' and the parent's registration. Touch nothing of `f` afterwards unless last.
  if (f.pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return std::noop_coroutine();
  if (!ctx || ctx->rt != rt) {
    // Off the parent's runtime's workers: wake() holds that runtime's core while it queues the
    // parent, which may end, and its runtime be destroyed, at once.
    wake(parent);
    return std::noop_coroutine();
  }
  ctx->switch_to(parent);
  return h;
}

std::coroutine_handle<> fork_wait(fork_join& f) noexcept {
  const auto outside = static_cast<std::int32_t>(f.n - f.next);
  task_record* me = f.parent;
  // The slots popped here ran here (the others count themselves, fork_complete_own).
  worker_context* ctx = tls_ctx;
  if (ctx && ctx->rt == me->rt) ctx->completed.inc(f.next - 1);
  me->resume_point = f.parent_h;
  f.waited = true;
  // From here a canceller of the parent cancels the children that have records; one that gets
  // its record later reads the parent's bit itself (run_fork_slot). Already cancelled: do it
  // ourselves.
  if (me->arm(&f, false)) fork_join::cancel_children(&f, hook_op::cancel);
  me->set_awaiting(await_kind::join, 0, me->rt->coarse_now(), "fork");
  // After this add, the last child's completion (on any thread) may resume the parent: touch
  // nothing of `f` afterwards unless the add itself reached zero.
  if (f.pending.fetch_add(outside, std::memory_order_acq_rel) + outside == 0) {
    me->set_running();
    return f.parent_h;
  }
  return std::noop_coroutine();
}

void fork_join::cancel_children(cancel_hook* h, hook_op op) noexcept {
  // Shutdown cancels every task, these too; a destroyed frame wakes nobody.
  if (op != hook_op::cancel) return;
  auto& f = static_cast<fork_join&>(*h);
  // `next` is final once the hook is armed (the arm's release store published it), and the
  // records stay valid until the parent frees them, after it disarmed (which waits for us).
  for (std::uint32_t k = f.next; k < f.n; ++k)
    if (task_record* r = f.slots[k - 1].record.load(std::memory_order_acquire)) r->request_cancel();
}

void fork_disarm_unfinished(fork_slot* slots, std::uint32_t n) noexcept {
  for (std::uint32_t k = 0; k < n; ++k) {
    task_record* r = slots[k].record.load(std::memory_order_acquire);
    if (r && r->state.load(std::memory_order_relaxed) != record_state::completed) r->disarm();
  }
}

void fork_release_records(fork_slot* slots, std::uint32_t n) noexcept {
  for (std::uint32_t k = 0; k < n; ++k) {
    if (task_record* r = slots[k].record.load(std::memory_order_acquire)) {
      if (r->state.load(std::memory_order_relaxed) != record_state::completed)
        r->set_state(record_state::completed, r->rt->coarse_now());  // ended by shutdown
      free_record(r);
    }
  }
}

void throw_bad_fork_task() { throw usage_error("weft: weft::fork of an empty task, or of one already awaited"); }

void throw_fork_off_runtime() {
  throw usage_error("weft: weft::fork can only be awaited inside a task running on a weft runtime");
}

}  // namespace weft::detail
