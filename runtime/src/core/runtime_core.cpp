#include <weft/detail/runtime_core.hpp>

#include <weft/detail/current.hpp>
#include <weft/errors.hpp>
#include <weft/sched/barrier.hpp>
#include <weft/sched/futex.hpp>

#include <algorithm>
#include <thread>
#include <utility>
#include <vector>

namespace weft::detail {

runtime_core::runtime_core(sched::options opts)
    : sched([&] {
        // Install the per-worker context around the user's thread hooks.
        auto user_start = std::move(opts.on_thread_start);
        auto user_stop = std::move(opts.on_thread_stop);
        opts.on_thread_start = [this, user_start](std::size_t i) {
          worker_context& ctx = contexts[i];
          ctx.rt = this;
          ctx.w = sched::this_worker();
          ctx.tracing = &tracer;
          tls_ctx = &ctx;
          if (user_start) user_start(i);
        };
        opts.on_thread_stop = [this, user_stop](std::size_t i) {
          if (user_stop) user_stop(i);
          contexts[i].release_all();
          // In manual mode the stopping thread may be another runtime's worker: leave its own.
          if (tls_ctx == &contexts[i]) tls_ctx = nullptr;
        };
        return opts;
      }()) {
  contexts = std::vector<worker_context>(sched.slots());
}

task_record* runtime_core::external_record(std::coroutine_handle<> h, std::string_view name, std::source_location site,
                                           cancel_state* token) {
  std::size_t n = 0;
  task_record* r = table.take(1, n);
  init_record(r, h, name, site, table.take_id(), 0, token, coarse_now(), nullptr);
  external_spawned.fetch_add(1, std::memory_order_relaxed);
  trace_spawn(r);  // a trace sees tasks spawned from outside too (rt.spawn, block_on)
  return r;
}

void runtime_core::free_record(task_record* r) noexcept {
  if (r->token) {
    r->token->release();
    r->token = nullptr;
  }
  worker_context* ctx = tls_ctx;
  if (ctx && ctx->rt == this) {
    // release: a dump that still reads this record sees the id change (task_record.hpp).
    r->id.store(0, std::memory_order_release);
    return ctx->free_record(r);
  }
  // Off the workers, perhaps while the runtime ends: the record's end and the look at `retired_`
  // are one step against retire()'s count. Either the count comes first, and counted the record
  // (it still had its id) and we drop its reference, or it comes after, and did not.
  bool retired;
  {
    std::lock_guard lock(retire_mu_);
    r->id.store(0, std::memory_order_release);
    r->next_ = nullptr;
    table.give(r, 1);
    retired = retired_;
  }
  if (retired) release();  // after the unlock: it may be the last reference
}

void entry_guard::throw_stopped() { throw runtime_stopped(); }

void runtime_core::add_hooks(area_hooks h) {
  std::lock_guard lock(hooks_mu_);
  hooks_.push_back(h);
}

void runtime_core::run_stop_hooks() noexcept {
  std::lock_guard lock(hooks_mu_);
  for (const auto& h : hooks_)
    if (h.stop) h.stop(*this);
}

void runtime_core::run_join_hooks() noexcept {
  std::lock_guard lock(hooks_mu_);
  for (const auto& h : hooks_)
    if (h.join) h.join(*this);
}

bool runtime_core::outside_work_pending() noexcept {
  std::lock_guard lock(hooks_mu_);
  for (const auto& h : hooks_)
    if (h.outside_work && h.outside_work(*this)) return true;
  return false;
}

void runtime_core::run_destroy_hooks() noexcept {
  std::lock_guard lock(hooks_mu_);
  for (const auto& h : hooks_)
    if (h.destroy) h.destroy(*this);
}

std::size_t runtime_core::cancel_live(std::uint32_t bit) {
  std::size_t live = 0;
  std::vector<task_record*> todo;
  table.for_each([&](task_record& r) {
    if (r.id.load(std::memory_order_acquire) == 0 || r.state.load(std::memory_order_relaxed) == record_state::completed)
      return;
    ++live;
    if (!(r.cancel_bits.load(std::memory_order_relaxed) & bit)) todo.push_back(&r);
  });
  // Outside the table's lock: a hook wakes its task, which may spawn (and take records). A
  // record may have been freed, even reused, meanwhile: cancelling it then cancels a task that
  // shutdown would cancel anyway, and a free record's bits are reset when it is reused.
  // In batches, with one membarrier per batch instead of one per task (task_record.hpp): 10,000
  // membarriers cost ~100 ms on this machine's VM. Batches stay small because a task that
  // resumes and disarms meanwhile waits for its batch's hooks to be done.
  //
  // A batch holds its tasks' cancel_busy, so it takes none by waiting: a task whose hook another
  // canceller is running is left to the end (its bit is set already), when this thread holds
  // nothing. Waiting for it inside a batch was a deadlock: that canceller may be a hook that
  // cancels other tasks (fork_scope's cancel_strands), waiting in turn for a task of the batch.
  constexpr std::size_t batch = 64;
  std::vector<task_record*> busy;
  for (std::size_t first = 0; first < todo.size(); first += batch) {
    const std::size_t end = std::min(first + batch, todo.size());
    for (std::size_t i = first; i < end; ++i)
      if (!todo[i]->try_begin_cancel(bit)) busy.push_back(std::exchange(todo[i], nullptr));
    sched::heavy_barrier();
    for (std::size_t i = first; i < end; ++i)
      if (todo[i]) todo[i]->end_cancel(hook_op::cancel_all);
  }
  for (task_record* r : busy) {
    r->begin_cancel(bit);
    sched::heavy_barrier();
    r->end_cancel(hook_op::cancel_all);
  }
  return live;
}

std::size_t runtime_core::destroy_live_tasks() {
  std::vector<task_record*> live;
  // A child of weft::fork, or a fork_scope's continuation record, is left to its parent:
  // destroying the parent's frame destroys the child's frame and frees its record
  // (detail/fork.hpp, detail/fork_scope.hpp).
  std::vector<task_record*> forked;
  table.for_each([&](task_record& r) {
    if (r.id.load(std::memory_order_acquire) != 0 && r.state.load(std::memory_order_relaxed) != record_state::completed)
      (is_forked(&r) ? forked : live).push_back(&r);
  });
  // First, while every frame is alive, take each suspended task's cancel hook and token
  // callback back (the forked ones' too): a frame destroyed below may cancel a source (a
  // server's destructor stopping its connections) whose callbacks would otherwise reach
  // awaiters already destroyed.
  for (task_record* r : live) r->disarm();
  for (task_record* r : forked) r->disarm();
  // Destroying a frame runs its locals' destructors: join handles it holds let go of their
  // children (which are in `live` too, and are destroyed in their turn, in any order).
  for (task_record* r : live) {
    r->root.destroy();
    r->set_state(record_state::completed, coarse_now());
    orphan_record(r);
  }
  return live.size();
}

void runtime_core::retire() noexcept {
  // Records still allocated now belong to handles held outside the runtime (finished tasks not
  // yet joined, or orphans): each keeps the core alive until its handle lets go.
  {
    std::lock_guard lock(retire_mu_);  // one step against each free_record() off the workers
    retired_ = true;
    std::size_t held = 0;
    table.for_each([&](task_record& r) {
      if (r.id.load(std::memory_order_acquire) != 0) ++held;
    });
    refs_.fetch_add(held, std::memory_order_relaxed);
  }
  release();
}

bool runtime_core::enter_outside() noexcept {
  outside_pushes_.fetch_add(1, std::memory_order_relaxed);
  // Between our count and our look at the stop flag, as end_outside_pushes() has its fence
  // between the flag's store (sched.stop()) and its look at the count: either it sees us and
  // waits, or we see the workers stopping.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return !sched.stopping();
}

void runtime_core::leave_outside() noexcept {
  // release: our last touch of the scheduler happens-before end_outside_pushes() returns.
  outside_pushes_.fetch_sub(1, std::memory_order_release);
}

void runtime_core::wake_from_outside(task_record* r, sched::hint h) noexcept {
  if (enter_outside()) {
    r->set_state(record_state::runnable, coarse_now());
    sched.schedule(r, h);  // to the injector: this is not one of our workers
  }
  leave_outside();
  release();  // the reference of hold_for_wake(): after the runtime's end, the last one
}

void runtime_core::post_from_outside(sched::job* j) noexcept {
  hold_for_wake();  // the caller's runtime is alive: refs_ >= 1
  const bool queued = enter_outside();
  if (queued) sched.schedule(j, sched::hint::fifo);
  leave_outside();
  if (!queued) j->discard_(j);  // the workers are stopping: destroyed unrun, as shutdown would
  release();
}

void runtime_core::end_outside_pushes() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with enter_outside()'s fence
  while (outside_pushes_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

void runtime_core::release() noexcept {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

}  // namespace weft::detail
