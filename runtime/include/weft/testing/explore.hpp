#pragma once
// weft::testing::explore: runs a test body under many seeded schedules, and names the seed of
// the first one that fails.
//
//   weft::testing::explore({.runs = 1000}, [](weft::testing::sim& s) {
//     int counter = 0;
//     s.block_on(two_increments(counter));
//     if (counter != 2) throw std::logic_error("lost update");
//   });
//
// Each run makes a fresh sim with the next seed (first_seed, first_seed + 1, ...): even seeds
// draw uniformly random schedules, odd seeds PCT-style priority schedules (a priority per task,
// the highest runnable one runs, and a few steps drawn from the seed demote the running task:
// Burckhardt et al., "A Randomized Scheduler with Probabilistic Guarantees of Finding Bugs",
// ASPLOS 2010). A run fails when the body throws (block_on rethrows what a task threw, and a
// task that can never finish is a deadlock_error). The first failure ends the exploration with
// schedule_failure, whose what() names the seed: `sim{{.seed = N, .workers = W}}` replays that
// schedule exactly, so the failure can be debugged in one run.
//
// A failing Catch2 REQUIRE inside the body marks the test failed at once (Catch2 records it
// before it throws); to expect a failure, throw an ordinary exception instead.
//
// Thread safety: explore runs the body on the calling thread, one run after another.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>

#include <weft/testing/sim.hpp>

namespace weft::testing {

struct explore_options {
  /// How many seeds to try.
  std::size_t runs = 100;
  /// The first seed; run i uses first_seed + i.
  std::uint64_t first_seed = 1;
  /// Logical workers of each run's sim.
  std::size_t workers = 1;
  /// As sim_options::wait_for_outside.
  bool wait_for_outside = false;
};

/// The body failed under a schedule: what() says which seed replays it, and what it threw.
class schedule_failure : public std::runtime_error {
 public:
  schedule_failure(std::uint64_t seed, std::size_t run, const std::string& what, std::exception_ptr cause)
      : std::runtime_error(what), seed_(seed), run_(run), cause_(std::move(cause)) {}
  /// The seed of the failing run.
  std::uint64_t seed() const noexcept { return seed_; }
  /// Its index (0: the first run).
  std::size_t run() const noexcept { return run_; }
  /// What the body threw.
  std::exception_ptr cause() const noexcept { return cause_; }

 private:
  std::uint64_t seed_;
  std::size_t run_;
  std::exception_ptr cause_;
};

/// Runs `body` in a fresh sim per seed (see the top). Returns when every run passed; throws
/// schedule_failure at the first that did not.
void explore(const explore_options& opts, const std::function<void(sim&)>& body);

}  // namespace weft::testing
