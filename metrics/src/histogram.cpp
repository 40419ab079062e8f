#include "weft/metrics/histogram.hpp"

#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "text.hpp"

namespace weft::metrics {

histogram_snapshot histogram::collect() const {
  histogram_snapshot snap;
  snap.bounds = bounds_;
  snap.counts.resize(bounds_.size() + 1);
  for (std::size_t b = 0; b < snap.counts.size(); ++b) {
    snap.counts[b] = cells_.sum(1 + b);
    snap.count += snap.counts[b];
  }
  snap.sum = sum();
  return snap;
}

std::uint64_t histogram::count() const noexcept {
  std::uint64_t total = 0;
  for (std::size_t b = 0; b <= bounds_.size(); ++b) total += cells_.sum(1 + b);
  return total;
}

double histogram::sum() const noexcept {
  double total = 0;
  for (std::size_t i = 0; i < cells_.shard_count(); ++i)
    total += std::bit_cast<double>(cells_.shard(i)[0].load(std::memory_order_relaxed));
  return total;
}

std::vector<std::uint64_t> histogram_snapshot::cumulative() const {
  std::vector<std::uint64_t> running(counts.size());
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) running[i] = total += counts[i];
  return running;
}

double histogram_snapshot::quantile(double q) const {
  if (!(q >= 0.0 && q <= 1.0))
    throw std::invalid_argument(
        detail::cat({"weft::metrics: quantile ", detail::format_number(q), " is outside [0, 1]"}));
  if (count == 0) return std::numeric_limits<double>::quiet_NaN();
  const double rank = q * static_cast<double>(count);
  // The first non-empty bucket whose running count reaches the rank. Skipping empty buckets
  // matters for rank 0 (q = 0), which every bucket "reaches", and keeps the estimate inside the
  // bucket that holds an observation. It exists: the last non-empty bucket has running == count.
  std::uint64_t before = 0;
  std::size_t b = 0;
  for (; b < counts.size(); ++b) {
    if (counts[b] != 0 && static_cast<double>(before + counts[b]) >= rank) break;
    before += counts[b];
  }
  if (b >= bounds.size()) return bounds.back();  // above the last bound: the best we can say is "at least this"
  const double upper = bounds[b];
  double lower = 0;
  if (b > 0)
    lower = bounds[b - 1];
  else if (upper <= 0)
    return upper;  // the first bucket reaches down to -Inf: nothing to interpolate against
  const double fraction = (rank - static_cast<double>(before)) / static_cast<double>(counts[b]);
  return lower + (upper - lower) * fraction;
}

double histogram_snapshot::mean() const noexcept {
  return count == 0 ? std::numeric_limits<double>::quiet_NaN() : sum / static_cast<double>(count);
}

}  // namespace weft::metrics
