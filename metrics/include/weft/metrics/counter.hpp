// weft::metrics::counter: a monotonically increasing integer, sharded per thread.
#pragma once

#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "weft/metrics/detail/sharded_cell.hpp"

namespace weft::metrics {

namespace detail {
[[noreturn]] void throw_negative_increment(long long n);
}

/// A counter: a uint64 that only goes up, and stops at UINT64_MAX rather than wrapping to a
/// small number (which a scraper would take for a reset). Counting one by one never gets there;
/// a bad `inc(n)` might. Kept as one padded cell per shard (detail/sharded_cell.hpp); value()
/// sums them, saturating as well.
///
/// Cost of an update: one TLS load, one relaxed atomic fetch_add on the calling thread's own
/// cache line, then a branch on its result that is predicted not taken (saturation). No lock, no
/// allocation, wait-free (fetch_add is a single instruction on x86-64 and on AArch64 with LSE).
/// The one-time exception: a thread's very first update of any metric takes its shard id from a
/// process-wide pool (detail/sharded_cell.hpp).
///
/// Saturation: an add that would pass UINT64_MAX leaves UINT64_MAX. A reader racing with the
/// add that gets there, or with an add to a shard already at the maximum, may see a lower total
/// that once (see add()).
///
/// Lifetime: made by a registry. The reference registry::counter hands out stays valid as long
/// as the registry; registry::owned_counter hands out an owned<counter> instead, which keeps the
/// counter and its series while it lives (owned.hpp). A standalone counter also works but is
/// exported nowhere.
///
/// Thread safety: every member may be called from any number of threads at once. Registration
/// takes a lock; updates never do.
class counter {
 public:
  /// `shards` must be a power of two (the registry passes its own shard count).
  explicit counter(std::size_t shards) : cells_(shards, 1) {}

  counter(const counter&) = delete;
  counter& operator=(const counter&) = delete;

  /// Adds 1 (up to UINT64_MAX). Wait-free, noexcept.
  void inc() noexcept { add(1); }

  /// Adds `n` (the total stops at UINT64_MAX). Throws std::invalid_argument if `n` is negative (a
  /// counter never goes down; use a gauge for that); the counter is then unchanged. Otherwise
  /// wait-free.
  template <std::integral Int>
    requires(!std::same_as<Int, bool>)
  void inc(Int n) {
    if constexpr (std::is_signed_v<Int>) {
      if (n < 0) [[unlikely]]
        detail::throw_negative_increment(static_cast<long long>(n));
    }
    add(static_cast<std::uint64_t>(n));
  }

  /// The sum over the shards. Exact once the updating threads are joined (or otherwise
  /// synchronised with the caller); during concurrent updates it is some value between the
  /// totals at the start and at the end of the call, and never below an earlier read by the
  /// same thread (except around saturation; see above). UINT64_MAX once the total reaches it.
  std::uint64_t value() const noexcept { return cells_.sum(0); }

 private:
  static constexpr std::uint64_t max_ = std::numeric_limits<std::uint64_t>::max();

  // A saturating add without a CAS loop, which would cost every update a load and a retry loop
  // for an event that should never happen. fetch_add wraps and returns the old value, so the
  // adding thread sees its own overflow (old > max - n) and stores max over the wrapped result.
  // Until that store lands the cell holds the wrapped value: a reader may see it, and a thread
  // sharing the shard may add to it, which the store then overwrites; that is right, because the
  // true total is past max already. Each wrapping add is followed by its own store of max, and
  // any add but of 0 to max wraps, so once the adds stop the cell holds max.
  // Relaxed throughout: the cell publishes nothing but itself (detail/sharded_cell.hpp), and the
  // store writes only max, so it needs no order against the other adds.
  void add(std::uint64_t n) noexcept {
    detail::sharded_cells::cell& cell = cells_.local()[0];
    if (cell.fetch_add(n, std::memory_order_relaxed) > max_ - n) [[unlikely]]
      cell.store(max_, std::memory_order_relaxed);
  }

  detail::sharded_cells cells_;
};

}  // namespace weft::metrics
