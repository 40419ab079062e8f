#include <weft/cancel.hpp>
#include <weft/timeout.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include <catch2/catch.hpp>

#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/this_task.hpp>
#include <weft/time.hpp>
#include <weft/when_all.hpp>
#include <weft/yield.hpp>

#include "../../support/watchdog.hpp"

using namespace std::chrono_literals;
using weft::task;

TEST_CASE("a cancel_source runs each callback once, and late ones at once", "[cancel]") {
  weft::cancel_source src;
  auto tok = src.token();
  int a = 0, b = 0;
  auto ra = tok.on_cancel([&] { ++a; });
  CHECK_FALSE(tok.cancelled());
  CHECK(src.cancel());
  CHECK_FALSE(src.cancel());  // only the first request counts
  CHECK(tok.cancelled());
  auto rb = tok.on_cancel([&] { ++b; });
  CHECK(a == 1);
  CHECK(b == 1);
}

TEST_CASE("a callback unregistered before cancellation never runs", "[cancel]") {
  weft::cancel_source src;
  int calls = 0;
  {
    auto r = src.token().on_cancel([&] { ++calls; });
  }
  src.cancel();
  CHECK(calls == 0);
}

TEST_CASE("a linked source is cancelled with its parent, not the other way round", "[cancel]") {
  weft::cancel_source parent;
  weft::cancel_source child(parent.token());
  weft::cancel_source other(parent.token());
  other.cancel();
  CHECK_FALSE(parent.cancelled());
  parent.cancel();
  CHECK(child.cancelled());
  weft::cancel_source late(parent.token());  // linked after the fact: cancelled at birth
  CHECK(late.cancelled());
}

TEST_CASE("an empty token is never cancelled", "[cancel]") {
  weft::cancel_token t;
  CHECK_FALSE(t.can_be_cancelled());
  CHECK_FALSE(t.cancelled());
}

TEST_CASE("a timed-out task stops at its next await", "[cancel][timeout]") {
  weft::runtime rt({.workers = 2});
  std::atomic<int> after_await{0};
  auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(rt.block_on(weft::with_timeout(20ms,
                                                 [&]() -> task<void> {
                                                   co_await weft::sleep_for(1h);
                                                   after_await.fetch_add(1);  // never reached
                                                 }())),
                  weft::timeout_error);
  CHECK(after_await.load() == 0);
  CHECK(std::chrono::steady_clock::now() - start >= 20ms);
  CHECK(rt.scheduler().pending_timers() == 0);
}

TEST_CASE("timeout_error is a cancelled_error", "[cancel][timeout]") {
  weft::runtime rt({.workers = 1});
  CHECK_THROWS_AS(rt.block_on(weft::with_timeout(1ms, []() -> task<void> { co_await weft::sleep_for(1h); }())),
                  weft::cancelled_error);
}

TEST_CASE("a task that finishes in time returns its value and disarms the deadline", "[cancel][timeout]") {
  weft::runtime rt({.workers = 1});
  int v = rt.block_on(weft::with_timeout(1h, []() -> task<int> { co_return 9; }()));
  CHECK(v == 9);
  CHECK(rt.scheduler().pending_timers() == 0);
  // The task is not left cancelled after the scope.
  CHECK(rt.block_on([]() -> task<bool> {
    co_await weft::with_timeout(1h, []() -> task<void> { co_return; }());
    co_return weft::this_task::cancelled();
  }()) == false);
}

TEST_CASE("a deadline already passed cancels the task before it does anything", "[cancel][timeout]") {
  weft::runtime rt({.workers = 1});
  int steps = 0;
  CHECK_THROWS_AS(rt.block_on(weft::with_deadline(std::chrono::steady_clock::now() - 1s,
                                                  [&]() -> task<void> {
                                                    ++steps;
                                                    co_await weft::yield();
                                                    ++steps;
                                                  }())),
                  weft::timeout_error);
  CHECK(steps == 1);  // it ran up to its first cancellation point
}

TEST_CASE("with_timeout with a negative duration throws invalid_argument", "[cancel][misuse]") {
  weft::runtime rt({.workers = 1});
  CHECK_THROWS_AS(
      rt.block_on([]() -> task<void> { co_await weft::with_timeout(-1ms, []() -> task<void> { co_return; }()); }()),
      std::invalid_argument);
}

TEST_CASE("children spawned under a deadline are cancelled with it", "[cancel][timeout]") {
  weft::test::watchdog wd("children spawned under a deadline", 30s);
  std::atomic<int> child_cancelled{0};
  weft::runtime rt({.workers = 2});
  CHECK_THROWS_AS(rt.block_on(weft::with_timeout(10ms,
                                                 [&]() -> task<void> {
                                                   auto child = weft::spawn([](std::atomic<int>& c) -> task<void> {
                                                     try {
                                                       co_await weft::sleep_for(1h);
                                                     } catch (const weft::cancelled_error&) {
                                                       c.fetch_add(1);
                                                       throw;
                                                     }
                                                   }(child_cancelled));
                                                   co_await child;
                                                 }())),
                  weft::timeout_error);
  // The parent's join is a cancellation point of its own: it may throw before the child has run
  // its catch block. Wait for the child (a child never cancelled is the hang the watchdog names).
  while (child_cancelled.load() == 0) std::this_thread::yield();
  CHECK(child_cancelled.load() == 1);
}

TEST_CASE("checkpoint stops a CPU-bound loop at the deadline", "[cancel][timeout]") {
  weft::runtime rt({.workers = 1});
  long iterations = 0;
  CHECK_THROWS_AS(rt.block_on(weft::with_timeout(5ms,
                                                 [&]() -> task<void> {
                                                   for (;;) {
                                                     weft::this_task::checkpoint();
                                                     ++iterations;
                                                   }
                                                   co_return;
                                                 }())),
                  weft::timeout_error);
  CHECK(iterations > 0);
}

TEST_CASE("a task spawned with a token is cancelled by its source", "[cancel]") {
  weft::runtime rt({.workers = 2});
  weft::cancel_source src;
  auto h = rt.spawn([]() -> task<void> { co_await weft::sleep_for(1h); }(), {.name = "sleeper", .token = src.token()});
  src.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(h)), weft::cancelled_error);
}

TEST_CASE("this_task::token is the token a task was given", "[cancel]") {
  weft::runtime rt({.workers = 1});
  weft::cancel_source src;
  bool same = rt.block_on(
      [](weft::cancel_token expected) -> task<bool> { co_return weft::this_task::token() == expected; }(src.token()),
      {.token = src.token()});
  CHECK(same);
  CHECK_FALSE(weft::this_task::token().can_be_cancelled());  // off the runtime: empty
}

TEST_CASE("cancelling the caller of with_timeout gives cancelled_error, not timeout_error", "[cancel][timeout]") {
  weft::runtime rt({.workers = 2});
  weft::cancel_source src;
  auto h =
      rt.spawn(weft::with_timeout(1h, []() -> task<void> { co_await weft::sleep_for(1h); }()), {.token = src.token()});
  src.cancel();
  try {
    rt.block_on(std::move(h));
    FAIL("expected cancellation");
  } catch (const weft::timeout_error&) {
    FAIL("not a timeout");
  } catch (const weft::cancelled_error&) {
    SUCCEED();
  }
}
