#include "weft/metrics/detail/sharded_cell.hpp"

#include <algorithm>
#include <barrier>
#include <catch2/catch.hpp>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace detail = weft::metrics::detail;

TEST_CASE("shard counts are powers of two, at least the hardware threads by default", "[metrics][shards]") {
  const std::size_t automatic = detail::normalize_shard_count(0);
  REQUIRE(automatic == detail::default_shard_count());
  REQUIRE(automatic >= std::max(1u, std::thread::hardware_concurrency()));
  REQUIRE((automatic & (automatic - 1)) == 0);
  REQUIRE(detail::normalize_shard_count(1) == 1);
  REQUIRE(detail::normalize_shard_count(3) == 4);
  REQUIRE(detail::normalize_shard_count(64) == 64);
}

TEST_CASE("every shard starts on a cache line of its own", "[metrics][shards]") {
  for (const std::size_t width : {1u, 7u, 8u, 9u, 26u}) {
    detail::sharded_cells cells(4, width);
    REQUIRE(cells.shard_count() == 4);
    REQUIRE(cells.width() == width);
    for (std::size_t i = 0; i < 4; ++i) {
      const auto address = reinterpret_cast<std::uintptr_t>(cells.shard(i));
      REQUIRE(address % detail::cache_line_size == 0);
      if (i > 0) {
        const auto previous_end = reinterpret_cast<std::uintptr_t>(cells.shard(i - 1) + width);
        REQUIRE(previous_end <= address);
      }
    }
  }
}

TEST_CASE("threads alive at the same time get distinct shards while they fit", "[metrics][shards]") {
  constexpr std::size_t threads = 8;
  std::mutex mutex;
  std::vector<std::uint32_t> slots;
  std::barrier all_have_slots(threads);  // keeps all eight alive until each has taken its slot
  weft::metrics::test::run_threads(threads, [&](std::size_t) {
    const std::uint32_t slot = detail::thread_slot() & ~detail::thread_slot_assigned;
    {
      std::lock_guard lock(mutex);
      slots.push_back(slot);
    }
    all_have_slots.arrive_and_wait();
  });
  std::sort(slots.begin(), slots.end());
  REQUIRE(std::adjacent_find(slots.begin(), slots.end()) == slots.end());
}

TEST_CASE("a thread keeps its slot, and an exited thread's slot is reused", "[metrics][shards]") {
  const std::uint32_t mine = detail::thread_slot();
  REQUIRE(detail::thread_slot() == mine);
  std::uint32_t first = 0, second = 0;
  std::thread([&] { first = detail::thread_slot(); }).join();
  std::thread([&] { second = detail::thread_slot(); }).join();
  REQUIRE(first != mine);
  REQUIRE(second == first);
}

TEST_CASE("a thread updates its own shard and readers sum them all", "[metrics][shards]") {
  detail::sharded_cells cells(8, 2);
  weft::metrics::test::run_threads(4, [&](std::size_t i) {
    for (std::size_t k = 0; k <= i; ++k) cells.local()[1].fetch_add(1, std::memory_order_relaxed);
  });
  REQUIRE(cells.sum(0) == 0);
  REQUIRE(cells.sum(1) == 1 + 2 + 3 + 4);
}
