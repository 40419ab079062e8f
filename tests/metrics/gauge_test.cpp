#include "weft/metrics/gauge.hpp"

#include <catch2/catch.hpp>

#include "test_support.hpp"
#include "weft/metrics/registry.hpp"

using weft::metrics::registry;
using weft::metrics::test::run_threads;

TEST_CASE("a gauge is set, raised and lowered", "[metrics][gauge]") {
  registry reg;
  auto& g = reg.gauge("queue_depth", "Jobs waiting");
  REQUIRE(g.value() == 0);
  g.set(12);
  REQUIRE(g.value() == 12);
  g.inc();
  g.inc(2.5);
  g.dec();
  g.dec(0.5);
  g.add(-4);
  REQUIRE(g.value() == 10);
  g.set(-1.25);
  REQUIRE(g.value() == -1.25);
}

TEST_CASE("a gauge sits on a cache line of its own", "[metrics][gauge]") {
  STATIC_REQUIRE(alignof(weft::metrics::gauge) == weft::metrics::detail::cache_line_size);
  STATIC_REQUIRE(sizeof(weft::metrics::gauge) == weft::metrics::detail::cache_line_size);
}

TEST_CASE("concurrent adds to a gauge lose no update", "[metrics][gauge]") {
  registry reg;
  auto& g = reg.gauge("in_flight", "Jobs in flight");
  auto& balance = reg.gauge("balance", "Balanced moves");
  run_threads(8, [&](std::size_t) {
    for (int i = 0; i < 100'000; ++i) {
      g.inc();
      balance.inc(2);
      balance.dec(2);
    }
  });
  REQUIRE(g.value() == 800'000);
  REQUIRE(balance.value() == 0);
}
