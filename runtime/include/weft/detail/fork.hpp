#pragma once
// weft::detail::fork_join: the machinery of weft::fork (fork.hpp), structured fork-join that
// gives a child a task record only if another worker (or the loop) runs it.
//
//   co_await weft::fork(a(), b(), c()):
//     push c's slot, push b's (fork_slot jobs, on this worker's deque, as one batch), run a at
//     once (symmetric transfer; a has no slot: it is never pushed, so never runs as a task of
//     its own, and its promise points at the fork_join itself). When a child this worker runs
//     completes, its final suspend point pops the bottom: the next slot still there? Run it at
//     once too. Not there (stolen, or buried under jobs somebody left above it)? Then it and
//     every later slot run as tasks of their own (run_fork_slot: whichever worker runs the slot
//     makes a record for it), and the parent waits for them on `pending`.
//
// A child run at once is part of its parent's task, as a plainly awaited task<T> is: it runs
// under the parent's record (its cancellation, its name in dumps and stall reports), and if it
// suspends, its parent is the task that is suspended. A child that runs as a task of its own
// gets a record as a spawn does (named after the fork's call site, with the parent's token and
// cancellation), so dumps and the stall detector see it; its join word says `join_forked`.
//
// `pending` counts the completions of the children that ran as tasks of their own (each
// subtracts one) against their number (the parent adds it once it knows it): the one that
// brings it to zero resumes the parent. Before the parent adds, it is at most zero and a
// subtraction leaves it below zero, so zero is reached exactly once. A fork whose children all
// ran at once touches no atomic read-modify-write at all.
//
// Records and frames: the parent's awaiter owns every child's frame, and frees the records of
// the children that had one, after their frames (they may still be suspended, when shutdown
// destroys the parent). So a record stays valid while the parent waits, which lets a canceller
// of the parent reach its children (fork_join's hook), and shutdown leaves `join_forked` records
// to their parent (runtime_core::destroy_live_tasks).

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <source_location>

#include <weft/detail/task_record.hpp>
#include <weft/detail/worker_context.hpp>
#include <weft/sched/job.hpp>
#include <weft/sched/scheduler.hpp>

namespace weft::detail {

struct fork_join;

/// Counts a task that finished by an exception (join.cpp).
void count_failure(worker_context* ctx, runtime_core* rt, const std::exception_ptr& error) noexcept;

/// The job function of a slot run as a task of its own (stolen, or left for the loop).
void run_fork_slot(sched::job* j) noexcept;

/// One child of a fork: its job on the deque, and the record it gets if it runs as a task of
/// its own.
struct fork_slot : sched::job {
  fork_slot(std::coroutine_handle<> c, fork_join* f) noexcept : child(c), fork(f) { run_ = &run_fork_slot; }
  std::coroutine_handle<> child;
  fork_join* fork;
  /// Null while the child runs (or ran) as part of its parent. Written by the worker that makes
  /// the record, read by the parent's cancel hook on a canceller's thread.
  std::atomic<task_record*> record{nullptr};
};

/// The part of a fork's awaiter that is not typed by the children. Its hook, armed while the
/// parent waits for children that run as tasks of their own, cancels them.
struct fork_join : cancel_hook {
  fork_join() noexcept { fn = &cancel_children; }
  fork_slot* slots = nullptr;     ///< children 1..n-1 (slots[k - 1] is child k's)
  std::uint32_t n = 0;            ///< children, the first (run at once, no slot) included
  std::uint32_t next = 0;         ///< the next child the parent expects at the bottom of its deque
  sched::worker* home = nullptr;  ///< the parent's worker, where its slots were pushed
  bool waited = false;            ///< the parent armed the hook (fork_wait): await_resume disarms
  task_record* parent = nullptr;
  std::coroutine_handle<> parent_h;
  cancel_state* token = nullptr;  ///< the parent's, at the fork (a stolen child shares it)
  std::source_location site;
  std::atomic<std::int32_t> pending{0};

