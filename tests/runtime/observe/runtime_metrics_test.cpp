#include <weft/runtime.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/metrics/registry.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/channel.hpp>
#include <weft/time.hpp>
#include <weft/timeout.hpp>
#include <weft/yield.hpp>

#include "../../support/promtool.hpp"

using namespace std::chrono_literals;
using weft::task;

namespace {

task<void> noop() { co_return; }
task<void> boom() {
  throw std::runtime_error("boom");
  co_return;
}

double counter(const weft::metrics::registry& reg, const char* name, const char* rt) {
  return reg.snapshot().counter_value(name, {{"runtime", rt}});
}

}  // namespace

TEST_CASE("10,000 spawned tasks show as 10,000 spawned and 10,000 completed", "[runtime][metrics]") {
  weft::metrics::registry reg;
  {
    weft::runtime rt({.workers = 2, .name = "counted", .registry = &reg});
    rt.block_on([]() -> task<void> {
      std::vector<weft::join_handle<void>> hs;
      hs.reserve(10'000);
      for (int i = 0; i < 10'000; ++i) hs.push_back(weft::spawn(noop()));
      for (auto& h : hs) co_await h;
    }());
    // The root task of block_on counts as one more spawn (from outside) and one more completion.
    CHECK(counter(reg, "weft_tasks_spawned_total", "counted") == 10'001);
    CHECK(counter(reg, "weft_tasks_completed_total", "counted") == 10'001);
    CHECK(counter(reg, "weft_tasks_failed_total", "counted") == 0);
    CHECK(reg.snapshot().gauge_value("weft_tasks_live", {{"runtime", "counted"}}) == 0);
    CHECK(reg.snapshot().gauge_value("weft_workers", {{"runtime", "counted"}}) == 2);
    double polls = 0;
    for (int w = 0; w < 2; ++w)
      polls +=
          reg.snapshot().counter_value("weft_polls_total", {{"runtime", "counted"}, {"worker", std::to_string(w)}});
    CHECK(polls >= 1);
  }
  // Once the runtime is gone its callback series are gone too; the registry still works.
  CHECK(reg.snapshot().find("weft_tasks_spawned_total", {{"runtime", "counted"}}) == nullptr);
  CHECK_FALSE(reg.to_prometheus().empty());
}

TEST_CASE("failed, cancelled and timed-out tasks are counted apart", "[runtime][metrics][cancel]") {
  weft::runtime rt({.workers = 1, .name = "outcomes"});
  CHECK_THROWS(rt.block_on(boom()));
  CHECK_THROWS_AS(rt.block_on(weft::with_timeout(1ms, []() -> task<void> { co_await weft::sleep_for(1h); }())),
                  weft::timeout_error);
  auto& reg = rt.metrics();
  CHECK(counter(reg, "weft_tasks_failed_total", "outcomes") == 1);
  CHECK(counter(reg, "weft_tasks_timed_out_total", "outcomes") == 1);
  CHECK(counter(reg, "weft_tasks_cancelled_total", "outcomes") == 1);
}

TEST_CASE("a worker's LIFO slot, global queue, timers and rescue races are counted", "[runtime][metrics]") {
  weft::metrics::registry reg;
  weft::runtime rt({.workers = 1, .name = "lifo", .registry = &reg});
  // block_on's task comes through the global queue; it sleeps once (a timer), then plays
  // ping-pong: every hand-off wakes the other task into the worker's LIFO slot.
  rt.block_on([]() -> task<void> {
    co_await weft::sleep_for(1ms);
    weft::channel<int> ping(1), pong(1);
    auto echo = weft::spawn([](weft::channel<int>& in, weft::channel<int>& out) -> task<void> {
      while (auto v = co_await in.recv()) co_await out.send(*v);
      out.close();
    }(ping, pong));
    for (int i = 0; i < 100; ++i) {
      co_await ping.send(i);
      co_await pong.recv();
    }
    ping.close();
    co_await echo;
  }());
  const weft::metrics::labels w0{{"runtime", "lifo"}, {"worker", "0"}};
  auto snap = reg.snapshot();
  for (const char* name : {"weft_lifo_hits_total", "weft_global_queue_takes_total", "weft_notifies_total",
                           "weft_timers_fired_total", "weft_lifo_rescue_races_total"}) {
    INFO(name);
    REQUIRE(snap.find(name, w0) != nullptr);
  }
  CHECK(snap.counter_value("weft_lifo_hits_total", w0) >= 100);
  CHECK(snap.counter_value("weft_global_queue_takes_total", w0) >= 1);
  CHECK(snap.counter_value("weft_timers_fired_total", w0) >= 1);
  // Nobody rescued anything while the slot was busy (the series is not the slot's hit count).
  CHECK(snap.counter_value("weft_lifo_rescue_races_total", w0) == 0);
  CHECK(snap.counter_value("weft_polls_total", w0) >= 100);
}

TEST_CASE("scrapes racing shutdown and destruction read only live workers' series", "[runtime][metrics][lifecycle]") {
  // A test-owned registry outlives the runtimes that export into it. One thread collects it
  // without pause while runtimes run tasks, are shut down from two threads at once or only
  // destroyed: every per-worker series reads its worker's counters, so a collection after a
  // worker is gone would read freed memory (ASan) or race its last writes (TSan).
  weft::metrics::registry reg;
  std::atomic<bool> stop{false};
  std::atomic<long> scrapes{0};
  std::thread scraper([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      (void)reg.to_prometheus();
      scrapes.fetch_add(1, std::memory_order_relaxed);
    }
  });
  for (int round = 0; round < 6; ++round) {
    std::atomic<long> ran{0};
    weft::runtime rt({.workers = 2, .name = "scraped", .registry = &reg});
    for (int i = 0; i < 200; ++i)
      rt.spawn([](std::atomic<long>& n) -> task<void> {
          co_await weft::yield();
          n.fetch_add(1, std::memory_order_relaxed);
        }(ran))
          .detach();
    rt.block_on([]() -> task<void> { co_await weft::sleep_for(1ms); }());
    const long before = scrapes.load();
    while (scrapes.load() < before + 2) std::this_thread::yield();  // collected while it runs
    if (round % 2 == 0) {
      std::thread other([&] { rt.shutdown(); });
      rt.shutdown();
      other.join();
    }  // odd rounds: the destructor alone
  }
  const long before = scrapes.load();
  while (scrapes.load() < before + 2) std::this_thread::yield();
  stop.store(true);
  scraper.join();
  const std::string text = reg.to_prometheus();
  CHECK(text.find("weft_lifo_hits_total{") == std::string::npos);  // the series left with their runtimes
  CHECK(text.find("weft_polls_total{") == std::string::npos);
}

TEST_CASE("the sampled timing histograms see dispatches", "[runtime][metrics]") {
  weft::runtime rt({.workers = 1, .name = "timed"});
  rt.block_on([]() -> task<void> {
    for (int i = 0; i < 1000; ++i) co_await weft::yield();  // each yield is one more dispatch
  }());
  auto snap = rt.metrics().snapshot();
  CHECK(snap.histogram("weft_poll_duration_seconds", {{"runtime", "timed"}}).count >= 1);
  CHECK(snap.histogram("weft_schedule_delay_seconds", {{"runtime", "timed"}}).count >= 1);
}

TEST_CASE("the metrics of a busy runtime pass promtool check metrics", "[runtime][metrics][promtool]") {
  auto promtool = weft::test::promtool_path();
  if (!promtool) {
    WARN("promtool not found at configure time: skipping");
    return;
  }
  weft::runtime rt({.workers = 2, .name = "busy"});
  std::string text;
  rt.block_on([&]() -> task<void> {
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 1000; ++i) hs.push_back(weft::spawn(noop()));
    text = rt.metrics().to_prometheus();  // scraped while tasks are in flight
    for (auto& h : hs) co_await h;
  }());
  auto result = weft::test::promtool_check(*promtool, text);
  INFO(result.output << "\n" << text);
  CHECK(result.exit_status == 0);
  CHECK(result.output.empty());
  CHECK(text.find("weft_tasks_spawned_total{runtime=\"busy\"}") != std::string::npos);
}
