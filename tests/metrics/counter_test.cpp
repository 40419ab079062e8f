#include "weft/metrics/counter.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <stdexcept>

#include "test_support.hpp"
#include "weft/metrics/registry.hpp"

using weft::metrics::registry;
using weft::metrics::test::run_threads;

TEST_CASE("a counter starts at zero and counts every increment", "[metrics][counter]") {
  registry reg;
  auto& c = reg.counter("jobs_total", "Jobs");
  REQUIRE(c.value() == 0);
  c.inc();
  c.inc();
  REQUIRE(c.value() == 2);
}

TEST_CASE("a counter adds any non-negative integer amount", "[metrics][counter]") {
  registry reg;
  auto& c = reg.counter("bytes_total", "Bytes");
  c.inc(0);
  c.inc(40);
  c.inc(std::uint64_t{2});
  c.inc(static_cast<short>(3));
  REQUIRE(c.value() == 45);
}

TEST_CASE("a counter rejects a negative increment and stays unchanged", "[metrics][counter]") {
  registry reg;
  auto& c = reg.counter("jobs_total", "Jobs");
  c.inc(5);
  REQUIRE_THROWS_AS(c.inc(-1), std::invalid_argument);
  REQUIRE_THROWS_WITH(c.inc(-7), Catch::Contains("negative") && Catch::Contains("-7"));
  REQUIRE(c.value() == 5);
}

TEST_CASE("concurrent increments from 8 threads sum exactly", "[metrics][counter]") {
  constexpr std::size_t threads = 8, per_thread = 100'000;
  // Default shards (one per hardware thread, so threads share them here), a single shard that
  // every thread contends on, and more shards than threads.
  const std::size_t shards = GENERATE(0u, 1u, 16u);
  registry reg({.shards = shards});
  auto& c = reg.counter("jobs_total", "Jobs");
  auto& by_n = reg.counter("items_total", "Items");
  run_threads(threads, [&](std::size_t) {
    for (std::size_t i = 0; i < per_thread; ++i) {
      c.inc();
      by_n.inc(3);
    }
  });
  REQUIRE(c.value() == threads * per_thread);
  REQUIRE(by_n.value() == 3 * threads * per_thread);
  REQUIRE(reg.snapshot().counter_value("jobs_total") == static_cast<double>(threads * per_thread));
}

TEST_CASE("a reader never sees a counter go backwards while it is incremented", "[metrics][counter]") {
  registry reg;
  auto& c = reg.counter("jobs_total", "Jobs");
  std::uint64_t regressions = 0;
  run_threads(3, [&](std::size_t i) {
    if (i == 0) {
      std::uint64_t last = 0;
      for (int k = 0; k < 20'000; ++k) {
        const std::uint64_t now = c.value();
        regressions += now < last;
        last = now;
      }
    } else {
      for (int k = 0; k < 100'000; ++k)
        c.inc();
    }
  });
  REQUIRE(regressions == 0);
  REQUIRE(c.value() == 200'000);
}
