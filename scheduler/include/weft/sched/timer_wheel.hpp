#pragma once
// weft::sched::timer_wheel: a hierarchical hashed timer wheel (Varghese & Lauck, 1987; the
// layout follows Tokio's time driver). Six levels of 64 slots; level L slots are 64^L ticks
// wide, one tick is one millisecond, so the wheel spans 64^6 ms (about 2.2 years); later
// deadlines wait in the last level and cascade down as time advances.
//
// Each level keeps a 64-bit occupancy mask, so finding the next expiry is a rotate and a count
// of trailing zeros per level. Insert and remove are O(1) (intrusive doubly linked slots);
// advancing moves due entries out and cascades the rest of a slot to lower levels.
//
// Deadlines are rounded up to the next tick: a timer never fires early, and fires at most one
// tick (plus the waking worker's latency) late. An entry whose deadline is `never` (INT64_MAX:
// a sleep without end, waiting for its cancellation) sits on a list of its own: it never fires
// and never shows in next_wake(), so nothing wakes (or, in virtual time, jumps) for it.
//
// Thread safety: none. The scheduler's `timers` wraps a wheel in a mutex.

#include <array>
#include <cstdint>
#include <optional>

namespace weft::sched {

/// An intrusive timer. The owner keeps it alive while it is in a wheel.
struct timer_entry {
  using fire_fn = void (*)(timer_entry*) noexcept;

  std::int64_t deadline_ns = 0;  ///< steady-clock nanoseconds
  fire_fn fire = nullptr;        ///< called once, outside any wheel lock, when due

  // Wheel bookkeeping.
  timer_entry* prev_ = nullptr;
  timer_entry* next_ = nullptr;
  std::uint64_t when_ = 0;           ///< where it sits: ticks since the wheel's start
  std::uint64_t deadline_tick_ = 0;  ///< its deadline in ticks (when_ unless past the span)
  std::uint8_t level_ = 0;
  std::uint8_t slot_ = 0;
  bool linked_ = false;
};

class timer_wheel {
 public:
  static constexpr std::int64_t tick_ns = 1'000'000;
  static constexpr int levels = 6;
  static constexpr int slots = 64;
  /// The deadline that never comes (kept apart, see the top).
  static constexpr std::int64_t never = INT64_MAX;

  explicit timer_wheel(std::int64_t start_ns) noexcept : start_ns_(start_ns) {}

  /// Links `e`. Returns false, leaving it unlinked, if its deadline is already due.
  bool insert(timer_entry* e) noexcept;
  /// Unlinks `e` if linked; returns whether it was.
  bool remove(timer_entry* e) noexcept;
  /// Unlinks every entry due at `now_ns` and returns them as a list linked by `next_`.
  timer_entry* advance(std::int64_t now_ns) noexcept;
  /// Steady-clock nanoseconds at which advance() may next return something.
  std::optional<std::int64_t> next_wake() const noexcept;
  /// Unlinks everything without firing (shutdown). Returns how many entries were dropped.
  std::size_t clear() noexcept;
  std::size_t size() const noexcept { return size_; }

 private:
  struct expiration {
    int level;
    int slot;
    std::uint64_t deadline;  // ticks
  };
  struct level_state {
    std::uint64_t occupied = 0;
    std::array<timer_entry*, slots> heads{};
  };

  std::optional<expiration> next_expiration() const noexcept;
  void link(timer_entry* e) noexcept;
  timer_entry* take_slot(int level, int slot) noexcept;
  void place(timer_entry* e) noexcept;
  std::uint64_t ticks_ceil(std::int64_t ns) const noexcept;
  std::uint64_t ticks_floor(std::int64_t ns) const noexcept;

  std::int64_t start_ns_;
  std::uint64_t elapsed_ = 0;  // ticks already processed
  std::size_t size_ = 0;
  std::array<level_state, levels> levels_{};
  timer_entry* never_ = nullptr;  // entries due `never` (level_ == levels)
};

}  // namespace weft::sched
