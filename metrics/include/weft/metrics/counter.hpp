// weft::metrics::counter: a monotonically increasing integer, sharded per thread.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "weft/metrics/detail/sharded_cell.hpp"

namespace weft::metrics {

namespace detail {
[[noreturn]] void throw_negative_increment(long long n);
}

/// A counter: a uint64 that only goes up (wrapping modulo 2^64, which takes centuries at any
/// real rate). Kept as one padded cell per shard (detail/sharded_cell.hpp); value() sums them.
///
/// Cost of an update: one TLS load, one relaxed atomic fetch_add on the calling thread's own
/// cache line. No lock, no allocation, wait-free (fetch_add is a single instruction on x86-64
/// and on AArch64 with LSE). The one-time exception: a thread's very first update of any metric
/// takes its shard id from a process-wide pool (detail/sharded_cell.hpp).
///
/// Lifetime: made and owned by a registry (registry::counter); the reference it hands out stays
/// valid as long as the registry. A standalone counter also works but is exported nowhere.
///
/// Thread safety: every member may be called from any number of threads at once. Registration
/// takes a lock; updates never do.
class counter {
 public:
  /// `shards` must be a power of two (the registry passes its own shard count).
  explicit counter(std::size_t shards) : cells_(shards, 1) {}

  counter(const counter&) = delete;
  counter& operator=(const counter&) = delete;

  /// Adds 1. Wait-free, noexcept.
  void inc() noexcept { cells_.local()[0].fetch_add(1, std::memory_order_relaxed); }

  /// Adds `n`. Throws std::invalid_argument if `n` is negative (a counter never goes down;
  /// use a gauge for that); the counter is then unchanged. Otherwise wait-free.
  template <std::integral Int>
    requires(!std::same_as<Int, bool>)
  void inc(Int n) {
    if constexpr (std::is_signed_v<Int>) {
      if (n < 0) [[unlikely]]
        detail::throw_negative_increment(static_cast<long long>(n));
    }
    cells_.local()[0].fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
  }

  /// The sum over the shards. Exact once the updating threads are joined (or otherwise
  /// synchronised with the caller); during concurrent updates it is some value between the
  /// totals at the start and at the end of the call, and never below an earlier read by the
  /// same thread.
  std::uint64_t value() const noexcept { return cells_.sum(0); }

 private:
  detail::sharded_cells cells_;
};

}  // namespace weft::metrics
