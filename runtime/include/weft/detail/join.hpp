#pragma once
// The join side of the protocol in task_record.hpp: awaiting a join handle, and letting go of
// one. The fast path (the child still sits at the bottom of our own deque) runs the child
// inline and costs no atomic read-modify-write; the slow path registers the joiner in the
// child's `join` word with one CAS.

#include <coroutine>
#include <cstdint>
#include <utility>

#include <weft/detail/promise.hpp>
#include <weft/detail/runtime_core.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/errors.hpp>

namespace weft::detail {

/// The part of a join awaiter that is not typed by T (the hooks and the slow path use it).
struct join_state : cancel_hook {
  task_record* child;
  task_record* me = nullptr;
  bool woken_by_cancel = false;
};

/// Slow join: registers `me` as the child's waiter (task.cpp).
std::coroutine_handle<> join_suspend_slow(join_state& s, std::coroutine_handle<> h) noexcept;
/// Cancel hook of an inline join: cancels the child that runs on our behalf.
void inline_join_hook(cancel_hook* h) noexcept;
/// Drops a handle's claim on a record (detach / destroy without join).
void release_handle(task_record* r) noexcept;
/// Frees a joined child: destroys its frame and returns its record.
inline void finish_join(task_record* r) noexcept {
  r->root.destroy();
  free_record(r);
}

inline std::coroutine_handle<> join_suspend(join_state& s, std::coroutine_handle<> h) {
  worker_context* ctx = tls_ctx;
  if (!ctx || !ctx->current) [[unlikely]]
    throw usage_error("weft: a join_handle can only be awaited inside a task running on a weft runtime");
  task_record* me = ctx->current;
  s.me = me;
  me->resume_point = h;
  task_record* child = s.child;
  if (child->rt == ctx->rt && ctx->w->take_if_next(child)) {
    s.fn = &inline_join_hook;
    if (me->arm(&s)) [[unlikely]] {  // we are cancelled: put the child back, throw on resume
      ctx->w->push(child);
      s.woken_by_cancel = true;
      return h;
    }
    child->inline_joiner = me;
    std::int64_t now = ctx->rt->coarse_now();
    me->set_awaiting(await_kind::join, child->id.load(std::memory_order_relaxed), now);
    ctx->current = child;
    ctx->w->switch_current(child);
    child->set_running();
    return child->resume_point;
  }
  return join_suspend_slow(s, h);
}

template <class T>
class join_awaiter : join_state {
 public:
  explicit join_awaiter(task_record*& handle_slot) noexcept : slot_(&handle_slot) { child = handle_slot; }

  bool await_ready() const noexcept {
    return child->join.load(std::memory_order_acquire) == join_done;
  }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) { return join_suspend(*this, h); }

  T await_resume() {
    if (me) me->disarm();
    if (woken_by_cancel) throw cancelled_error();
    *slot_ = nullptr;  // the handle is consumed
    auto h = std::coroutine_handle<promise<T>>::from_address(child->root.address());
    struct release_guard {
      task_record* r;
      ~release_guard() { finish_join(r); }
    } guard{child};
    return h.promise().take();
  }

 private:
  task_record** slot_;
};

}  // namespace weft::detail
