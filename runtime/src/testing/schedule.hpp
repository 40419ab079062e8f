#pragma once
// weft::detail::schedule_policy: which runnable job a sim runs next, and on which logical
// worker, drawn from a seed (README.md in this folder).
//
// Two kinds, chosen by the seed's parity so that the seed alone replays a run:
//   - random (even seeds): every runnable job is equally likely at every step;
//   - PCT (odd seeds): each job gets a random priority when first seen, the highest runnable one
//     runs, and at d - 1 steps drawn from the seed (d, the depth, is 1 to 3) the job that runs is
//     demoted below every other (Burckhardt et al., ASPLOS 2010). A job picked many times in a
//     row while others wait (a task spinning on yield()) is demoted too, so PCT stays live.
// The generator is SplitMix64 with our own bounded draw: the same numbers on every platform and
// standard library (std::uniform_int_distribution is not specified exactly).
//
// Thread safety: none; the sim's driving thread only.

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <weft/sched/job.hpp>

namespace weft::detail {

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for choosing schedules.
class splitmix64 {
 public:
  explicit splitmix64(std::uint64_t seed) noexcept : s_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n), n > 0 (Lemire's multiply-shift; the bias is below 2^-50 for our n).
  std::size_t below(std::size_t n) noexcept {
    return static_cast<std::size_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

 private:
  std::uint64_t s_;
};

class schedule_policy {
 public:
  schedule_policy(std::uint64_t seed, std::size_t workers);

  /// The index in `ready` (not empty) of the job to run at step `step`.
  std::size_t pick(const std::vector<sched::job*>& ready, std::uint64_t step);
  /// The worker that runs a job queued by `home` (npos: the global queue).
  std::size_t runner(std::size_t home);
  /// "random" or "PCT (depth N)".
  const char* kind() const noexcept { return kind_.c_str(); }

 private:
  std::uint64_t priority_of(const sched::job* j);

  splitmix64 rng_;
  std::size_t workers_;
  bool pct_;
  std::string kind_;
  // PCT: priorities by job (a task record keeps its priority while it lives, and passes it on
  // to the next task that reuses it: reuse is as deterministic as the rest), the steps at which
  // the running job is demoted, and the streak of the last job picked.
  std::unordered_map<const sched::job*, std::uint64_t> priority_;
  std::vector<std::uint64_t> change_points_;
  std::uint64_t next_low_ = 0;  // demoted jobs get priorities below every first priority
  const sched::job* last_ = nullptr;
  std::size_t streak_ = 0;
};

}  // namespace weft::detail
