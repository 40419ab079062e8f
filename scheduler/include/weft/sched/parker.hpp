#pragma once
// weft::sched::parker: puts one worker thread to sleep until another thread unparks it or a
// deadline passes.
//
// Protocol: one futex word with three states. park() moves empty -> parked and sleeps in the
// kernel while the word is still `parked`; unpark() swaps in `notified` and issues a futex wake
// only if it found `parked`. A notification that arrives before park() is not lost: park() sees
// `notified`, consumes it and returns at once. Spurious returns are allowed; callers re-check
// their condition.
//
// Parking in a driver (park_driver.hpp): park_in() waits in the driver instead of the futex and
// publishes the driver, so that unpark() interrupts that wait. The same Dekker pair as above,
// on `driver_`: park_in() stores it, then reads the state; unpark() stores `notified`, then
// reads `driver_` (both seq_cst), so either the wait is skipped or it is interrupted.
//
// Thread safety: park() and park_in() only from the owning worker; unpark() from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

#include <weft/sched/park_driver.hpp>

namespace weft::sched {

class parker {
 public:
  /// Sleeps until unparked or until `deadline` (steady-clock nanoseconds) if one is given.
  void park(std::optional<std::int64_t> deadline_ns) noexcept;
  /// As park(), waiting in `driver` (handling its events) instead of sleeping on the futex.
  void park_in(park_driver& driver, std::optional<std::int64_t> deadline_ns) noexcept;
  /// Wakes the parked owner, or makes its next park() return immediately.
  void unpark() noexcept;

 private:
  static constexpr std::uint32_t empty = 0, parked = 1, notified = 2;
  alignas(64) std::atomic<std::uint32_t> state_{empty};
  std::atomic<park_driver*> driver_{nullptr};  // set while waiting in a driver
};

/// Steady-clock now in nanoseconds: the time base of timers, deadlines and stamps.
inline std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace weft::sched
