// weft::metrics::histogram_snapshot: a histogram's values at one collection, and its quantiles.
#pragma once

#include <cstdint>
#include <vector>

namespace weft::metrics {

/// Plain values copied out of a histogram: what the encoders print and what tests assert on.
///
/// `counts` holds PER-BUCKET counts (not cumulative): counts[i] is the number of observations
/// v with bounds[i-1] < v ≤ bounds[i], and counts.back() (index bounds.size()) the number above
/// the last bound, NaN observations included (Prometheus' `le="+Inf"` bucket). cumulative()
/// gives the running totals that the Prometheus `_bucket` lines show. `count` is the sum of
/// `counts`, so `count == cumulative().back()` always holds, even for a snapshot taken while
/// other threads observe; `sum` is the sum of the observed values and, under concurrent
/// observation, may include an observation whose bucket the snapshot missed or the reverse.
///
/// Thread safety: a plain value type.
struct histogram_snapshot {
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;
  std::uint64_t count = 0;
  double sum = 0;

  /// Running totals: cumulative()[i] = counts[0] + ... + counts[i]; size bounds.size() + 1.
  std::vector<std::uint64_t> cumulative() const;

  /// The q-quantile (0 ≤ q ≤ 1) estimated as Prometheus' histogram_quantile() does: find the
  /// bucket where the running count reaches rank q·count, then interpolate linearly inside it,
  /// assuming the observations are spread evenly across the bucket. The first bucket is taken to
  /// start at 0 when its bound is positive (observations are assumed non-negative); if its bound
  /// is ≤ 0 the estimate is that bound.
  ///
  /// Error bound: the estimate lies in the same bucket as the true quantile (the observation of
  /// rank ⌈q·count⌉, or the smallest for q = 0), so it is off by at most that bucket's width.
  /// When that observation lies above the last bound, the estimate is the last finite bound and
  /// the error is unbounded: choose bounds that cover the range you care about.
  ///
  /// Returns NaN when count == 0. Throws std::invalid_argument if q is outside [0, 1] or NaN.
  double quantile(double q) const;

  /// sum / count, or NaN when count == 0.
  double mean() const noexcept;
};

}  // namespace weft::metrics
