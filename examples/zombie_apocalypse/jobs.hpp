#pragma once
// The jobs of the zombie-apocalypse demo: ordinary ones, and the toxic ones of the incident
// (shared/seeds/000, 001): some hang waiting for something that never comes, some spin.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

#include <weft/weft.hpp>

namespace demo {

enum class job_type { email, report, image, toxic_hang, toxic_spin };

constexpr std::string_view name(job_type t) {
  switch (t) {
    case job_type::email:
      return "email";
    case job_type::report:
      return "report";
    case job_type::image:
      return "image";
    case job_type::toxic_hang:
      return "toxic-hang";
    case job_type::toxic_spin:
      return "toxic-spin";
  }
  return "?";
}

struct job {
  std::uint64_t id;
  job_type type;
  std::chrono::steady_clock::time_point enqueued;
};

/// Set when the demo ends: the spinning jobs stop then (so the process can exit).
inline std::atomic<bool> demo_over{false};
/// The upstream a hanging job waits for. Never set.
inline weft::event vendor_answered;

/// Burns CPU for about `d` (the job's own work).
inline void crunch(std::chrono::microseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  volatile std::uint64_t x = 0;
  while (std::chrono::steady_clock::now() < until) x = x + 1;
}

/// A toxic payload that never yields: only the stall detector can see it. Out of line so that
/// the stall report's backtrace names it.
[[gnu::noinline]] void toxic_spin() {
  while (!demo_over.load(std::memory_order_relaxed)) {
  }
}

inline weft::task<void> process(job j) {
  using namespace std::chrono_literals;
  switch (j.type) {
    case job_type::email:  // mostly waiting on a mail server
      co_await weft::sleep_for(2ms);
      break;
    case job_type::report:  // mostly CPU
      crunch(300us);
      break;
    case job_type::image:  // both
      co_await weft::sleep_for(4ms);
      crunch(100us);
      break;
    case job_type::toxic_hang:  // waits for a vendor that never answers
      co_await vendor_answered.wait();
      break;
    case job_type::toxic_spin:  // spins on the CPU, never reaching a cancellation point
      toxic_spin();
      break;
  }
}

}  // namespace demo
