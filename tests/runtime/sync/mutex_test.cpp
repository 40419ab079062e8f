#include <weft/sync/mutex.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/event.hpp>
#include <weft/yield.hpp>

#include "../../support/race.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"

using namespace std::chrono_literals;
using weft::task;

TEST_CASE("an async_mutex excludes, and hands the lock to waiters in order", "[sync][mutex]") {
  weft::runtime rt({.workers = 2});
  weft::async_mutex m;
  long counter = 0;  // guarded by m, not atomic: TSan checks the exclusion
  rt.block_on([&]() -> task<void> {
    auto body = [&]() -> task<void> {
      for (int k = 0; k < 1000; ++k) {
        auto guard = co_await m.lock();
        ++counter;
        if (k % 100 == 0) co_await weft::yield();  // hold it across a suspension sometimes
      }
    };
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 8; ++i) hs.push_back(weft::spawn(body()));
    for (auto& h : hs) co_await h;
  }());
  CHECK(counter == 8000);
  CHECK_FALSE(m.is_locked());
}

TEST_CASE("a lock handed to a waiter cancelled at that moment passes on to the next waiter", "[sync][mutex][cancel]") {
  weft::test::watchdog wd("mutex hand-off racing a cancellation");
  int got_first = 0, cancelled_first = 0, bad = 0;
  for (int round = 0; round < 300; ++round) {
    weft::runtime rt({.workers = 2});
    weft::async_mutex m;
    weft::event let_go;
    std::atomic<int> first{0}, second{0};  // 1: got the lock, 2: cancelled
    auto holder = [&]() -> task<void> {
      auto g = co_await m.lock();
      co_await let_go.wait();
    };
    auto waiter = [&](std::atomic<int>& outcome) -> task<void> {
      try {
        auto g = co_await m.lock();
        outcome.store(1);
      } catch (const weft::cancelled_error&) {
        outcome.store(2);
      }
    };
    auto h0 = rt.spawn(holder());
    weft::test::wait_suspended(rt, 1);
    auto h1 = rt.spawn(waiter(first));
    weft::test::wait_suspended(rt, 2);
    auto h2 = rt.spawn(waiter(second));
    weft::test::wait_suspended(rt, 3);
    weft::test::race([&] { let_go.set(); }, [&] { h1.cancel(); });
    rt.block_on([&]() -> task<void> {
      co_await h0;
      co_await h1;
      co_await h2;
    }());
    got_first += first.load() == 1;
    cancelled_first += first.load() == 2;
    bad += first.load() == 0 || second.load() != 1 || m.is_locked();
  }
  CHECK(bad == 0);
  CHECK(got_first + cancelled_first == 300);
}

TEST_CASE("an async_mutex destroyed under a waiting task wakes it with usage_error", "[sync][mutex][lifecycle]") {
  weft::runtime rt({.workers = 2});
  auto m = std::make_unique<weft::async_mutex>();
  REQUIRE(m->try_lock());       // held by the test thread, which never unlocks it
  std::atomic<int> outcome{0};  // 1: usage_error, 2: anything else
  auto waiter = [&]() -> task<void> {
    try {
      auto g = co_await m->lock();
      outcome.store(2);
    } catch (const weft::usage_error&) {
      outcome.store(1);
    }
  };
  auto h = rt.spawn(waiter());
  weft::test::wait_suspended(rt, 1);
  m.reset();
  rt.block_on([&]() -> task<void> { co_await h; }());
  CHECK(outcome.load() == 1);
}
