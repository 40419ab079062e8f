#pragma once
// weft::detail::fiber_core: one stackful fiber, driven by a spawned weft task.
//
// A fiber is a spawned weft::task (run_fiber below, "the driver") that owns a Boost.Context
// fiber on a pooled stack. The driver switches into the fiber; the fiber runs the user's
// function on its own stack until it asks for something:
//
//   driver (a task, on a worker's stack)        fiber (its own stack)
//   ------------------------------------        ---------------------
//   core.resume()  ------- switch in ------->   fn() ... this_fiber::await(t):
//                                                  pending = await_into(t, &slot)
//                  <------ switch out -------      (suspended in fiber_core::suspend)
//   co_await core.pending()
//     (a normal weft await: a cancellation
//      point; may suspend, may resume on
//      another worker)
//   core.resume()  ------- switch in ------->   slot holds t's value or exception;
//                                                await returns it or rethrows
//                  <------ switch out -------   fn returns: finished
//   co_return the value (or rethrow)
//
// So all scheduling, cancellation, dumps and stall detection see a fiber as the task it is;
// the fiber's stack only ever holds the user's plain code, and awaited tasks run on the
// worker's stack. Because the driver may resume on another worker, a fiber migrates between
// threads at each await or yield: code on the fiber must not keep a thread-local (or its
// address, or errno) across them. The fiber side below touches no thread_local after a switch.
//
// Only fiber_core.cpp knows Boost.Context (fcontext), the sanitizer annotations and the stack
// layout; this header stays free of them.
//
// Thread safety: a fiber_core belongs to its driver task; the fiber side runs only while the
// driver is inside resume(), so the two never run at once.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include <weft/errors.hpp>
#include <weft/task.hpp>
#include <weft/yield.hpp>

namespace weft::detail {

struct fiber_stack;
struct task_record;

/// Thrown inside a fiber to unwind its stack when the fiber is destroyed unfinished (runtime
/// shutdown). Code on a fiber that catches (...) must rethrow it.
struct fiber_unwind {};

class fiber_core {
 public:
  using body_fn = void (*)(void*);

  /// Takes a stack of `stack_size` usable bytes (0: the default) from the pool. Must be
  /// constructed by the driver task, on a worker. Throws std::bad_alloc without a stack.
  fiber_core(std::size_t stack_size, body_fn body, void* arg);
  /// A fiber suspended mid-function is unwound (fiber_unwind), so its locals' destructors run;
  /// then the stack goes back to the pool.
  ~fiber_core();
  fiber_core(const fiber_core&) = delete;
  fiber_core& operator=(const fiber_core&) = delete;

  // ---- driver side ----

  /// Runs the fiber until it asks for something (true) or finishes (false).
  bool resume();
  bool wants_yield() const noexcept { return request_ == request::yield; }
  /// The operation the fiber awaits (wants_yield() false): a task<void> that never throws.
  task<void>& pending() noexcept { return pending_; }
  /// Hands an error to the fiber: its yield() rethrows it.
  void fail(std::exception_ptr e) noexcept { resume_error_ = std::move(e); }
  /// After resume() returned false: rethrows the exception that escaped the function.
  void rethrow_if_failed();

  // ---- fiber side (fiber_core.cpp) ----

  /// Suspends the fiber until the driver has awaited `op`.
  void await(task<void> op);
  /// Suspends the fiber behind the runnable tasks; rethrows the yield's cancellation.
  void yield();

  // ---- for the guard handler and dumps ----
  const fiber_stack* stack() const noexcept { return stack_; }
  const task_record* record() const noexcept { return record_; }

 private:
  enum class request : std::uint8_t { none, await, yield };
  friend struct fiber_switch;  // fiber_core.cpp: the switches, entry and unwinding

  void check_can_switch() const;

  void* fctx_ = nullptr;    // the fiber's saved context, while suspended (fcontext_t)
  void* caller_ = nullptr;  // the driver's context, while the fiber runs
  fiber_stack* stack_ = nullptr;
  body_fn body_;
  void* arg_;
  task_record* record_ = nullptr;
  task<void> pending_;
  std::exception_ptr error_;         // escaped the fiber's function
  std::exception_ptr resume_error_;  // for the fiber's yield() to rethrow
  request request_ = request::none;
  bool finished_ = false;
  bool unwinding_ = false;
  // Sanitizer state (fiber_core.cpp; unused in other builds, but always there: the layout
  // does not depend on the build).
  struct {
    void* asan_fake_stack = nullptr;           // the fiber's fake stack while it is switched out
    const void* asan_caller_bottom = nullptr;  // the driver's stack, learned at each switch in
    std::size_t asan_caller_size = 0;
    void* tsan_fiber = nullptr;   // the fiber's TSan context
    void* tsan_caller = nullptr;  // the driver's, while the fiber runs
  } san_;
};

/// The fiber running on this thread, or null.
fiber_core* running_fiber() noexcept;
/// this_fiber::await's and yield's out-of-line part: on the running fiber (usage_error off a
/// fiber, in a catch handler or during unwinding; cancelled_error once the fiber's task is
/// cancelled), suspend until the driver has awaited `op` / has yielded.
void fiber_await(task<void> op);
void fiber_yield();

/// Where an awaited value (or exception) waits for the fiber to pick it up.
template <class R>
struct fiber_value {
  std::optional<R> value;
  std::exception_ptr error;
  template <class U>
  void set(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  R take() {
    if (error) std::rethrow_exception(std::move(error));
    return std::move(*value);
  }
};
template <>
struct fiber_value<void> {
  std::exception_ptr error;
  void take() {
    if (error) std::rethrow_exception(std::move(error));
  }
};

/// The operation the driver awaits for this_fiber::await: awaits `aw` (a value moved into this
/// frame, or a reference to an object on the fiber's stack) and stores the outcome in `out`.
template <class Aw, class R>
task<void> await_into(Aw aw, fiber_value<R>* out) {
  try {
    if constexpr (std::is_void_v<R>) {
      co_await static_cast<Aw&&>(aw);
    } else {
      out->set(co_await static_cast<Aw&&>(aw));
    }
  } catch (...) {
    out->error = std::current_exception();
  }
}

/// Calls the fiber's function on the fiber's stack and keeps its value.
template <class F, class R>
struct fiber_call {
  F* fn;
  std::optional<std::conditional_t<std::is_void_v<R>, bool, R>>* out;
  static void run(void* p) {
    auto* c = static_cast<fiber_call*>(p);
    if constexpr (std::is_void_v<R>) {
      std::invoke(std::move(*c->fn));
    } else {
      c->out->emplace(std::invoke(std::move(*c->fn)));
    }
  }
};

/// The driver: the task that a fiber is (see the diagram above).
template <class F, class R>
task<R> run_fiber(F fn, std::size_t stack_size) {
  std::optional<std::conditional_t<std::is_void_v<R>, bool, R>> value;
  fiber_call<F, R> call{&fn, &value};
  fiber_core core(stack_size, &fiber_call<F, R>::run, &call);
  while (core.resume()) {
    if (core.wants_yield()) {
      try {
        co_await weft::yield();
      } catch (...) {
        core.fail(std::current_exception());
      }
    } else {
      co_await core.pending();
    }
  }
  core.rethrow_if_failed();
  if constexpr (!std::is_void_v<R>) co_return std::move(*value);
}

}  // namespace weft::detail
