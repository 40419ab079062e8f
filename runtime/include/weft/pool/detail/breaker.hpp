#pragma once
// weft::detail::breaker_set: one circuit breaker per job type.
//
//   closed --(failure_threshold consecutive failures)--> open --(reset_timeout)--> half-open
//   half-open --(a probe succeeds)--> closed;  half-open --(a probe fails)--> open
//
// Thread safety: none; the pool's mutex guards it.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <weft/pool/options.hpp>
#include <weft/time/detail/deadline.hpp>

namespace weft::detail {

class breaker_set {
 public:
  enum class state { closed, open, half_open };
  using clock = std::chrono::steady_clock;

  explicit breaker_set(breaker_options o)
      : o_(o), reset_after_(std::chrono::nanoseconds(saturating_ns(o.reset_timeout))) {}

  /// Whether a job of `type` may go ahead now (half-open: counts it as a probe).
  bool allow(const std::string& type, clock::time_point now) {
    if (!o_.enabled) return true;
    auto& b = at(type, now);
    if (b.s == state::open) return false;
    if (b.s == state::half_open) {
      if (b.probes >= o_.half_open_probes) return false;
      ++b.probes;
    }
    return true;
  }
  /// Whether submissions of `type` are refused right now (open, and not yet due to half-open).
  bool rejecting(const std::string& type, clock::time_point now) {
    return o_.enabled && at(type, now).s == state::open;
  }
  void success(const std::string& type) {
    if (!o_.enabled) return;
    auto& b = breakers_[type];
    b = entry{};
  }
  void failure(const std::string& type, clock::time_point now) {
    if (!o_.enabled) return;
    auto& b = breakers_[type];
    if (b.s == state::half_open || ++b.failures >= o_.failure_threshold) {
      b.s = state::open;
      b.opened = now;
      b.probes = 0;
    }
  }
  /// Types whose circuit is open (or half-open) now.
  std::vector<std::string> open_types(clock::time_point now) {
    std::vector<std::string> out;
    for (auto& [type, b] : breakers_) {
      at(type, now);
      if (b.s != state::closed) out.push_back(type.empty() ? std::string("(all jobs)") : type);
    }
    return out;
  }

 private:
  struct entry {
    state s = state::closed;
    std::size_t failures = 0;
    std::size_t probes = 0;
    clock::time_point opened{};
  };
  entry& at(const std::string& type, clock::time_point now) {
    auto& b = breakers_[type];
    if (b.s == state::open && now - b.opened >= reset_after_) {
      b.s = state::half_open;
      b.probes = 0;
    }
    return b;
  }

  breaker_options o_;
  // o_.reset_timeout in the clock's unit, saturated: compared as it is, milliseconds::max()
  // ("never") overflowed into -1 ms and every open circuit half-opened at once.
  std::chrono::nanoseconds reset_after_;
  std::map<std::string, entry> breakers_;
};

}  // namespace weft::detail
