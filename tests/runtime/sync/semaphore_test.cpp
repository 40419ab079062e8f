#include <weft/sync/semaphore.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/timeout.hpp>
#include <weft/yield.hpp>

#include "../../support/race.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"

using namespace std::chrono_literals;
using weft::task;

TEST_CASE("a semaphore admits at most its permits at once", "[sync][semaphore]") {
  weft::runtime rt({.workers = 2});
  weft::semaphore slots(3);
  std::atomic<int> inside{0}, most{0};
  rt.block_on([&]() -> task<void> {
    // A capturing lambda's closure must outlive the tasks it makes: keep it in this frame.
    auto body = [&]() -> task<void> {
      co_await slots.acquire();
      int now = inside.fetch_add(1) + 1;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      co_await weft::yield();
      inside.fetch_sub(1);
      slots.release();
    };
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 50; ++i) hs.push_back(weft::spawn(body()));
    for (auto& h : hs) co_await h;
  }());
  CHECK(most.load() <= 3);
  CHECK(most.load() >= 1);
  CHECK(slots.available() == 3);
}

TEST_CASE("a cancelled acquire does not lose a permit", "[sync][semaphore][cancel]") {
  weft::runtime rt({.workers = 2});
  weft::semaphore s(0);
  CHECK_THROWS_AS(rt.block_on(weft::with_timeout(2ms, [&]() -> task<void> { co_await s.acquire(); }())),
                  weft::timeout_error);
  s.release();
  CHECK(s.available() == 1);
  CHECK(s.waiting() == 0);
}

TEST_CASE("a permit handed to a waiter cancelled at that moment is not lost", "[sync][semaphore][cancel]") {
  weft::test::watchdog wd("semaphore hand-off racing a cancellation");
  int got_first = 0, cancelled_first = 0, bad = 0;
  for (int round = 0; round < 300; ++round) {
    weft::runtime rt({.workers = 2});
    weft::semaphore s(0);
    std::atomic<int> first{0}, second{0};  // 1: got a permit (and gave it back), 2: cancelled
    auto waiter = [&](std::atomic<int>& outcome) -> task<void> {
      try {
        co_await s.acquire();
        outcome.store(1);
        s.release();
      } catch (const weft::cancelled_error&) {
        outcome.store(2);
      }
    };
    auto h1 = rt.spawn(waiter(first));
    weft::test::wait_suspended(rt, 1);
    auto h2 = rt.spawn(waiter(second));
    weft::test::wait_suspended(rt, 2);
    weft::test::race([&] { s.release(); }, [&] { h1.cancel(); });
    rt.block_on([&]() -> task<void> {
      co_await h1;
      co_await h2;
    }());
    got_first += first.load() == 1;
    cancelled_first += first.load() == 2;
    bad += first.load() == 0 || second.load() != 1 || s.available() != 1 || s.waiting() != 0;
  }
  CHECK(bad == 0);
  CHECK(got_first + cancelled_first == 300);
}

TEST_CASE("a semaphore destroyed right after handing its permits to waiters that have not resumed yet",
          "[sync][semaphore][lifecycle]") {
  weft::test::watchdog wd("semaphore hand-offs racing its destruction");
  constexpr int waiters = 64, rounds = 300;
  int bad = 0;
  for (int round = 0; round < rounds; ++round) {
    weft::runtime rt({.workers = 2});
    auto s = std::make_unique<weft::semaphore>(0);
    std::atomic<int> got{0};
    auto waiter = [&](weft::semaphore& sem) -> task<void> {
      co_await sem.acquire();
      got.fetch_add(1);
    };
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < waiters; ++i) hs.push_back(rt.spawn(waiter(*s)));
    weft::test::wait_suspended(rt, waiters);
    // Every waiter is handed a permit; once some have resumed (each takes itself off the
    // semaphore's hand-off list), the semaphore is destroyed while the others resume.
    s->release(waiters);
    while (got.load() < waiters / 4) {
    }
    s.reset();
    rt.block_on([&]() -> task<void> {
      for (auto& h : hs) co_await h;
    }());
    bad += got.load() != waiters;
  }
  CHECK(bad == 0);
}

TEST_CASE("a semaphore count that is a negative one converted to std::size_t is refused", "[sync][semaphore]") {
  CHECK_THROWS_AS(weft::semaphore(static_cast<std::size_t>(-1)), std::invalid_argument);
  CHECK_THROWS_AS(weft::semaphore(weft::semaphore::max() + 1), std::invalid_argument);
  weft::semaphore most(weft::semaphore::max());
  CHECK(most.available() == weft::semaphore::max());
}
