#include <weft/sync/latch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/yield.hpp>

using namespace std::chrono_literals;
using weft::task;

TEST_CASE("a latch releases its waiters at zero and refuses to go below", "[sync][latch]") {
  weft::runtime rt({.workers = 2});
  weft::latch done(3);
  std::atomic<int> passed{0};
  rt.block_on([&]() -> task<void> {
    auto wait_body = [&]() -> task<void> {
      co_await done.wait();
      passed.fetch_add(1);
    };
    auto count_body = [&]() -> task<void> {
      done.count_down();
      co_return;
    };
    auto waiter = weft::spawn(wait_body());
    std::vector<weft::join_handle<void>> counters;
    for (int i = 0; i < 3; ++i) counters.push_back(weft::spawn(count_body()));
    co_await waiter;
    for (auto& h : counters) co_await h;
  }());
  CHECK(passed.load() == 1);
  CHECK(done.try_wait());
  CHECK_THROWS_AS(done.count_down(), std::invalid_argument);
}

TEST_CASE("a latch count that is a negative one converted to std::size_t is refused, not waited for forever",
          "[sync][latch]") {
  CHECK_THROWS_AS(weft::latch(static_cast<std::size_t>(-1)), std::invalid_argument);
  CHECK_THROWS_AS(weft::latch(weft::latch::max() + 1), std::invalid_argument);
  weft::latch most(weft::latch::max());
  CHECK(most.count() == weft::latch::max());
}
