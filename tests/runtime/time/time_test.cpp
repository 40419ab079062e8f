#include <weft/time.hpp>

#include <algorithm>
#include <chrono>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/timeout.hpp>
#include <weft/yield.hpp>

#include "../../support/suspended.hpp"

using namespace std::chrono_literals;
using weft::task;
using clock_type = std::chrono::steady_clock;

TEST_CASE("sleep_for resumes no earlier than its deadline", "[time]") {
  weft::runtime rt({.workers = 2});
  auto start = clock_type::now();
  rt.block_on([]() -> task<void> { co_await weft::sleep_for(15ms); }());
  CHECK(clock_type::now() - start >= 15ms);
}

TEST_CASE("sleepers wake in deadline order", "[time]") {
  // The order is promised for sleeps armed before they are due, so the deadlines start far
  // enough out for every sleeper to be armed first, and the test checks that it was.
  weft::runtime rt({.workers = 1});
  std::vector<int> order;
  std::vector<int> delays(20);
  std::iota(delays.begin(), delays.end(), 1);
  std::shuffle(delays.begin(), delays.end(), std::mt19937(7));
  bool armed_in_time = false;
  rt.block_on([&]() -> task<void> {
    auto base = clock_type::now() + 100ms;
    std::vector<weft::join_handle<void>> hs;
    for (int d : delays)
      hs.push_back(weft::spawn([](clock_type::time_point at, int d, std::vector<int>& out) -> task<void> {
        co_await weft::sleep_until(at);
        CHECK(clock_type::now() >= at);
        out.push_back(d);  // one worker: no data race
      }(base + std::chrono::milliseconds(2 * d), d, order)));
    while (rt.scheduler().pending_timers() + order.size() < delays.size()) co_await weft::yield();
    armed_in_time = order.empty();
    for (auto& h : hs) co_await h;
  }());
  REQUIRE(order.size() == delays.size());
  INFO(Catch::rangeToString(order));
  if (armed_in_time)
    CHECK(std::is_sorted(order.begin(), order.end()));
  else
    WARN("the machine was too slow to arm 20 timers within 100 ms; order not checked");
}

TEST_CASE("sleep_until a time already passed returns at once", "[time]") {
  weft::runtime rt({.workers = 1});
  rt.block_on([]() -> task<void> { co_await weft::sleep_until(clock_type::now() - 1s); }());
  CHECK(rt.scheduler().pending_timers() == 0);
}

TEST_CASE("sleep_for a negative duration throws invalid_argument", "[time][misuse]") {
  weft::runtime rt({.workers = 1});
  CHECK_THROWS_AS(rt.block_on([]() -> task<void> { co_await weft::sleep_for(-5ms); }()), std::invalid_argument);
}

TEST_CASE("a sleeping task that is cancelled wakes at once with cancelled_error", "[time][cancel]") {
  weft::runtime rt({.workers = 2});
  auto start = clock_type::now();
  bool cancelled = rt.block_on([]() -> task<bool> {
    auto h = weft::spawn([]() -> task<void> { co_await weft::sleep_for(1h); }());
    co_await weft::yield();  // let it start sleeping (or not: both paths must work)
    h.cancel();
    try {
      co_await h;
    } catch (const weft::cancelled_error&) {
      co_return true;
    }
    co_return false;
  }());
  CHECK(cancelled);
  CHECK(clock_type::now() - start < 1h);  // it did not sleep the hour out
  CHECK(rt.scheduler().pending_timers() == 0);
}

TEST_CASE("durations saturate: X::max() is never, time_point::min() is already due", "[time]") {
  weft::runtime rt({.workers = 2});
  // sleep_for(max) waits until cancelled (it does not wrap to "now").
  auto sleeping = rt.spawn([]() -> task<void> { co_await weft::sleep_for(std::chrono::hours::max()); }());
  weft::test::wait_suspended(rt, 1);
  CHECK_FALSE(sleeping.done());
  sleeping.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(sleeping)), weft::cancelled_error);
  // A timeout or deadline of "max" is no deadline at all.
  auto twice = [](int v) -> task<int> {
    co_await weft::yield();
    co_return 2 * v;
  };
  CHECK(rt.block_on(weft::with_timeout(std::chrono::nanoseconds::max(), twice(1))) == 2);
  CHECK(rt.block_on(weft::with_timeout(std::chrono::hours::max(), twice(2))) == 4);
  CHECK(rt.block_on(weft::with_deadline(clock_type::time_point::max(), twice(3))) == 6);
  CHECK(rt.block_on(weft::with_timeout(std::chrono::duration<double>(1e300), twice(4))) == 8);
  // Already due, without overflow (UBSan watches the arithmetic).
  rt.block_on([]() -> task<void> { co_await weft::sleep_until(clock_type::time_point::min()); }());
  CHECK_THROWS_AS(rt.block_on(weft::with_deadline(clock_type::time_point::min(), twice(5))), weft::timeout_error);
  CHECK(rt.scheduler().pending_timers() == 0);
}

TEST_CASE("a NaN or negative duration is refused", "[time][misuse]") {
  weft::runtime rt({.workers = 1});
  const std::chrono::duration<double> nan(std::numeric_limits<double>::quiet_NaN());
  CHECK_THROWS_AS(rt.block_on([&]() -> task<void> { co_await weft::sleep_for(nan); }()), std::invalid_argument);
  CHECK_THROWS_AS(rt.block_on(weft::with_timeout(nan, []() -> task<void> { co_return; }())), std::invalid_argument);
  CHECK_THROWS_AS(rt.block_on(weft::with_timeout(-1ms, []() -> task<void> { co_return; }())), std::invalid_argument);
}
