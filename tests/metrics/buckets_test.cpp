#include "weft/metrics/buckets.hpp"

#include <catch2/catch.hpp>
#include <limits>
#include <stdexcept>
#include <vector>

namespace buckets = weft::metrics::buckets;
using Catch::Contains;

TEST_CASE("linear buckets step by a fixed width", "[metrics][buckets]") {
  REQUIRE(buckets::linear(0, 10, 4).bounds() == std::vector<double>{0, 10, 20, 30});
  REQUIRE(buckets::linear(-1, 0.5, 3).bounds() == std::vector<double>{-1, -0.5, 0});
}

TEST_CASE("exponential buckets grow by a fixed factor", "[metrics][buckets]") {
  REQUIRE(buckets::exponential(1, 2, 5).bounds() == std::vector<double>{1, 2, 4, 8, 16});
  const auto layout = buckets::exponential(1e-6, 2, 24);
  REQUIRE(layout.size() == 24);
  REQUIRE(layout.bounds().front() == 1e-6);
  REQUIRE(layout.bounds().back() == 1e-6 * (1 << 23));
}

TEST_CASE("explicit buckets keep the bounds given", "[metrics][buckets]") {
  REQUIRE(buckets::explicit_bounds({0.005, 0.01, 1}).bounds() == std::vector<double>{0.005, 0.01, 1});
}

TEST_CASE("bucket layouts that are empty, unordered or infinite are rejected", "[metrics][buckets]") {
  const double inf = std::numeric_limits<double>::infinity();
  REQUIRE_THROWS_WITH(buckets::explicit_bounds({}), Contains("at least one"));
  REQUIRE_THROWS_WITH(buckets::explicit_bounds({1, 1}), Contains("strictly increasing"));
  REQUIRE_THROWS_WITH(buckets::explicit_bounds({2, 1}), Contains("strictly increasing"));
  REQUIRE_THROWS_WITH(buckets::explicit_bounds({1, inf}), Contains("finite"));
  REQUIRE_THROWS_WITH(buckets::explicit_bounds({std::numeric_limits<double>::quiet_NaN()}), Contains("finite"));
  REQUIRE_THROWS_AS(buckets::linear(0, 1, 0), std::invalid_argument);
  REQUIRE_THROWS_AS(buckets::linear(0, 0, 3), std::invalid_argument);
  REQUIRE_THROWS_AS(buckets::linear(0, -1, 3), std::invalid_argument);
  REQUIRE_THROWS_AS(buckets::exponential(0, 2, 3), std::invalid_argument);
  REQUIRE_THROWS_AS(buckets::exponential(1, 1, 3), std::invalid_argument);
  REQUIRE_THROWS_AS(buckets::exponential(1, 2, 0), std::invalid_argument);
  REQUIRE_THROWS_WITH(buckets::exponential(1e300, 1e10, 3), Contains("finite"));
  REQUIRE_THROWS_WITH(buckets::linear(0, 1, static_cast<std::size_t>(-1)), Contains("exceeds the maximum"));
}