  static void cancel_children(cancel_hook* h, hook_op op) noexcept;
};

/// Completion of a child that ran as a task of its own (fork.cpp).
std::coroutine_handle<> fork_complete_own(fork_slot* s, const std::exception_ptr& error) noexcept;
/// The parent ran what it could itself: it waits for the rest (fork.cpp).
std::coroutine_handle<> fork_wait(fork_join& f) noexcept;

/// After a child run as part of its parent completed: the next slot if it is still at the
/// bottom of this worker's deque, else the parent (everything done) or the wait for the others.
inline std::coroutine_handle<> fork_next(fork_join& f) noexcept {
  worker_context* ctx = tls_ctx;
  if (f.next < f.n) {
    // On another worker (the child suspended and came back there) or off the workers: wait.
    // (A thief that took half of the home deque may hold the slot at its bottom; it then runs
    // as a task of its own, which is correct, only not as cheap.)
    if (ctx && ctx->w == f.home) [[likely]] {
      if (sched::job* bottom = ctx->w->pop_local()) {
        fork_slot* s = &f.slots[f.next - 1];
        if (bottom == s) {
          ++f.next;
          return s->child;
        }
        ctx->w->push_back_local(bottom);  // somebody else's: leave it
      }
    }
    return fork_wait(f);
  }
  // Every pushed slot ran here: counted completed at once, as their pushes counted them.
  if (ctx) ctx->completed.inc(f.n - 1);
  return f.parent_h;
}

/// A child's tagged pointer in its promise's `record_` (promise.hpp): its slot | 1, or, for the
/// first child (no slot), its fork_join | 3. Both are at least 4-byte aligned.
inline constexpr std::uintptr_t fork_tag = 1, fork_first_tag = 3;
static_assert(alignof(fork_slot) >= 4 && alignof(fork_join) >= 4, "the tags need two free low bits");

/// The final suspend point of a fork's child; `tagged` is its promise's `record_`.
[[gnu::always_inline]] inline std::coroutine_handle<> fork_complete(std::uintptr_t tagged,
                                                                    const std::exception_ptr& error) noexcept {
  if ((tagged & fork_first_tag) == fork_first_tag) [[likely]] {
    fork_join& f = *reinterpret_cast<fork_join*>(tagged - fork_first_tag);
    if (error) [[unlikely]]
      count_failure(tls_ctx, f.parent->rt, error);
    return fork_next(f);
  }
  auto* s = reinterpret_cast<fork_slot*>(tagged - fork_tag);
  // Its own thread wrote the record, if any: relaxed.
  if (!s->record.load(std::memory_order_relaxed)) [[likely]] {
    if (error) [[unlikely]]
      count_failure(tls_ctx, s->fork->parent->rt, error);
    return fork_next(*s->fork);
  }
  return fork_complete_own(s, error);
}

/// Starts a fork of `n` children (a constant where the caller knows it) whose slots are built:
/// pushes the slots of children n-1..1 and returns `first`, to run at once. `me` is the running
/// task, on `ctx`.
[[gnu::always_inline]] inline std::coroutine_handle<> fork_start(fork_join& f, std::uint32_t n, worker_context* ctx,
                                                                 task_record* me, std::coroutine_handle<> parent,
                                                                 std::coroutine_handle<> first) noexcept {
  f.n = n;
  f.parent = me;
  f.parent_h = parent;
  f.token = me->token;
  f.next = 1;
  sched::worker* w = ctx->w;
  f.home = w;
  // Child 1's slot pushed last: it is the first popped back.
  if (n > 1) w->push_n(n - 1, [slots = f.slots, last = n - 2](std::uint32_t i) { return &slots[last - i]; });
  return first;
}

/// The parent's side once every child is done: disarms the hook if the parent waited.
inline void fork_leave(fork_join& f) noexcept {
  if (f.waited) [[unlikely]]
    f.parent->disarm();
}

/// Frees the records of the children that had one, after their frames are gone; a child that
/// did not finish (its parent destroyed by shutdown) is marked completed first (fork.cpp).
/// `slots` and `n` count slots (children 1..), not children.
void fork_release_records(fork_slot* slots, std::uint32_t n) noexcept;
/// Before the frames go: a child with a record that did not finish gives back its hook and token
/// callback while its frame is alive (shutdown; fork.cpp).
void fork_disarm_unfinished(fork_slot* slots, std::uint32_t n) noexcept;

}  // namespace weft::detail
