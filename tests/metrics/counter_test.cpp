#include "weft/metrics/counter.hpp"

#include <barrier>
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "test_support.hpp"
#include "weft/metrics/registry.hpp"

using weft::metrics::registry;
using weft::metrics::test::run_threads;

namespace {
constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
}

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
      for (int k = 0; k < 100'000; ++k) c.inc();
    }
  });
  REQUIRE(regressions == 0);
  REQUIRE(c.value() == 200'000);
}

TEST_CASE("a counter stops at UINT64_MAX instead of wrapping", "[metrics][counter]") {
  registry reg({.shards = 1});
  auto& c = reg.counter("bytes_total", "Bytes");
  c.inc(max - 1);
  c.inc(5);
  REQUIRE(c.value() == max);
  c.inc();  // already at the top
  REQUIRE(c.value() == max);
  c.inc(max);
  REQUIRE(c.value() == max);
  REQUIRE(reg.snapshot().counter_value("bytes_total") == static_cast<double>(max));
}

TEST_CASE("shards that each hold nearly UINT64_MAX sum to UINT64_MAX", "[metrics][counter]") {
  constexpr std::size_t shards = 64;
  registry reg({.shards = shards});
  auto& c = reg.counter("bytes_total", "Bytes");
  std::uint32_t shard_of[2] = {};
  std::barrier both_added(2);  // both threads alive, so on distinct thread ids, until both added
  run_threads(2, [&](std::size_t i) {
    c.inc(max - 10);
    shard_of[i] = weft::metrics::detail::thread_slot() & (shards - 1);
    both_added.arrive_and_wait();
  });
  REQUIRE(shard_of[0] != shard_of[1]);  // two cells, neither saturated on its own
  REQUIRE(c.value() == max);
}
