#pragma once
// weft::sched::idle_set: who is searching for work, who sleeps, and whom to wake.
//
// The protocol is Tokio's (runtime/scheduler/multi_thread/idle.rs). One atomic word counts
// searching workers and unparked workers; the list of sleepers sits under a mutex that only the
// slow paths take (parking, waking).
//
//   - A push wakes a sleeper only if nobody is searching and somebody sleeps
//     (notify_should_wakeup: one load). The woken worker starts out searching.
//   - At most half of the workers search at once (transition_to_searching refuses the rest).
//   - A searcher that finds work stops searching; if it was the last searcher it wakes another,
//     so that a burst of work spreads one worker at a time without a thundering herd.
//   - A worker parks by removing itself from "unparked" and adding itself to the sleepers, and
//     then re-checks every queue before it sleeps (see barrier.hpp for why that re-check cannot
//     miss a concurrent push).
//
// Thread safety: every member may be called from any thread.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace weft::sched {

class idle_set {
 public:
  /// `active` workers start unparked; `slots` is the most there can ever be (replacements).
  idle_set(std::size_t active, std::size_t slots);

  /// Whether a push should wake a sleeper. Cheap: one load. Pairs with transition_to_parked().
  bool notify_should_wakeup() const noexcept {
    auto s = state_.load(std::memory_order_seq_cst);
    return searching(s) == 0 && unparked(s) < active_.load(std::memory_order_relaxed);
  }

  /// Picks a sleeper to wake and counts it as unparked and searching, or returns nothing.
  std::optional<std::size_t> worker_to_notify();

  /// Starts searching unless half of the workers already are. Returns whether it started.
  bool transition_to_searching() noexcept;
  /// Stops searching. Returns true if the caller was the last searcher (it should then wake one).
  bool transition_from_searching() noexcept;
  /// Records `index` as asleep. Returns true if it was the last searcher.
  bool transition_to_parked(std::size_t index, bool searching);
  /// Takes `index` back out of the sleepers if it is still there (it woke by itself: a timeout,
  /// or work seen in the pre-sleep check). Returns false if a notifier already took it out (and
  /// counted it as searching).
  bool unpark_self(std::size_t index);
  /// Whether `index` is still registered asleep.
  bool is_parked(std::size_t index);
  /// Sleeping worker indices (for waking everyone on shutdown).
  std::vector<std::size_t> sleepers();
  /// A replacement worker starts (counted active and unparked) or retires (neither). A retiring
  /// worker must be unparked (not among the sleepers).
  void add_active() noexcept;
  void remove_active() noexcept;

  std::size_t num_searching() const noexcept { return searching(state_.load(std::memory_order_relaxed)); }
  std::size_t num_unparked() const noexcept { return unparked(state_.load(std::memory_order_relaxed)); }

 private:
  static constexpr std::uint64_t searching_one = 1;
  static constexpr std::uint64_t unparked_one = std::uint64_t{1} << 32;
  static std::size_t searching(std::uint64_t s) noexcept { return s & 0xffffffffu; }
  static std::size_t unparked(std::uint64_t s) noexcept { return s >> 32; }

  std::atomic<std::size_t> active_;
  alignas(64) std::atomic<std::uint64_t> state_;
  std::mutex mu_;
  std::vector<std::size_t> sleepers_;
  std::vector<bool> parked_;
};

}  // namespace weft::sched
