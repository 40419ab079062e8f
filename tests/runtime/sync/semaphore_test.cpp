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

TEST_CASE("a release that would take the count past max() throws and leaves the semaphore as it was",
          "[sync][semaphore]") {
  constexpr std::size_t most = weft::semaphore::max();
  weft::semaphore s(most - 1);
  CHECK_THROWS_AS(s.release(2), std::invalid_argument);
  CHECK(s.available() == most - 1);
  s.release();
  CHECK(s.available() == most);
  CHECK_THROWS_AS(s.release(), std::invalid_argument);
  CHECK(s.available() == most);
  // A negative count converted to std::size_t, from the top or from empty.
  weft::semaphore empty(0);
  CHECK_THROWS_AS(empty.release(static_cast<std::size_t>(-1)), std::invalid_argument);
  CHECK(empty.available() == 0);
  empty.release(most);
  CHECK(empty.available() == most);
}

TEST_CASE("a release past max() refused with a task waiting hands it nothing", "[sync][semaphore]") {
  weft::runtime rt({.workers = 1});
  weft::semaphore s(0);
  auto h = rt.spawn([](weft::semaphore& sem) -> task<void> { co_await sem.acquire(); }(s));
  weft::test::wait_suspended(rt, 1);
  CHECK_THROWS_AS(s.release(weft::semaphore::max() + 1), std::invalid_argument);
  CHECK(s.waiting() == 1);
  CHECK(s.available() == 0);
  s.release();
  rt.block_on([](weft::join_handle<void>& j) -> task<void> { co_await j; }(h));
  CHECK(s.available() == 0);
  CHECK(s.waiting() == 0);
}

TEST_CASE("a permit handed to a waiter that has not resumed yet counts towards max()", "[sync][semaphore]") {
  // One worker, held by a task until the test lets it go: a permit handed to the waiter stays
  // in flight (given a task that cannot run yet), and would come back if its frame were destroyed.
  weft::test::watchdog wd("a handed permit and max()");
  weft::runtime rt({.workers = 1, .stall = {.max_replacements = 0}});
  weft::semaphore s(0);
  std::atomic<bool> holding{false}, go{false};
  auto waiter = rt.spawn([](weft::semaphore& sem) -> task<void> { co_await sem.acquire(); }(s));
  weft::test::wait_suspended(rt, 1);
  auto holder = rt.spawn([](std::atomic<bool>& held, std::atomic<bool>& let_go) -> task<void> {
    held.store(true);
    while (!let_go.load()) {
    }
    co_return;
  }(holding, go));
  while (!holding.load()) {
  }
  s.release();  // handed to the waiter, which waits for the worker
  CHECK_THROWS_AS(s.release(weft::semaphore::max()), std::invalid_argument);
  CHECK(s.available() == 0);
  s.release(weft::semaphore::max() - 1);
  go.store(true);
  rt.block_on([](weft::join_handle<void>& a, weft::join_handle<void>& b) -> task<void> {
    co_await a;
    co_await b;
  }(waiter, holder));
  CHECK(s.available() == weft::semaphore::max() - 1);
}
