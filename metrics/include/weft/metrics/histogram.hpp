// weft::metrics::histogram: bucketed distribution of observed values, sharded per thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "weft/metrics/buckets.hpp"
#include "weft/metrics/detail/sharded_cell.hpp"
#include "weft/metrics/histogram_snapshot.hpp"

namespace weft::metrics {

/// A histogram: counts observations into fixed buckets (a bucket_layout) and keeps their sum.
///
/// Layout: each shard (detail/sharded_cell.hpp) holds the sum as the bits of a double in cell 0
/// and one uint64 count per bucket in cells 1..bounds+1 (the last is the +Inf bucket). There is
/// no separate count cell: the count is the sum of the bucket counts at collection, which saves
/// one atomic per observation and keeps `_count` equal to the `+Inf` bucket in every scrape.
///
/// Cost of observe(): one TLS load, a binary search over the bounds (read-only, shared by all
/// threads), one relaxed fetch_add on the bucket and one relaxed compare-and-swap on the sum, all
/// on the calling thread's own cache lines. No lock, no allocation.
///
/// The sum is lock-free, not wait-free: adding a double needs a CAS loop (no hardware has an
/// atomic floating-point add on memory), and the loop retries only when another thread updated
/// the same shard's sum between the load and the CAS. Shards are per thread, so that happens
/// only when more threads than shards observe at once, and then each retry means another
/// thread's update succeeded; that is the standard progress guarantee of a lock-free counter,
/// acceptable here because no thread can stall the others.
///
/// Lifetime: made by a registry. The reference registry::histogram hands out stays valid as
/// long as the registry; registry::owned_histogram hands out an owned<histogram> instead, which
/// keeps the histogram and its series while it lives (owned.hpp).
///
/// Thread safety: every member may be called from any number of threads at once. Registration
/// takes a lock; observations never do.
class histogram {
 public:
  /// `shards` must be a power of two (the registry passes its own shard count).
  histogram(const bucket_layout& layout, std::size_t shards)
      : bounds_(layout.bounds()), cells_(shards, layout.size() + 2) {}

  histogram(const histogram&) = delete;
  histogram& operator=(const histogram&) = delete;

  /// Records one observation. NaN counts in the +Inf bucket and makes the sum NaN, as in
  /// Prometheus' client libraries.
  void observe(double v) noexcept {
    // First bound ≥ v, i.e. the bucket with `le` ≥ v; NaN compares false and goes to the end.
    const std::size_t bucket =
        std::isnan(v) ? bounds_.size()
                      : static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
    detail::sharded_cells::cell* shard = cells_.local();
    shard[1 + bucket].fetch_add(1, std::memory_order_relaxed);
    std::uint64_t old_bits = shard[0].load(std::memory_order_relaxed);
    while (!shard[0].compare_exchange_weak(old_bits, std::bit_cast<std::uint64_t>(std::bit_cast<double>(old_bits) + v),
                                           std::memory_order_relaxed, std::memory_order_relaxed)) {
    }
  }

  /// Sums the shards into plain values. Allocates (the snapshot's vectors); takes no lock.
  histogram_snapshot collect() const;

  /// Number of observations so far (sums every bucket of every shard).
  std::uint64_t count() const noexcept;

  /// Sum of the observations so far.
  double sum() const noexcept;

  /// The upper bounds (without the implicit +Inf).
  const std::vector<double>& bounds() const noexcept { return bounds_; }

 private:
  std::vector<double> bounds_;
  detail::sharded_cells cells_;
};

}  // namespace weft::metrics
