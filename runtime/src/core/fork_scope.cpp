// The slow half of weft::fork_scope (detail/fork_scope.hpp): a continuation taken from the
// deque, the strands that end before the last, the join, cancellation and shutdown.

#include <weft/fork_scope.hpp>

#include <cstdio>
#include <cstdlib>

#include <weft/detail/join_word.hpp>
#include <weft/detail/runtime_core.hpp>
#include <weft/sched/barrier.hpp>

namespace weft::detail {

namespace {

/// The child `frame` completed: takes it from wherever the scope keeps it (its `child`, or the
/// entry of the steal that took it), so that a shutdown does not destroy it again.
void forget_child(scope_state& s, void* frame) noexcept {
  void* expected = frame;
  if (s.child.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel)) return;
  // A steal took it: its entry was published before the steal cleared `child` (run_scope_cont),
  // and our failed exchange read that clearing, so this walk finds the entry. The frame is alive
  // (we are in its final suspend), so no other entry holds its address.
  for (scope_steal* e = s.steals_list.load(std::memory_order_acquire); e; e = e->next) {
    expected = frame;
    if (e->child.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel)) return;
  }
}

/// Every strand ended (or the scope is abandoned at shutdown): frees the continuation records
/// and the entries.
void release_steals(scope_state& s) noexcept {
  scope_steal* e = s.steals_list.exchange(nullptr, std::memory_order_acquire);
  while (e) {
    scope_steal* next = e->next;
    task_record* r = e->record;
    r->set_state(record_state::completed, r->rt->coarse_now());
    free_record(r);
    delete e;
    e = next;
  }
}

/// The last strand ended: the parent goes on under the owner, here.
std::coroutine_handle<> finish_join(scope_state& s, worker_context* ctx) noexcept {
  task_record* owner = s.owner;
  if (s.owner_waits) {
    s.owner_waits = false;
    owner->disarm();  // waits for a canceller inside cancel_strands, before the records go
  }
  release_steals(s);
  ctx->switch_to(owner);
  return s.parent;
}

}  // namespace

void run_scope_cont(sched::job* j) noexcept {
  scope_state& s = *static_cast<scope_state*>(j);
  worker_context* ctx = tls_ctx;
  task_record* owner = s.owner;
  task_record* r = ctx->alloc_record();
  cancel_state* token = owner->token;
  if (token) token->add_ref();
  init_record(r, s.parent, {}, s.site, ctx->next_id(), 0, token, ctx->rt->coarse_now(), owner);
  // Named as the task it continues.
  for (std::size_t i = 0; i < task_record::name_words; ++i)
    r->name[i].store(owner->name[i].load(std::memory_order_relaxed), std::memory_order_relaxed);
  mark_forked(r);  // no handle; shutdown leaves it to the scope, which frees it
  // The entry first, with the child that was running; then the child leaves the scope's `child`
  // for it. A child that completes meanwhile takes itself from whichever holds it (forget_child).
  auto* e = new scope_steal;  // a steal's cost; bad_alloc here ends the program (noexcept)
  e->record = r;
  void* running = s.child.load(std::memory_order_relaxed);
  e->child.store(running, std::memory_order_relaxed);
  e->next = s.steals_list.load(std::memory_order_relaxed);
  // release: a completing child's walk and the owner's canceller see the entry whole.
  s.steals_list.store(e, std::memory_order_release);
  if (running && !s.child.compare_exchange_strong(running, nullptr, std::memory_order_acq_rel))
    e->child.store(nullptr, std::memory_order_relaxed);  // it completed: it took itself from `child`
  // The owner's canceller walks the entries after setting the owner's bits; we read the bits
  // after publishing the entry: one of the two sees the other.
  sched::light_barrier();  // pairs with heavy_barrier() in request_cancel()
  if (std::uint32_t bits = owner->cancel_bits.load(std::memory_order_relaxed))
    r->cancel_bits.fetch_or(bits, std::memory_order_relaxed);
  ++s.steals;  // the parent's strand is ours now
  ctx->switch_to(r);
  s.parent.resume();
}

