#include "weft/metrics/histogram.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "test_support.hpp"
#include "weft/metrics/registry.hpp"

namespace metrics = weft::metrics;
using metrics::registry;
using metrics::test::run_threads;

TEST_CASE("a histogram counts each observation in the first bucket whose bound is not below it",
          "[metrics][histogram]") {
  registry reg;
  auto& h = reg.histogram("job_seconds", "Job duration", metrics::buckets::explicit_bounds({0.1, 1, 10}));
  h.observe(0.05);  // (-inf, 0.1]
  h.observe(0.1);   // a value on a bound belongs to that bound's bucket (le = "less or equal")
  h.observe(0.5);   // (0.1, 1]
  h.observe(10);    // (1, 10]
  h.observe(11);    // above the last bound: the +Inf bucket
  h.observe(-3);    // below the first bound: the first bucket
  const metrics::histogram_snapshot snap = h.collect();
  REQUIRE(snap.bounds == std::vector<double>{0.1, 1, 10});
  REQUIRE(snap.counts == std::vector<std::uint64_t>{3, 1, 1, 1});
  REQUIRE(snap.cumulative() == std::vector<std::uint64_t>{3, 4, 5, 6});
  REQUIRE(snap.count == 6);
  REQUIRE(snap.sum == Approx(18.65));
  REQUIRE(h.count() == 6);
  REQUIRE(h.sum() == Approx(18.65));
  REQUIRE(snap.mean() == Approx(18.65 / 6));
}

TEST_CASE("a NaN observation lands in the +Inf bucket and makes the sum NaN", "[metrics][histogram]") {
  registry reg;
  auto& h = reg.histogram("job_seconds", "Job duration", metrics::buckets::linear(1, 1, 3));
  h.observe(2);
  h.observe(std::numeric_limits<double>::quiet_NaN());
  const auto snap = h.collect();
  REQUIRE(snap.counts == std::vector<std::uint64_t>{0, 1, 0, 1});
  REQUIRE(std::isnan(snap.sum));
}

TEST_CASE("an empty histogram has zero count and sum and a NaN mean", "[metrics][histogram]") {
  registry reg;
  auto& h = reg.histogram("job_seconds", "Job duration", metrics::buckets::linear(1, 1, 2));
  const auto snap = h.collect();
  REQUIRE(snap.count == 0);
  REQUIRE(snap.sum == 0);
  REQUIRE(snap.counts == std::vector<std::uint64_t>{0, 0, 0});
  REQUIRE(std::isnan(snap.mean()));
}

TEST_CASE("concurrent observations from 8 threads are all counted and summed", "[metrics][histogram]") {
  constexpr std::size_t threads = 8, per_thread = 100'000;
  // One shard makes every observation contend on the same sum, exercising the CAS retry loop.
  const std::size_t shards = GENERATE(0u, 1u);
  registry reg({.shards = shards});
  auto& h = reg.histogram("job_seconds", "Job duration", metrics::buckets::explicit_bounds({1, 2, 3}));
  run_threads(threads, [&](std::size_t t) {
    for (std::size_t i = 0; i < per_thread; ++i)
      h.observe(static_cast<double>((t + i) % 4 + 1));  // 1, 2, 3, 4 in turn: small integers sum exactly
  });
  const auto snap = h.collect();
  constexpr std::uint64_t quarter = threads * per_thread / 4;
  REQUIRE(snap.counts == std::vector<std::uint64_t>{quarter, quarter, quarter, quarter});
  REQUIRE(snap.count == threads * per_thread);
  REQUIRE(snap.sum == static_cast<double>(quarter * (1 + 2 + 3 + 4)));
}
