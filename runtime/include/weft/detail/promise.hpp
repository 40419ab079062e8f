#pragma once
// weft::detail::promise<T>: the promise of weft::task<T>.
//
// A task frame is either awaited inline (`continuation_` is the awaiting coroutine, resumed by
// symmetric transfer at the final suspend point) or the root of a spawned task (`record_` is its
// task record, and completion follows the join protocol in task_record.hpp). Frames come from
// the worker's recycling allocator (sched/frame_allocator.hpp).

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

#include <weft/detail/fork.hpp>
#include <weft/detail/fork_scope.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/detail/worker_context.hpp>
#include <weft/sched/frame_allocator.hpp>
#include <weft/sched/worker.hpp>

namespace weft {
template <class T>
class task;
}

namespace weft::detail {

/// Completion of a spawned task that nobody joined inline: the join protocol (join.cpp);
/// returns what runs next.
std::coroutine_handle<> complete_spawned(task_record* r, const std::exception_ptr& error) noexcept;

/// Counts a task that finished by an exception: cancelled (a cancelled_error, timeout_error
/// included) or failed. Off the hot path: only failures get here.
void count_failure(worker_context* ctx, runtime_core* rt, const std::exception_ptr& error) noexcept;

void trace_complete(task_record* r) noexcept;

/// A task with a record finished (on `ctx`, or off this runtime's workers): counts it (and its
/// failure), marks its record completed, traces it (join.cpp).
void record_completion(task_record* r, worker_context* ctx, const std::exception_ptr& error) noexcept;

/// Whether `error` is a cancelled_error (timeout_error included).
bool is_cancellation(const std::exception_ptr& error) noexcept;

std::coroutine_handle<> complete_helped(task_record* r, const std::exception_ptr& error) noexcept;

/// Completion of a spawned task that its joiner ran inline: hand the thread straight back, no
/// atomic read-modify-write (task_record.hpp). The joiner frees the record and the frame.
inline std::coroutine_handle<> complete_inline(task_record* r, task_record* joiner,
                                               const std::exception_ptr& error) noexcept {
  worker_context* ctx = tls_ctx;
  ctx->completed.inc();
  if (error) [[unlikely]]
    count_failure(ctx, r->rt, error);
  if (ctx->tracing->load(std::memory_order_relaxed)) [[unlikely]]
    trace_complete(r);
  ctx->switch_to(joiner);
  return joiner->resume_point;
}

struct promise_base {
  std::coroutine_handle<> continuation_;
  task_record* record_ = nullptr;
  std::exception_ptr exception_;

  static void* operator new(std::size_t n) { return sched::allocate_frame(n); }
  static void operator delete(void* p, std::size_t n) noexcept { sched::deallocate_frame(p, n); }

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    /// Inline in the task's own resume function: a task awaited inline (the commonest ending)
    /// hands the thread to its awaiter without a call, so none of the caller's registers are
    /// saved for it. Static: no `this` to pass.
    template <class P>
    [[gnu::always_inline]] static std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      promise_base& p = h.promise();
      if (!p.record_) return p.continuation_;  // awaited inline: symmetric transfer to the awaiter
      return complete(h);
    }
    void await_resume() noexcept {}

   private:
    /// A task with a record (spawned) or a tag (a fork's or a fork_scope's child).
    template <class P>
    [[gnu::noinline]] static std::coroutine_handle<> complete(std::coroutine_handle<P> h) noexcept {
      promise_base& p = h.promise();
      task_record* r = p.record_;
      if (const auto tagged = reinterpret_cast<std::uintptr_t>(r); tagged & 3) {
        if (tagged & fork_tag) return fork_complete(tagged, p.exception_);  // a child of weft::fork
        return scope_complete(h, tagged);                                   // a child of a fork_scope
      }
      if (task_record* joiner = r->inline_joiner.load(std::memory_order_relaxed))
        return complete_inline(r, joiner, p.exception_);
      if (r->helping) return complete_helped(r, p.exception_);
      return complete_spawned(r, p.exception_);
    }
  };
  final_awaiter final_suspend() noexcept { return {}; }

  void unhandled_exception() noexcept { exception_ = std::current_exception(); }

  void rethrow_if_failed() {
    if (exception_) std::rethrow_exception(std::exchange(exception_, nullptr));
  }
};

template <class T>
struct promise final : promise_base {
  promise() noexcept {}
  ~promise() {
    if constexpr (!std::is_trivially_destructible_v<T>)
      if (has_value_) value_.~T();
  }

  task<T> get_return_object() noexcept;

  template <class U = T>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    ::new (static_cast<void*>(std::addressof(value_))) T(std::forward<U>(v));
    if constexpr (!std::is_trivially_destructible_v<T>) has_value_ = true;
  }

  /// A fork_scope's child: moves the value to where the fork said (`out`, a T*). fork_scope::fork
  /// accepts only a T that moves so without throwing; no other T gets here.
  void deliver(void* out) noexcept {
    if constexpr (std::is_nothrow_move_assignable_v<T>)
      *static_cast<T*>(out) = std::move(value_);
    else
      std::terminate();
  }

  /// Moves the result out, or rethrows the task's exception.
  T take() {
    rethrow_if_failed();
    return std::move(value_);
  }

 private:
  union {
    T value_;
  };
  bool has_value_ = false;  ///< whether value_ needs destroying (kept only when T has a destructor)
};

template <>
struct promise<void> final : promise_base {
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void deliver(void*) noexcept {}
  void take() { rethrow_if_failed(); }
};

}  // namespace weft::detail
