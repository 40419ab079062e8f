// weft::testing::sim, virtual time: sleeps, timers and deadlines fire at their virtual time at
// once, and advance runs a sim for a span of it.
#include <weft/testing/sim.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/spawn.hpp>
#include <weft/sync/channel.hpp>
#include <weft/time.hpp>
#include <weft/timeout.hpp>

using namespace std::chrono_literals;
using weft::task;
using weft::testing::sim;

TEST_CASE("a sleep in a sim returns at once and moves its virtual clock by exactly the duration", "[sim]") {
  sim s{{.seed = 42, .workers = 1}};
  const auto wall = std::chrono::steady_clock::now();
  s.block_on([]() -> task<void> { co_await weft::sleep_for(1h); }());
  REQUIRE(s.now() - s.start() == 1h);
  // Nothing to assert about wall time in a unit test, except that an hour did not pass.
  CHECK(std::chrono::steady_clock::now() - wall < 1h);
}

TEST_CASE("a one-hour virtual scenario runs every event at its virtual time", "[sim]") {
  // A producer ticks every 100 ms for an hour into a channel; a consumer reads each value with
  // a 5 s timeout; a reporter wakes every minute. 36,000 ticks, 60 reports, one hour.
  sim s{{.seed = 7, .workers = 2}};
  const auto start = s.start();
  struct counts {
    long ticks = 0, received = 0, late = 0, reports = 0, timeouts = 0;
  } c;
  s.block_on([&]() -> task<void> {
    weft::channel<long> ch(16);
    auto producer =
        weft::spawn([](weft::channel<long>& ch, counts& c, std::chrono::steady_clock::time_point start) -> task<void> {
          for (long i = 1; i <= 36'000; ++i) {
            co_await weft::sleep_until(start + i * 100ms);
            ++c.ticks;
            co_await ch.send(i);
          }
          ch.close();
        }(ch, c, start));
    auto consumer =
        weft::spawn([](weft::channel<long>& ch, counts& c, std::chrono::steady_clock::time_point start) -> task<void> {
          for (;;) {
            std::optional<long> v;
            try {
              v = co_await weft::with_timeout(
                  5s, [](weft::channel<long>& ch) -> task<std::optional<long>> { co_return co_await ch.recv(); }(ch));
            } catch (const weft::timeout_error&) {
              ++c.timeouts;
              continue;
            }
            if (!v) co_return;
            ++c.received;
            if (weft::now() != start + *v * 100ms) ++c.late;  // each value arrives at its tick
          }
        }(ch, c, start));
    auto reporter = weft::spawn([](counts& c) -> task<void> {
      for (int m = 0; m < 60; ++m) {
        co_await weft::sleep_for(1min);
        ++c.reports;
      }
    }(c));
    co_await producer;
    co_await consumer;
    co_await reporter;
  }());
  CHECK(s.now() - start == 1h);
  CHECK(c.ticks == 36'000);
  CHECK(c.received == 36'000);
  CHECK(c.late == 0);
  CHECK(c.reports == 60);
  CHECK(c.timeouts == 0);
}

TEST_CASE("with_timeout and with_deadline fire at their virtual deadline", "[sim][cancel]") {
  sim s{{.seed = 1}};
  const auto start = s.start();
  SECTION("a timeout that fires") {
    CHECK_THROWS_AS(s.block_on(weft::with_timeout(30s, []() -> task<void> { co_await weft::sleep_for(1h); }())),
                    weft::timeout_error);
    CHECK(s.now() - start == 30s);
  }
  SECTION("a deadline that fires") {
    CHECK_THROWS_AS(s.block_on([]() -> task<void> {
      co_await weft::with_deadline(weft::now() + 10s, []() -> task<void> { co_await weft::sleep_for(1min); }());
    }()),
                    weft::timeout_error);
    CHECK(s.now() - start == 10s);
  }
  SECTION("a task that finishes first keeps its value, and the deadline never fires") {
    int v = s.block_on(weft::with_timeout(30s, []() -> task<int> {
      co_await weft::sleep_for(29s);
      co_return 7;
    }()));
    CHECK(v == 7);
    CHECK(s.now() - start == 29s);
    // The deadline's timer is gone: nothing is left for the clock to jump to.
    CHECK(s.scheduler().pending_timers() == 0);
  }
  SECTION("a timeout given before the task reaches the sim counts on the sim's clock") {
    auto t = weft::with_timeout(2s, []() -> task<void> { co_await weft::sleep_for(3s); }());
    s.advance(1min);  // made a minute (virtual) before it runs: still 2 s from its start
    CHECK_THROWS_AS(s.block_on(std::move(t)), weft::timeout_error);
    CHECK(s.now() - start == 1min + 2s);
  }
}

TEST_CASE("timers in a sim fire in deadline order, on the wheel's millisecond ticks", "[sim]") {
  sim s{{.seed = 3, .workers = 3}};
  std::vector<int> order;
  std::vector<std::chrono::nanoseconds> at;
  s.block_on([&]() -> task<void> {
    std::vector<weft::join_handle<void>> hs;
    for (int d : {50, 10, 40, 20, 30})
      hs.push_back(weft::spawn([](int d, std::vector<int>& order, std::vector<std::chrono::nanoseconds>& at,
                                  std::chrono::steady_clock::time_point start) -> task<void> {
        co_await weft::sleep_for(std::chrono::milliseconds(d));
        order.push_back(d);
        at.push_back(weft::now() - start);
      }(d, order, at, weft::now())));
    for (auto& h : hs) co_await h;
  }());
  CHECK(order == std::vector<int>{10, 20, 30, 40, 50});
  CHECK(at == std::vector<std::chrono::nanoseconds>{10ms, 20ms, 30ms, 40ms, 50ms});
  s.block_on([]() -> task<void> { co_await weft::sleep_for(1500us); }());
  CHECK(s.now() - s.start() == 52ms);  // 50 ms, then 1.5 ms rounded up to the next tick
}

TEST_CASE("advance runs a sim for a span of virtual time, firing each timer at its deadline", "[sim]") {
  sim s{{.seed = 5}};
  std::vector<std::chrono::nanoseconds> ticks;
  bool slow_done = false;
  auto ticker = s.spawn([](std::vector<std::chrono::nanoseconds>& ticks) -> task<void> {
    const auto start = weft::now();
    for (;;) {
      co_await weft::sleep_for(10ms);
      ticks.push_back(weft::now() - start);
    }
  }(ticks));
  s.spawn([](bool& done) -> task<void> {
     co_await weft::sleep_for(1500ms);
     done = true;
   }(slow_done))
      .detach();
  CHECK(ticks.empty());  // nothing runs between calls into the sim
  s.advance(1s);
  CHECK(s.now() - s.start() == 1s);
  REQUIRE(ticks.size() == 100);
  CHECK(ticks.front() == 10ms);
  CHECK(ticks.back() == 1s);
  CHECK_FALSE(slow_done);
  s.advance(500ms);
  CHECK(slow_done);
  CHECK(ticks.size() == 150);
  s.advance(0ms);  // runs what is runnable, moves nothing
  CHECK(s.now() - s.start() == 1500ms);
  ticker.cancel();
  CHECK_THROWS_AS(s.block_on(std::move(ticker)), weft::cancelled_error);
  CHECK(s.now() - s.start() == 1500ms);  // a cancellation wakes at once, in virtual time too
  CHECK_THROWS_AS(s.advance(-1ms), std::invalid_argument);
}
