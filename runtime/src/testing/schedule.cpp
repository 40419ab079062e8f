#include "testing/schedule.hpp"

#include <algorithm>
#include <iterator>

namespace weft::detail {
namespace {

// A job picked this many times in a row while others are runnable is spinning (a loop around
// yield()): PCT demotes it, or the strict priorities would never let the others run.
constexpr std::size_t max_streak = 64;
// First priorities lie above this; demotions count up from zero below it.
constexpr std::uint64_t first_priority_floor = std::uint64_t{1} << 62;

}  // namespace

schedule_policy::schedule_policy(std::uint64_t seed, std::size_t workers)
    : rng_(seed), workers_(workers), pct_(seed & 1) {
  if (!pct_) {
    kind_ = "random";
    return;
  }
  // Depth 1 to 3 (d - 1 demotions), spread over a horizon drawn among short and long runs (PCT
  // wants the run's length; a seed must replay alone, so it is drawn, not measured). A change
  // point past the end of a run is simply never reached.
  static constexpr std::uint64_t horizons[] = {4, 8, 16, 64, 256, 1024};
  const std::size_t depth = 1 + rng_.below(3);
  const std::uint64_t horizon = horizons[rng_.below(std::size(horizons))];
  for (std::size_t i = 1; i < depth; ++i) change_points_.push_back(rng_.below(horizon));
  std::sort(change_points_.begin(), change_points_.end());
  kind_ = "PCT (depth " + std::to_string(depth) + ")";
}

std::uint64_t schedule_policy::priority_of(const sched::job* j) {
  auto [it, fresh] = priority_.try_emplace(j, 0);
  if (fresh) it->second = first_priority_floor | (rng_.next() >> 2);
  return it->second;
}

std::size_t schedule_policy::pick(const std::vector<sched::job*>& ready, std::uint64_t step) {
  if (!pct_) return rng_.below(ready.size());
  auto best = [&] {
    std::size_t b = 0;
    std::uint64_t bp = priority_of(ready[0]);
    for (std::size_t i = 1; i < ready.size(); ++i)
      if (std::uint64_t p = priority_of(ready[i]); p > bp) {
        b = i;
        bp = p;
      }
    return b;
  };
  std::size_t b = best();
  const bool change = std::binary_search(change_points_.begin(), change_points_.end(), step);
  const bool spinning = ready.size() > 1 && ready[b] == last_ && streak_ + 1 > max_streak;
  if (ready.size() > 1 && (change || spinning)) {
    priority_[ready[b]] = next_low_++;
    b = best();
  }
  streak_ = ready[b] == last_ ? streak_ + 1 : 1;
  last_ = ready[b];
  return b;
}

std::size_t schedule_policy::runner(std::size_t home) {
  if (workers_ == 1) return 0;
  if (home >= workers_) return rng_.below(workers_);  // from the global queue: any worker
  if (rng_.below(4) != 0) return home;
  return (home + 1 + rng_.below(workers_ - 1)) % workers_;  // a steal
}

}  // namespace weft::detail
