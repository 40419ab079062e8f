#pragma once
// weft::spawn_fiber and weft::this_fiber: blocking-style code on stackful fibers that share the
// runtime's workers.
//
//   std::string fetch(const std::string& url) {                 // a plain function
//     return weft::this_fiber::await(http_get(url));            // http_get: a weft::task
//   }
//   weft::join_handle<std::size_t> h =
//       weft::spawn_fiber([&] { return fetch(url).size(); }, {.name = "legacy-fetch"});
//   std::size_t n = co_await h;
//
// A fiber runs a plain function on its own stack (64 KiB by default, from a pool, with a guard
// region below). Inside it, this_fiber::await(t) suspends the fiber, not the worker: the
// worker runs other tasks meanwhile, and the fiber continues, perhaps on another worker, with
// t's value or exception. To the runtime a fiber is a spawned task: it is scheduled and stolen
// like one, joined through a join_handle, named in dumps and stall reports
// (fiber_options::name), and inherits its spawner's cancellation.
//
// Rules for code running on a fiber:
//   * It may move to another thread at every this_fiber::await and this_fiber::yield. Do not
//     keep a thread_local, its address, errno, or anything derived from the thread (a
//     thread-id-keyed cache, a lock that must be released by the thread that took it: a
//     std::mutex held across await) across them. weft's own functions are safe to call before
//     and after (on x86-64 their thread-locals are re-read from the thread register each time).
//   * Do not await or yield inside a catch handler, or in a destructor while an exception is
//     propagating (usage_error): the C++ exception state is per thread.
//   * A fiber that is still suspended when its runtime shuts down is unwound by a
//     weft::detail::fiber_unwind exception, so the destructors on its stack run: a catch (...)
//     on a fiber must rethrow what it does not know.
//   * Running past the stack ends the process with SIGSEGV and a report naming the fiber:
//     `weft: stack overflow in fiber <id> "<name>" (spawned at file:line); stack size N bytes`.
//     Raise fiber_options::stack_size for deep recursion, or make it a task.
//   * CPU-bound work on a fiber holds its worker like a task's would: the stall detector
//     reports it; this_task::checkpoint() is a cancellation point.
//
// Thread safety: spawn_fiber is called from a task on a runtime's worker (or with the runtime
// named, from any thread); this_fiber's functions only on a fiber (usage_error elsewhere).

#include <concepts>
#include <cstddef>
#include <functional>
#include <source_location>
#include <string_view>
#include <type_traits>
#include <utility>

#include <weft/cancel.hpp>
#include <weft/fiber/detail/fiber_core.hpp>
#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>

