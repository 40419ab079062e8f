// Histogram bucket layouts: weft::metrics::bucket_layout and the weft::metrics::buckets factories.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <vector>

namespace weft::metrics {

/// The upper bounds of a histogram's buckets, validated: at least one bound, every bound finite,
/// strictly increasing, at most `max_size` bounds. Bucket i counts observations v with
/// bounds()[i-1] < v ≤ bounds()[i] (Prometheus' `le`); an implicit last bucket (`le="+Inf"`)
/// counts everything above the last bound.
///
/// Thread safety: an immutable value type once built; safe to share.
class bucket_layout {
 public:
  static constexpr std::size_t max_size = 10'000;

  /// Throws std::invalid_argument (saying which rule failed and where) if the bounds are empty,
  /// not finite, not strictly increasing, or more than max_size.
  explicit bucket_layout(std::vector<double> upper_bounds);

  const std::vector<double>& bounds() const noexcept { return bounds_; }
  std::size_t size() const noexcept { return bounds_.size(); }

  friend bool operator==(const bucket_layout&, const bucket_layout&) = default;

 private:
  std::vector<double> bounds_;
};

namespace buckets {

/// Exactly these upper bounds: `buckets::explicit_bounds({0.005, 0.01, 0.1, 1})`.
/// Throws std::invalid_argument as bucket_layout does.
bucket_layout explicit_bounds(std::vector<double> upper_bounds);

/// `count` bounds start, start + width, ..., start + (count-1)·width (each computed as
/// start + i·width, so no error accumulates). Throws std::invalid_argument unless count ≥ 1,
/// width > 0 and every bound is finite and strictly above the previous one.
bucket_layout linear(double start, double width, std::size_t count);

/// `count` bounds start, start·factor, start·factor², ... (repeated multiplication, as
/// Prometheus' client libraries do). Throws std::invalid_argument unless count ≥ 1, start > 0,
/// factor > 1 and every bound is finite.
bucket_layout exponential(double start, double factor, std::size_t count);

}  // namespace buckets
}  // namespace weft::metrics
