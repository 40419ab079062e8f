// weft::testing::sim and the stall detector: stalls, zombies and hung tasks measured on the
// virtual clock.
#include <weft/testing/sim.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/spawn.hpp>
#include <weft/stall.hpp>
#include <weft/sync/event.hpp>
#include <weft/time.hpp>
#include <weft/yield.hpp>

#include "../../support/metric.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::test::metric;
using weft::testing::sim;

TEST_CASE("advance inside a task stretches its dispatch: the stall detector sees it, timers fire after",
          "[sim][stall]") {
  std::vector<weft::stall_report> reports;
  sim s{
      {.seed = 9,
       .runtime = {.stall = {.threshold = 100ms, .replace_after = 500ms, .on_stall = [&](const weft::stall_report& r) {
                               reports.push_back(r);
                             }}}}};
  std::vector<std::string> events;
  std::size_t zombies_during = 0;
  s.block_on([&]() -> task<void> {
    auto sleeper = weft::spawn([](std::vector<std::string>& ev) -> task<void> {
      co_await weft::sleep_for(50ms);
      ev.push_back("sleeper woke at " + std::to_string((weft::now().time_since_epoch() / 1ms)));
    }(events));
    while (s.scheduler().pending_timers() == 0) co_await weft::yield();  // until it sleeps
    auto busy = weft::spawn(
        [](sim& s, std::vector<std::string>& ev, std::size_t& zombies) -> task<void> {
          ev.push_back("busy starts");
          s.advance(600ms);  // "CPU work" of 600 ms: past the threshold and replace_after
          zombies = s.zombie_workers();
          ev.push_back("busy ends");
          co_return;
        }(s, events, zombies_during),
        {.name = "busy"});
    co_await sleeper;
    co_await busy;
  }());
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].task_name == "busy");
  CHECK(reports[0].duration >= 100ms);
  CHECK(reports[0].backtrace.empty());  // the "stuck" thread is the one driving the sim
  CHECK(s.stalls_detected() == 1);
  CHECK(zombies_during == 1);
  CHECK(s.zombie_workers() == 0);  // its dispatch ended
  // The sleeper's timer came due during the busy dispatch: it ran after it, at 600 ms.
  REQUIRE(events.size() == 3);
  CHECK(events[0] == "busy starts");
  CHECK(events[1] == "busy ends");
  CHECK(events[2] == "sleeper woke at " + std::to_string(((s.start() + 600ms).time_since_epoch() / 1ms)));
  CHECK(s.now() - s.start() == 600ms);
}

TEST_CASE("hung tasks and dump_tasks measure suspension in virtual time", "[sim][stall]") {
  sim s{{.seed = 12, .runtime = {.stall = {.hang_threshold = 30s}}}};
  weft::event gate;
  auto waiter = s.spawn([](weft::event& g) -> task<void> { co_await g.wait(); }(gate), {.name = "waiter"});
  s.advance(10s);
  bool seen = false;
  for (const auto& t : s.dump_tasks())
    if (t.name == "waiter") {
      seen = true;
      CHECK(t.state == weft::task_state::suspended);
      CHECK(t.in_state == 10s);
    }
  CHECK(seen);
  CHECK(metric(s, "weft_hung_tasks") == 0);
  s.advance(21s);
  CHECK(metric(s, "weft_hung_tasks") == 1);
  gate.set();
  s.block_on(std::move(waiter));
  CHECK(metric(s, "weft_hung_tasks") == 0);
}
