#include <weft/sync/watch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/yield.hpp>

#include "../../support/calls_back.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"

using weft::task;
using receiver = weft::watch<int>::receiver;

TEST_CASE("a watch holds the latest value; a new receiver counts it as seen", "[sync][watch]") {
  weft::watch<std::string> w("first");
  auto rx = w.subscribe();
  CHECK(rx.get() == "first");
  CHECK_FALSE(rx.has_changed());
  w.send("second");
  CHECK(w.get() == "second");
  CHECK(rx.get() == "second");
  CHECK(rx.has_changed());  // get() does not mark it seen
}

TEST_CASE("changed() waits for a value the receiver has not seen, and marks it seen", "[sync][watch]") {
  weft::runtime rt({.workers = 2});
  weft::watch<int> w(0);
  auto rx = w.subscribe();
  auto waiting = rt.spawn([](receiver& rx) -> task<int> {
    bool changed = co_await rx.changed();
    co_return changed ? rx.get() : -1;
  }(rx));
  weft::test::wait_suspended(rt, 1);
  w.send(5);  // from a plain thread
  CHECK(rt.block_on(std::move(waiting)) == 5);
  CHECK_FALSE(rx.has_changed());
}

TEST_CASE("several values sent while a receiver was away show as one change: the last value", "[sync][watch]") {
  weft::runtime rt({.workers = 1});
  weft::watch<int> w(0);
  auto rx = w.subscribe();
  for (int i = 1; i <= 3; ++i) w.send(i);
  auto [first, value, pending] = rt.block_on([](receiver& rx) -> task<std::tuple<bool, int, bool>> {
    bool c = co_await rx.changed();
    co_return std::tuple{c, rx.get(), rx.has_changed()};
  }(rx));
  CHECK(first);
  CHECK(value == 3);
  CHECK_FALSE(pending);
}

TEST_CASE("after close, changed() reports the last unseen value, then returns false", "[sync][watch]") {
  weft::runtime rt({.workers = 1});
  weft::watch<int> w(0);
  auto rx = w.subscribe();
  w.send(1);
  w.close();
  CHECK(w.closed());
  CHECK_THROWS_AS(w.send(2), weft::channel_closed);
  auto [a, b] = rt.block_on([](receiver& rx) -> task<std::pair<bool, bool>> {
    bool x = co_await rx.changed();
    bool y = co_await rx.changed();
    co_return std::pair{x, y};
  }(rx));
  CHECK(a);
  CHECK_FALSE(b);
  CHECK(rx.get() == 1);
}

TEST_CASE("destroying a watch wakes its waiting receivers with false; they still read the last value",
          "[sync][watch][lifecycle]") {
  weft::runtime rt({.workers = 2});
  auto w = std::make_unique<weft::watch<int>>(4);
  auto rx = w->subscribe();
  auto waiting = rt.spawn([](receiver& rx) -> task<bool> { co_return co_await rx.changed(); }(rx));
  weft::test::wait_suspended(rt, 1);
  w.reset();
  CHECK_FALSE(rt.block_on(std::move(waiting)));
  CHECK(rx.get() == 4);
}

TEST_CASE("a receiver destroyed while a task waits in its changed() wakes that task with usage_error",
          "[sync][watch][lifecycle]") {
  weft::runtime rt({.workers = 2});
  weft::watch<int> w(0);
  auto rx = std::make_unique<receiver>(w.subscribe());
  auto waiting = rt.spawn([](receiver& rx) -> task<void> { (void)co_await rx.changed(); }(*rx));
  weft::test::wait_suspended(rt, 1);
  rx.reset();
  CHECK_THROWS_AS(rt.block_on(std::move(waiting)), weft::usage_error);
  CHECK(w.receiver_count() == 0);
  w.send(1);
}

TEST_CASE("changed() is a cancellation point", "[sync][watch][cancel]") {
  weft::runtime rt({.workers = 2});
  weft::watch<int> w(0);
  auto rx = w.subscribe();
  auto waiting = rt.spawn([](receiver& rx) -> task<void> { (void)co_await rx.changed(); }(rx));
  weft::test::wait_suspended(rt, 1);
  waiting.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(waiting)), weft::cancelled_error);
  w.send(1);
  CHECK(rx.has_changed());  // the cancelled wait did not mark it seen
}

TEST_CASE("an empty receiver is a usage error", "[sync][watch]") {
  receiver rx;
  CHECK_THROWS_AS(rx.get(), weft::usage_error);
  CHECK_THROWS_AS(rx.changed(), weft::usage_error);
}

TEST_CASE("receivers racing a sender see values that only go up and end with the last one", "[sync][watch][stress]") {
  weft::test::watchdog wd("watch receivers racing a sender");
  weft::runtime rt({.workers = 2});
  constexpr int n = 20'000;
  weft::watch<int> w(0);
  std::vector<weft::join_handle<bool>> rs;
  for (int i = 0; i < 3; ++i)
    rs.push_back(rt.spawn([](receiver rx) -> task<bool> {
      int last = 0;
      bool ok = true;
      while (co_await rx.changed()) {
        int v = rx.get();
        ok &= v >= last;
        last = v;
      }
      co_return ok&& rx.get() == n;
    }(w.subscribe())));
  rt.block_on([](weft::watch<int>& w) -> task<void> {
    for (int i = 1; i <= n; ++i) {
      w.send(i);
      if (i % 64 == 0) co_await weft::yield();
    }
    w.close();
  }(w));
  int bad = 0;
  for (auto& r : rs) bad += !rt.block_on(std::move(r));
  CHECK(bad == 0);
}

TEST_CASE("a value replaced by send() is destroyed after the lock: its destructor may read the watch and send",
          "[sync][watch]") {
  weft::test::watchdog wd("a watch value whose destructor uses the watch", std::chrono::seconds(30));
  using weft::test::calls_back;
  weft::watch<calls_back> w{calls_back(0)};
  auto rx = w.subscribe();
  int read_back = -1;
  w.send(calls_back(1, [&] {
    read_back = w.get().n();  // the value that replaced this one
    w.send(calls_back(3));
  }));
  w.send(calls_back(2));  // replaces value 1, whose destructor sends value 3
  CHECK(read_back == 2);
  CHECK(w.get().n() == 3);
  CHECK(rx.has_changed());
}
