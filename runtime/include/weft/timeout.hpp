#pragma once
// weft::with_timeout / weft::with_deadline: give a task a deadline.
//
//   int v = co_await weft::with_timeout(50ms, fetch());   // timeout_error after 50 ms
//
// The task runs inline (on the caller's task) under a new cancellation token linked to the
// caller's; tasks it spawns inherit that token. At the deadline the token is cancelled: every
// cancellation point in the task (and its children) throws cancelled_error, and with_timeout
// turns that into timeout_error (a cancelled_error). A task that reaches a cancellation point is
// stopped within about a millisecond of the deadline (the timer wheel's tick); one that never
// reaches one runs on (the stall detector reports it), and if it then finishes normally its
// value is returned. If the caller itself is cancelled, cancelled_error propagates as usual.
//
// with_timeout with a negative (or NaN) duration throws std::invalid_argument; a deadline
// already passed cancels the task before it starts. Durations saturate (time/detail/deadline.hpp):
// with_timeout(X::max(), t) and with_deadline(time_point::max(), t) set no deadline at all.

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <weft/cancel.hpp>
#include <weft/detail/current.hpp>
#include <weft/errors.hpp>
#include <weft/sched/timer_wheel.hpp>
#include <weft/task.hpp>
#include <weft/time/detail/deadline.hpp>

namespace weft {

namespace detail {

/// While alive, the running task's token is a child token that a timer cancels at the deadline.
/// With no deadline (never_ns) it changes nothing.
class deadline_scope : sched::timer_entry {
 public:
  explicit deadline_scope(std::int64_t deadline_ns);
  deadline_scope(const deadline_scope&) = delete;
  ~deadline_scope() { end(); }
  /// Disarms the timer (waiting for it if it is firing on another worker) and gives the task
  /// its token back. Returns whether the deadline fired. Idempotent.
  bool end() noexcept;

 private:
  static void on_fire(sched::timer_entry* e) noexcept;

  task_record* me_;
  cancel_state* outer_ = nullptr;        // the task's token before the scope (the scope holds its reference)
  std::optional<cancel_source> source_;  // engaged while a deadline is set
  std::atomic<int> fire_{0};             // 0 armed, 1 firing, 2 fired
  bool armed_ = false;                   // in the timer wheel (until it fired or end() took it out)
  bool ended_ = false;
  bool fired_ = false;
};

}  // namespace detail

namespace detail {

/// with_deadline and with_timeout: `t` under a deadline_scope. `relative`: `ns` is a timeout,
/// turned into a deadline when this task starts, on its runtime's clock (so a timeout given
/// before the task reaches its runtime, as in `rt.block_on(with_timeout(1s, t))`, counts on
/// that runtime's clock too: a sim's virtual one).
template <class T>
task<T> run_with_deadline(bool relative, std::int64_t ns, task<T> t) {
  deadline_scope scope(relative ? deadline_after_ns(ns) : ns);
  std::exception_ptr error;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
      value.emplace(true);
    } else {
      value.emplace(co_await std::move(t));
    }
  } catch (...) {
    error = std::current_exception();
  }
  const bool fired = scope.end();
  if (error) {
    if (fired) {
      try {
        std::rethrow_exception(error);
      } catch (const cancelled_error&) {
        throw timeout_error();
      }
    }
    std::rethrow_exception(error);
  }
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

}  // namespace detail

/// Runs `t` with a deadline at `deadline` (a time point of the runtime's clock: weft::now());
/// see above.
template <class T, class Duration>
task<T> with_deadline(std::chrono::time_point<std::chrono::steady_clock, Duration> deadline, task<T> t) {
  return detail::run_with_deadline(false, detail::deadline_at(deadline), std::move(t));
}

/// Runs `t` with a deadline `d` from when it starts (at once when awaited); see above. Throws
/// std::invalid_argument if `d` is negative or NaN.
template <class T, class Rep, class Period>
task<T> with_timeout(std::chrono::duration<Rep, Period> d, task<T> t) {
  if (detail::negative_or_nan(d)) detail::throw_negative_duration("weft::with_timeout", detail::saturating_ns(d));
  return detail::run_with_deadline(true, detail::saturating_ns(d), std::move(t));
}

}  // namespace weft
