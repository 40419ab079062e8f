// weft::metrics::gauge: a double that goes up and down.
#pragma once

#include <atomic>

#include "weft/metrics/detail/sharded_cell.hpp"

namespace weft::metrics {

/// A gauge: a double that is set, or moved up and down (queue depth, busy workers, bytes in use).
///
/// Not sharded, on purpose: set() must replace the whole value, which no per-thread split can do
/// without a lock or a seqlock. The value is one std::atomic<double> on a cache line of its own.
/// set() is a single store (wait-free); inc/dec/add are a compare-and-swap loop (lock-free, not
/// wait-free: a retry happens only when another thread changed this gauge in between). A gauge
/// that many threads move at high rates is better kept as per-thread state and exported with
/// registry::gauge_callback, which costs the hot path nothing.
///
/// Lifetime: made by a registry. The reference registry::gauge hands out stays valid as long as
/// the registry; registry::owned_gauge hands out an owned<gauge> instead, which keeps the gauge
/// and its series while it lives (owned.hpp).
///
/// Thread safety: every member may be called from any number of threads at once; updates are
/// relaxed atomics and never take a lock. Concurrent set() calls leave one of the values set.
class alignas(detail::cache_line_size) gauge {
 public:
  gauge() = default;
  gauge(const gauge&) = delete;
  gauge& operator=(const gauge&) = delete;

  /// Replaces the value.
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }

  /// Adds `d` (may be negative).
  void add(double d) noexcept { value_.fetch_add(d, std::memory_order_relaxed); }

  /// Adds `d` (default 1).
  void inc(double d = 1.0) noexcept { add(d); }

  /// Subtracts `d` (default 1).
  void dec(double d = 1.0) noexcept { add(-d); }

  /// The current value.
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

}  // namespace weft::metrics
