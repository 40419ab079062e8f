#pragma once
// weft::spawn_blocking: run a blocking function on a thread outside the workers.
//
//   std::string text = co_await weft::spawn_blocking([&] { return read_file(path); });
//   auto h = weft::spawn_blocking([](weft::cancel_token stop) {   // may watch its token
//     while (!stop.cancelled() && poll_device()) {}
//   }, {.name = "device poll"});
//
// A blocking call (file I/O, a C library, a lock held by other threads, CPU work that never
// reaches a cancellation point) holds whichever thread runs it; on a worker it would hold the
// worker, and the stall detector would report it. spawn_blocking runs it on the runtime's pool of
// blocking threads instead: an elastic pool that starts a thread when every one is busy, up to
// runtime_options::max_blocking_threads (calls beyond wait in a queue, first come first served),
// and lets a thread that stayed idle for runtime_options::blocking_keep_alive exit.
//
// It returns a join_handle like any spawned task: the handle's task is a small driver that waits
// for the call, so awaiting, detaching, dumps ("spawn_blocking call"), stall reports and traces
// work as for tasks, and its name is spawn_options::name ("blocking" if empty). `co_await h`
// yields the function's value or rethrows its exception.
//
// Cancellation: a running function cannot be interrupted. Cancelling the handle's task (or its
// token) makes the task stop waiting and throw cancelled_error: it detaches from the call, which
// then is never started if it has not started yet, and otherwise runs to its end with its result
// dropped. A function that takes a weft::cancel_token is told: its token is cancelled when the
// task stops waiting, and at shutdown; it may return early.
//
// Shutdown: calls still queued are dropped (their tasks end with runtime_stopped); running
// calls get their token cancelled, after the tasks' grace, and the runtime's shutdown waits for
// them to return once it has ended every task still alive (so a call blocked in block_on of one
// of them gets runtime_stopped rather than holding shutdown), then joins the pool's threads. A
// call that never returns cannot be stopped (C++ cannot stop a thread safely): it keeps shutdown
// waiting, as a task that never reaches a cancellation point keeps its worker.
//
// Metrics (labelled runtime=<name>): weft_blocking_threads (live), weft_blocking_queue_depth
// (calls waiting for a thread), weft_blocking_tasks_total (calls run), weft_blocking_seconds
// (their run time).
//
// Thread safety: spawn_blocking(fn) from a task on a weft runtime (usage_error elsewhere);
// spawn_blocking(rt, fn) from any thread, also racing rt.shutdown() (it runs, or throws
// runtime_stopped). The function runs on another thread: what it captures by reference must
// stay alive and be safe to use from there until the call returns (even if the task stopped
// waiting). It must not shut down or destroy its own runtime.

#include <concepts>
#include <memory>
#include <source_location>
#include <type_traits>
#include <utility>

#include <weft/blocking/detail/blocking_call.hpp>
#include <weft/detail/current.hpp>
#include <weft/runtime.hpp>
#include <weft/spawn.hpp>

namespace weft {

/// The value type of a blocking call of `F` (called with a cancel_token if it takes one).
template <class F>
using blocking_result_t = detail::blocking_result_t<std::decay_t<F>>;

namespace detail {
template <class F>
concept blocking_function = std::move_constructible<std::decay_t<F>> &&
                            (std::invocable<std::decay_t<F>&> || std::invocable<std::decay_t<F>&, cancel_token>) &&
                            !std::is_reference_v<blocking_result_t<std::decay_t<F>>>;

inline spawn_options blocking_spawn_options(const spawn_options& opts) {
  return {.name = opts.name.empty() ? std::string_view("blocking") : opts.name, .token = opts.token};
}
}  // namespace detail

/// Runs `fn()` (or `fn(token)`) on the runtime's blocking pool; see above. Must be called from a
/// task running on a weft runtime (usage_error otherwise; elsewhere use the overload taking the
/// runtime). Once the runtime's shutdown has stopped the pool, the handle's task ends with
/// runtime_stopped. Throws std::system_error if no thread can be started and none is running.
template <class F>
  requires detail::blocking_function<F>
join_handle<blocking_result_t<F>> spawn_blocking(F&& fn, const spawn_options& opts = {},
                                                 std::source_location site = std::source_location::current()) {
  using R = blocking_result_t<F>;
  detail::runtime_core& core = *detail::current_task("weft::spawn_blocking")->rt;
  auto call = std::make_shared<detail::blocking_call<std::decay_t<F>>>(std::forward<F>(fn));
  // The driver first, so that no call is ever queued without a task to report to.
  join_handle<R> h = weft::spawn(detail::blocking_driver<R>(call), detail::blocking_spawn_options(opts), site);
  if (!detail::submit_blocking(core, call)) call->drop(std::make_exception_ptr(runtime_stopped()));
  return h;
}

/// As above, on runtime `rt`, from any thread. Throws runtime_stopped once `rt` is shut down.
template <class F>
  requires detail::blocking_function<F>
join_handle<blocking_result_t<F>> spawn_blocking(runtime& rt, F&& fn, const spawn_options& opts = {},
                                                 std::source_location site = std::source_location::current()) {
  using R = blocking_result_t<F>;
  auto call = std::make_shared<detail::blocking_call<std::decay_t<F>>>(std::forward<F>(fn));
  join_handle<R> h = rt.spawn(detail::blocking_driver<R>(call), detail::blocking_spawn_options(opts), site);
  if (!rt.submit_blocking(call)) {
    call->drop(std::make_exception_ptr(runtime_stopped()));
    throw runtime_stopped();  // (the handle detaches; its task ends at once)
  }
  return h;
}

}  // namespace weft
