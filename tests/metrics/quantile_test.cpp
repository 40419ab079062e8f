#include "weft/metrics/histogram_snapshot.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "weft/metrics/registry.hpp"

namespace metrics = weft::metrics;

namespace {

// The exact q-quantile of `sorted` as the estimate's error bound defines it: the observation
// of rank ceil(q·n) (1-based), or the smallest for q = 0.
double exact_quantile(const std::vector<double>& sorted, double q) {
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::max<std::size_t>(rank, 1) - 1];
}

// Width of the bucket holding v: (previous bound, bound], the first bucket taken from 0.
double bucket_width(const std::vector<double>& bounds, double v) {
  const auto at = std::lower_bound(bounds.begin(), bounds.end(), v);
  REQUIRE(at != bounds.end());  // the test data stays below the last bound
  const double lower = at == bounds.begin() ? 0.0 : *(at - 1);
  return *at - lower;
}

template <class Draw>
void check_quantiles(const metrics::bucket_layout& layout, Draw draw) {
  metrics::registry reg;
  auto& h = reg.histogram("sample_seconds", "Samples", layout);
  std::mt19937_64 rng(20240601);
  std::vector<double> values;
  for (int i = 0; i < 20'000; ++i) {
    const double v = draw(rng);
    values.push_back(v);
    h.observe(v);
  }
  std::sort(values.begin(), values.end());
  const metrics::histogram_snapshot snap = h.collect();
  for (const double q : {0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0}) {
    const double exact = exact_quantile(values, q);
    const double estimate = snap.quantile(q);
    INFO("q = " << q << ", exact = " << exact << ", estimate = " << estimate);
    REQUIRE(std::fabs(estimate - exact) <= bucket_width(layout.bounds(), exact) * (1 + 1e-12));
  }
}

}  // namespace

TEST_CASE("a quantile interpolates linearly inside its bucket, as histogram_quantile does", "[metrics][quantile]") {
  // 10 observations in each of (0,10], (10,20], ..., (90,100].
  metrics::histogram_snapshot snap;
  snap.bounds = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
  snap.counts = {10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 0};
  snap.count = 100;
  REQUIRE(snap.quantile(0.5) == Approx(50));
  REQUIRE(snap.quantile(0.95) == Approx(95));
  REQUIRE(snap.quantile(0.99) == Approx(99));
  REQUIRE(snap.quantile(0.05) == Approx(5));  // the first bucket starts at 0
  REQUIRE(snap.quantile(0.0) == Approx(0));
  REQUIRE(snap.quantile(1.0) == Approx(100));
}

TEST_CASE("a quantile skips empty buckets", "[metrics][quantile]") {
  metrics::histogram_snapshot snap;
  snap.bounds = {1, 2, 3, 4};
  snap.counts = {0, 4, 0, 4, 0};
  snap.count = 8;
  REQUIRE(snap.quantile(0.0) == Approx(1));     // the lower edge of the first non-empty bucket
  REQUIRE(snap.quantile(0.5) == Approx(2));     // rank 4 is reached at the top of (1, 2]
  REQUIRE(snap.quantile(0.75) == Approx(3.5));  // halfway through (3, 4]
}

TEST_CASE("a quantile above the last bound reports the last bound", "[metrics][quantile]") {
  metrics::histogram_snapshot snap;
  snap.bounds = {1, 2};
  snap.counts = {1, 0, 9};
  snap.count = 10;
  REQUIRE(snap.quantile(0.99) == 2);
  REQUIRE(snap.quantile(0.05) == Approx(0.5));
}

TEST_CASE("a quantile of an empty histogram is NaN", "[metrics][quantile]") {
  metrics::histogram_snapshot snap;
  snap.bounds = {1};
  snap.counts = {0, 0};
  REQUIRE(std::isnan(snap.quantile(0.5)));
}

TEST_CASE("a quantile outside [0, 1] is rejected", "[metrics][quantile]") {
  metrics::histogram_snapshot snap;
  snap.bounds = {1};
  snap.counts = {1, 0};
  snap.count = 1;
  REQUIRE_THROWS_AS(snap.quantile(-0.1), std::invalid_argument);
  REQUIRE_THROWS_AS(snap.quantile(1.5), std::invalid_argument);
  REQUIRE_THROWS_AS(snap.quantile(std::nan("")), std::invalid_argument);
}

TEST_CASE("quantile estimates on random data lie within a bucket width of the exact quantile", "[metrics][quantile]") {
  SECTION("uniform data in linear buckets") {
    check_quantiles(metrics::buckets::linear(0.05, 0.05, 20),
                    [](std::mt19937_64& rng) { return std::uniform_real_distribution<double>(0, 1)(rng); });
  }
  SECTION("log-normal latencies in exponential buckets") {
    check_quantiles(metrics::buckets::exponential(1e-6, 2, 24), [](std::mt19937_64& rng) {
      return std::min(std::lognormal_distribution<double>(std::log(1e-3), 1.0)(rng), 8.0);
    });
  }
  SECTION("clustered data with empty buckets in between") {
    check_quantiles(metrics::buckets::explicit_bounds({1, 2, 5, 10, 20, 50, 100}), [](std::mt19937_64& rng) {
      const bool low = std::bernoulli_distribution(0.7)(rng);
      return low ? std::uniform_real_distribution<double>(0.5, 1.5)(rng)
                 : std::uniform_real_distribution<double>(60, 90)(rng);
    });
  }
}
