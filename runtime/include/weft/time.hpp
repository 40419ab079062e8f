#pragma once
// weft::sleep_for / weft::sleep_until: suspend a task on the runtime's timer wheel.
//
//   co_await weft::sleep_for(50ms);
//   co_await weft::sleep_until(weft::now() + 1s);
//
// Time is the runtime's clock: steady_clock's, or a weft::testing::sim's virtual time (where a
// sleep takes no wall time at all). weft::now() reads it; a deadline for sleep_until or
// with_deadline computed from std::chrono::steady_clock::now() is wrong in a sim.
//
// The task holds no thread while it sleeps. It resumes on a worker no earlier than the deadline
// and usually within a millisecond of it (the wheel's tick). Parked workers sleep in the kernel
// until the next deadline; nothing polls.
//
// A cancellation point: cancelling a sleeping task wakes it at once with cancelled_error.
// sleep_for with a negative (or NaN) duration throws std::invalid_argument; sleep_until a time
// already passed returns at once (after spending one unit of budget). Durations saturate
// (time/detail/deadline.hpp): sleep_for(X::max()) sleeps until the task is cancelled.

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <weft/detail/suspension.hpp>
#include <weft/sched/timer_wheel.hpp>
#include <weft/time/detail/deadline.hpp>

namespace weft {

namespace detail {

class sleep_awaiter : suspension, sched::timer_entry {
 public:
  explicit sleep_awaiter(std::int64_t deadline_ns) noexcept : suspension(&hook), deadline_(deadline_ns) {}

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h);
  void await_resume() { leave(); }
  /// The deadline (steady-clock nanoseconds; never_ns: none), for weft::select, which waits for
  /// it on a timer of its own.
  std::int64_t deadline() const noexcept { return deadline_; }

 private:
  static void on_fire(sched::timer_entry* e) noexcept;
  static void hook(cancel_hook* h, hook_op op) noexcept;

  std::int64_t deadline_;
};

}  // namespace detail

/// The time on the clock of the runtime the calling thread works for: steady_clock::now(), or
/// in a weft::testing::sim its virtual time; off the runtimes' workers, steady_clock::now().
inline std::chrono::steady_clock::time_point now() noexcept {
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(sched::clock_now()));
}

/// Suspends the calling task until `deadline` (a time point of the runtime's clock: weft::now()).
template <class Duration>
detail::sleep_awaiter sleep_until(std::chrono::time_point<std::chrono::steady_clock, Duration> deadline) {
  return detail::sleep_awaiter(detail::deadline_at(deadline));
}

/// Suspends the calling task for `d`. Throws std::invalid_argument if `d` is negative or NaN.
template <class Rep, class Period>
detail::sleep_awaiter sleep_for(std::chrono::duration<Rep, Period> d) {
  if (detail::negative_or_nan(d)) detail::throw_negative_duration("weft::sleep_for", detail::saturating_ns(d));
  return detail::sleep_awaiter(detail::deadline_after(d));
}

}  // namespace weft