namespace weft {

/// The usable stack of a fiber unless fiber_options::stack_size says otherwise.
inline constexpr std::size_t default_fiber_stack_size = 64 * 1024;

/// Options for one fiber. A plain aggregate: `{.stack_size = 256 * 1024, .name = "import"}`.
struct fiber_options {
  /// Usable stack bytes, rounded up to whole pages (at least 16 KiB). Stacks of the same size
  /// are pooled and reused.
  std::size_t stack_size = default_fiber_stack_size;
  /// Names the fiber in dumps, stall reports and the stack-overflow report ("fiber" if empty).
  std::string_view name{};
  /// The fiber's cancellation token. Empty (the default): it inherits its spawner's.
  cancel_token token{};
};

/// The value type of a fiber running `F`.
template <class F>
using fiber_result_t = std::invoke_result_t<std::decay_t<F>>;

namespace detail {
inline spawn_options fiber_spawn_options(const fiber_options& opts) {
  return spawn_options{.name = opts.name.empty() ? std::string_view("fiber") : opts.name, .token = opts.token};
}
template <class F>
concept fiber_function = std::invocable<std::decay_t<F>> && std::move_constructible<std::decay_t<F>> &&
                         !std::is_reference_v<fiber_result_t<F>>;
}  // namespace detail

/// Runs `fn()` on a new fiber on the calling task's worker (stolen like any spawned task) and
/// returns its join handle: `co_await h` yields fn's value or rethrows its exception. `fn` is
/// moved into the fiber. Must be called from a task running on a weft runtime (usage_error
/// otherwise; off the workers use the overload taking the runtime). Throws std::bad_alloc if
/// no stack can be mapped (on the fiber's first run: through the join handle).
template <class F>
  requires detail::fiber_function<F>
join_handle<fiber_result_t<F>> spawn_fiber(F&& fn, const fiber_options& opts = {},
                                           std::source_location site = std::source_location::current()) {
  return weft::spawn(detail::run_fiber<std::decay_t<F>, fiber_result_t<F>>(std::forward<F>(fn), opts.stack_size),
                     detail::fiber_spawn_options(opts), site);
}

/// As above, on runtime `rt`, from any thread (from outside it, the fiber goes to the global
/// queue). Throws runtime_stopped after shutdown.
template <class F>
  requires detail::fiber_function<F>
join_handle<fiber_result_t<F>> spawn_fiber(runtime& rt, F&& fn, const fiber_options& opts = {},
                                           std::source_location site = std::source_location::current()) {
  return rt.spawn(detail::run_fiber<std::decay_t<F>, fiber_result_t<F>>(std::forward<F>(fn), opts.stack_size),
                  detail::fiber_spawn_options(opts), site);
}

namespace detail {
template <class A>
decltype(auto) fiber_awaiter_of(A&& a) {
  if constexpr (requires { static_cast<A&&>(a).operator co_await(); })
    return static_cast<A&&>(a).operator co_await();
  else
    return static_cast<A&&>(a);
}
template <class A>
using fiber_await_result_t = std::remove_cvref_t<decltype(fiber_awaiter_of(std::declval<A>()).await_resume())>;

template <class T>
inline constexpr bool is_task_or_handle = false;
template <class T>
inline constexpr bool is_task_or_handle<task<T>> = true;
template <class T>
inline constexpr bool is_task_or_handle<join_handle<T>> = true;
}  // namespace detail

namespace this_fiber {

/// Runs task `t` and suspends the calling fiber (not its worker) until it finishes; returns
/// its value or rethrows its exception. The fiber may continue on another worker. A
/// cancellation point: throws cancelled_error, without starting `t`, once the fiber's task is
/// cancelled (its join handle, its token); a cancellation while `t` waits reaches `t`'s own
/// awaits as it would in a task (so `with_timeout` around `t` gives timeout_error). Throws
/// usage_error off a fiber, inside a catch handler, or during unwinding.
template <class T>
[[gnu::noinline]] T await(task<T> t) {
  detail::fiber_value<T> out;
  detail::fiber_await(detail::await_into<task<T>, T>(std::move(t), &out));
  return out.take();
}

/// Joins a spawned task (or fiber) from a fiber: as `co_await h` in a task.
template <class T>
[[gnu::noinline]] T await(join_handle<T> h) {
  detail::fiber_value<T> out;
  detail::fiber_await(detail::await_into<join_handle<T>, T>(std::move(h), &out));
  return out.take();
}

/// Awaits any other weft awaitable from a fiber: `this_fiber::await(weft::sleep_for(10ms))`,
/// `this_fiber::await(ev.wait())`, `this_fiber::await(ch.recv())`. Returns what `co_await`
/// would (by value). The awaitable stays where it is (on the fiber's stack) while the fiber
/// waits.
template <class A>
  requires(!detail::is_task_or_handle<std::remove_cvref_t<A>>)
[[gnu::noinline]] detail::fiber_await_result_t<A> await(A&& awaitable) {
  using R = detail::fiber_await_result_t<A>;
  detail::fiber_value<R> out;
  detail::fiber_await(detail::await_into<A&&, R>(std::forward<A>(awaitable), &out));
  return out.take();
}

/// Lets the runnable tasks go first: the fiber goes to the back of its worker's queue (and may
/// be stolen). A cancellation point (cancelled_error).
inline void yield() { detail::fiber_yield(); }

/// Whether the caller is running on a weft fiber.
inline bool active() noexcept { return detail::running_fiber() != nullptr; }

}  // namespace this_fiber

}  // namespace weft
