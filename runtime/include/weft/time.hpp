#pragma once
// weft::sleep_for / weft::sleep_until: suspend a task on the runtime's timer wheel.
//
//   co_await weft::sleep_for(50ms);
//   co_await weft::sleep_until(std::chrono::steady_clock::now() + 1s);
//
// The task holds no thread while it sleeps. It resumes on a worker no earlier than the deadline
// and usually within a millisecond of it (the wheel's tick). Parked workers sleep in the kernel
// until the next deadline; nothing polls.
//
// A cancellation point: cancelling a sleeping task wakes it at once with cancelled_error.
// sleep_for with a negative duration throws std::invalid_argument; sleep_until a time already
// passed returns at once (after spending one unit of budget).

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <weft/detail/current.hpp>
#include <weft/sched/timer_wheel.hpp>

namespace weft {

namespace detail {

class sleep_awaiter : cancel_hook, sched::timer_entry {
 public:
  explicit sleep_awaiter(std::int64_t deadline_ns) noexcept : deadline_(deadline_ns) {}
  sleep_awaiter(const sleep_awaiter&) = delete;

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h);
  void await_resume() {
    if (me_) me_->disarm();
    if (cancelled_) throw cancelled_error();
  }

 private:
  static void on_fire(sched::timer_entry* e) noexcept;
  static void on_cancel(cancel_hook* h) noexcept;

  std::int64_t deadline_;
  task_record* me_ = nullptr;
  bool cancelled_ = false;
};

}  // namespace detail

/// Suspends the calling task until `deadline` (a steady_clock time point).
template <class Duration>
detail::sleep_awaiter sleep_until(std::chrono::time_point<std::chrono::steady_clock, Duration> deadline) {
  return detail::sleep_awaiter(
      std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count());
}

/// Suspends the calling task for `d`. Throws std::invalid_argument if `d` is negative.
template <class Rep, class Period>
detail::sleep_awaiter sleep_for(std::chrono::duration<Rep, Period> d) {
  if (d < d.zero())
    throw std::invalid_argument("weft::sleep_for: negative duration (" +
                                std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) +
                                " ns); use sleep_until for deadlines that may have passed");
  return detail::sleep_awaiter(
      (std::chrono::steady_clock::now() + std::chrono::ceil<std::chrono::nanoseconds>(d))
          .time_since_epoch()
          .count());
}

}  // namespace weft
