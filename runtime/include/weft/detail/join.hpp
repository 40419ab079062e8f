#pragma once
// The join side of the protocol in task_record.hpp: awaiting a join handle, and letting go of
// one. The fast path (the child still sits at the bottom of our own deque) runs the child
// inline and costs no atomic read-modify-write; the slow path registers the joiner in the
// child's `join` word with one CAS.

#include <coroutine>
#include <cstdint>
#include <utility>

#include <weft/detail/join_word.hpp>
#include <weft/detail/promise.hpp>
#include <weft/detail/runtime_core.hpp>
#include <weft/detail/suspension.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/errors.hpp>

namespace weft::detail {

/// The part of a join awaiter that is not typed by T (the hooks and the slow path use it).
/// A suspension (suspension.hpp) whose resource is the child's `join` word.
struct join_state : suspension {
  explicit join_state(task_record* c) noexcept : suspension(&join_hook), child(c) {}

  task_record* me() const noexcept { return task_; }

  task_record* child;
  /// 0 while the joiner runs its child (or a sibling) inline; 1 once it waits in child->join.
  /// Read by the cancel hook on the canceller's thread.
  std::atomic<std::uint8_t> waiting{0};

  // The protocol's steps, for the join's free functions below and in join.cpp.
  using suspension::arm;
  using suspension::leave;
  using suspension::mark_cancelled;
  using suspension::publish;
  using suspension::suspended;
  void start(task_record* me, std::coroutine_handle<> h) noexcept {
    task_ = me;
    me->resume_point = h;
  }
  /// The wait was not published after all (the child finished, or a cancel came first).
  void unpublish(join_state* helping) noexcept { not_suspended(helping, {}); }

  /// The one hook of a join: cancels the child run inline, or takes a waiting joiner back out
  /// (join.cpp).
  static void join_hook(cancel_hook* h, hook_op op) noexcept;
};

/// Slow join: registers `me` as the child's waiter (join.cpp).
std::coroutine_handle<> join_suspend_slow(join_state& s) noexcept;
/// A join of a task of another runtime than `mine`: usage_error if that is a sim's (join.cpp).
[[gnu::cold]] void check_far_join(const task_record* child, const runtime_core* mine);
/// Drops a handle's claim on a record (detach / destroy without join).
void release_handle(task_record* r) noexcept;
/// A join that found its child ended unfinished by its runtime's shutdown (join.cpp): frees the
/// record (the frame is gone) and throws runtime_stopped.
[[noreturn, gnu::cold]] void throw_join_ended_by_shutdown(task_record* r);
/// Frees a joined child: destroys its frame and returns its record.
inline void finish_join(task_record* r) noexcept {
  r->root.destroy();
  free_record(r);
}

/// What the joiner `s.me` runs next on this worker (`ctx`):
///   - its child, if it sits at the bottom of the deque: inline, no atomic RMW (the fast path);
///   - else a sibling at the bottom (a task `me` spawned): inline too, and when that one
///     completes it comes back here (help-first: joining children in spawn order, as loops do,
///     finds the last-spawned at the bottom);
///   - else it waits for the child (join_suspend_slow).
inline std::coroutine_handle<> join_next(join_state& s, worker_context* ctx) noexcept {
  task_record* me = s.me();
  task_record* child = s.child;
  if (child->rt == ctx->rt) {
    if (sched::job* bottom = ctx->w->pop_local()) {
      task_record* next = nullptr;
      if (bottom == child) {
        child->inline_joiner.store(me, std::memory_order_relaxed);
        next = child;
      } else if (bottom->run_ == &run_record &&
                 static_cast<task_record*>(bottom)->spawner.load(std::memory_order_relaxed) == me) {
        next = static_cast<task_record*>(bottom);
        next->helping = &s;
      }
      if (next) {
        ctx->switch_to(next);
        return next->resume_point;
      }
      ctx->w->push_back_local(bottom);  // somebody else's: leave it
    }
  }
  return join_suspend_slow(s);
}

inline std::coroutine_handle<> join_suspend(join_state& s, std::coroutine_handle<> h) {
  worker_context* ctx = tls_ctx;
  if (!ctx || !ctx->current) [[unlikely]]
    throw usage_error("weft: a join_handle can only be awaited inside a task running on a weft runtime");
  if (s.child->rt != ctx->rt) [[unlikely]]
    check_far_join(s.child, ctx->rt);
  task_record* me = ctx->current;
  s.start(me, h);
  if (!s.arm(false)) [[unlikely]]
    return h;  // already cancelled: throw on resume
  me->set_awaiting(await_kind::join, s.child->id.load(std::memory_order_relaxed), ctx->rt->coarse_now());
  return join_next(s, ctx);
}

/// Completion of a task that ran inline to help a joiner (join.cpp): publishes its result to
/// its own handle, then goes on with the join it helped.
std::coroutine_handle<> complete_helped(task_record* r, const std::exception_ptr& error) noexcept;

template <class T>
class join_awaiter : join_state {
 public:
  explicit join_awaiter(task_record*& handle_slot) noexcept : join_state(handle_slot), slot_(&handle_slot) {}

  /// A finished child of another runtime is joined through await_suspend too, so that a sim's
  /// is refused whatever its state (check_far_join). The ready path pays a compare of runtimes.
  bool await_ready() const noexcept {
    if (!join_finished(child)) return false;
    const worker_context* ctx = tls_ctx;
    return !ctx || ctx->rt == child->rt;
  }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) { return join_suspend(*this, h); }

  T await_resume() {
    leave();
    *slot_ = nullptr;  // the handle is consumed
    // A child of another runtime may have been ended by that runtime's shutdown, its frame
    // destroyed, before we registered (our CAS failed on join_orphaned) or while we waited
    // (orphan_record took us out and woke us). Only a join that went to wait (`waiting`, set by
    // join_suspend_slow) can meet that: a child that was ready, or ran inline, finished. So the
    // common joins pay a test of our own flag, and the frame is read only once it is known alive.
    if (waiting.load(std::memory_order_relaxed)) [[unlikely]]
      if (join_ended_by_shutdown(child)) throw_join_ended_by_shutdown(child);
    auto& p = std::coroutine_handle<promise<T>>::from_address(child->root.address()).promise();
    if (p.exception_) [[unlikely]] {
      std::exception_ptr e = std::move(p.exception_);
      finish_join(child);
      std::rethrow_exception(std::move(e));
    }
    if constexpr (std::is_void_v<T>) {
      finish_join(child);
    } else {
      T value = p.take();
      finish_join(child);
      return value;
    }
  }

 private:
  task_record** slot_;
};

}  // namespace weft::detail