std::coroutine_handle<> scope_strand_end(scope_state& s, std::coroutine_handle<> frame) noexcept {
  worker_context* ctx = tls_ctx;
  task_record* me = ctx->current;
  forget_child(s, frame.address());
  frame.destroy();
  task_record* owner = s.owner;
  if (me == owner) {
    // The first steal's child: the owner waits for the join, which resumes the parent under it;
    // meanwhile a canceller of the owner cancels the continuation records.
    s.owner_waits = true;
    owner->set_awaiting(await_kind::other, 0, owner->rt->coarse_now(), "fork_scope join");
    if (owner->arm(&s, false)) scope_state::cancel_strands(&s, hook_op::cancel);
  } else {
    me->set_state(record_state::completed, me->rt->coarse_now());  // freed at the join
  }
  // acq_rel: the release publishes this strand's results; the last acquires the others'.
  // Touch nothing of `s` afterwards unless last: the parent may be past its join.
  if (s.pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return std::noop_coroutine();
  return finish_join(s, ctx);
}

std::coroutine_handle<> scope_join_wait(scope_state& s) noexcept {
  worker_context* ctx = tls_ctx;
  // After a steal the parent runs under a continuation record: its strand ends here.
  ctx->current->set_state(record_state::completed, ctx->rt->coarse_now());
  const std::int32_t steals = s.steals;
  if (s.pending.fetch_add(steals, std::memory_order_acq_rel) + steals != 0) return std::noop_coroutine();
  return finish_join(s, ctx);
}

void scope_state::cancel_strands(cancel_hook* h, hook_op op) noexcept {
  // Shutdown cancels every task, these too; a destroyed frame wakes nobody.
  if (op != hook_op::cancel) return;
  auto& s = static_cast<scope_state&>(*h);
  // The entries stay until the join, after the owner disarmed (which waits for us).
  for (scope_steal* e = s.steals_list.load(std::memory_order_acquire); e; e = e->next) e->record->request_cancel();
}

void scope_state::fail(std::exception_ptr e) noexcept {
  if (!failed.exchange(true, std::memory_order_relaxed)) error = std::move(e);
}

void scope_state::abandon() noexcept {
  // Shutdown destroys the frames of the tasks it ended, off the workers, once they stopped: the
  // children still outstanding go with the parent's frame. Anywhere else an exception left the
  // parent between a fork and the join, with children that write into its frame: fatal.
  worker_context* ctx = tls_ctx;
  runtime_core* rt = owner ? owner->rt : nullptr;
  if (!rt || !rt->stopped.load(std::memory_order_acquire) || (ctx && ctx->rt == rt)) {
    std::fputs(
        "weft: a fork_scope was left with children running (an exception between fork and join); "
        "co_await scope.join() must end every scope\n",
        stderr);
    std::abort();
  }
  if (void* c = child.exchange(nullptr, std::memory_order_relaxed)) std::coroutine_handle<>::from_address(c).destroy();
  for (scope_steal* e = steals_list.load(std::memory_order_relaxed); e; e = e->next)
    if (void* c = e->child.exchange(nullptr, std::memory_order_relaxed))
      std::coroutine_handle<>::from_address(c).destroy();
  release_steals(*this);
  steals = 0;
}

void scope_rethrow(scope_state& s) {
  s.cancelled = false;
  if (s.failed.load(std::memory_order_relaxed)) {
    s.failed.store(false, std::memory_order_relaxed);
    std::rethrow_exception(std::exchange(s.error, nullptr));
  }
  throw cancelled_error();
}

void throw_scope_off_runtime() {
  throw usage_error("weft: fork_scope::fork can only be awaited inside a task running on a weft runtime");
}

void throw_bad_scope_task() { throw usage_error("weft: fork_scope::fork of an empty task, or of one already awaited"); }

}  // namespace weft::detail
