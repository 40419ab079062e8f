#include <weft/join_set.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/event.hpp>
#include <weft/time.hpp>
#include <weft/timeout.hpp>
#include <weft/yield.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/race.hpp"
#include "../../support/sleeper.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::test::lifetime_counter;
using weft::test::sleeper;

namespace {

task<int> after(weft::event& go, int v) {
  co_await go.wait();
  co_return v;
}
task<int> fail_after(weft::event& go, const char* what) {
  co_await go.wait();
  throw std::runtime_error(what);
}
task<int> value(int v) { co_return v; }

}  // namespace

TEST_CASE("join_set::next yields the children in the order they finish", "[join_set]") {
  weft::runtime rt({.workers = 2});
  std::vector<int> order = rt.block_on([]() -> task<std::vector<int>> {
    std::array<weft::event, 3> go;
    weft::join_set<int> set;
    for (int i = 0; i < 3; ++i) set.spawn(after(go[i], i));
    std::vector<int> got;
    for (int i : {2, 0, 1}) {  // each finishes only when let go: completion order is 2, 0, 1
      go[i].set();
      auto v = co_await set.next();
      got.push_back(v.value_or(-1));
    }
    co_return got;
  }());
  CHECK(order == std::vector<int>{2, 0, 1});
}

TEST_CASE("children that finished before next() was called wait in the set, in completion order", "[join_set]") {
  weft::runtime rt({.workers = 1});  // one worker: a child let go runs to its end before we go on
  std::vector<int> order = rt.block_on([]() -> task<std::vector<int>> {
    std::array<weft::event, 3> go;
    weft::join_set<int> set;
    for (int i = 0; i < 3; ++i) set.spawn(after(go[i], i));
    for (int i : {1, 2, 0}) {
      go[i].set();
      co_await weft::yield();
    }
    CHECK(set.size() == 3);  // finished, not yet returned
    std::vector<int> got;
    while (auto v = co_await set.next()) got.push_back(*v);
    co_return got;
  }());
  CHECK(order == std::vector<int>{1, 2, 0});
}

TEST_CASE("join_set::next yields nullopt at once when no child is left", "[join_set]") {
  weft::runtime rt({.workers = 1});
  rt.block_on([]() -> task<void> {
    weft::join_set<int> set;
    auto none = co_await set.next();
    CHECK_FALSE(none.has_value());
    set.spawn(value(7));
    CHECK(set.size() == 1);
    auto seven = co_await set.next();
    auto after_all = co_await set.next();
    CHECK(seven == std::optional<int>(7));
    CHECK_FALSE(after_all.has_value());
    CHECK(set.size() == 0);
    CHECK(set.empty());
  }());
}

TEST_CASE("join_set<void>::next yields true per child, then false", "[join_set]") {
  weft::runtime rt({.workers = 2});
  int count = rt.block_on([]() -> task<int> {
    weft::join_set<> set;
    for (int i = 0; i < 5; ++i) set.spawn([]() -> task<void> { co_await weft::yield(); }());
    int n = 0;
    while (co_await set.next()) ++n;
    co_return n;
  }());
  CHECK(count == 5);
}

TEST_CASE("join_set::next rethrows a child's exception, and the other children stay in the set", "[join_set]") {
  weft::runtime rt({.workers = 2});
  rt.block_on([]() -> task<void> {
    weft::event go_fail, go_ok;
    weft::join_set<int> set;
    set.spawn(fail_after(go_fail, "child failed"));
    set.spawn(after(go_ok, 5));
    go_fail.set();
    std::string what;
    try {
      (void)co_await set.next();
    } catch (const std::runtime_error& e) {
      what = e.what();
    }
    CHECK(what == "child failed");
    CHECK(set.size() == 1);
    go_ok.set();
    auto five = co_await set.next();
    CHECK(five == std::optional<int>(5));
  }());
}

TEST_CASE("join_set::size counts the children not yet returned by next, running or finished", "[join_set]") {
  weft::runtime rt({.workers = 2});
  rt.block_on([]() -> task<void> {
    weft::event go;
    weft::join_set<int> set;
    set.spawn(after(go, 1));
    set.spawn(after(go, 2));
    set.spawn(value(3));
    CHECK(set.size() == 3);
    auto first = co_await set.next();  // value(3): the only one that can finish
    CHECK(first == std::optional<int>(3));
    CHECK(set.size() == 2);
    go.set();
    (void)co_await set.next();
    CHECK(set.size() == 1);
    (void)co_await set.next();
    CHECK(set.size() == 0);
  }());
}

TEST_CASE("join_set::cancel_all cancels the running children; next rethrows their cancellation; later children run",
          "[join_set][cancel]") {
  weft::runtime rt({.workers = 2});
  lifetime_counter c;
  std::atomic<int> cancelled{0};
  rt.block_on([&]() -> task<void> {
    weft::join_set<int> set;
    set.spawn(sleeper(cancelled, c));
    set.spawn(sleeper(cancelled, c));
    set.cancel_all();
    int cancellations = 0;
    for (int i = 0; i < 2; ++i) {
      try {
        (void)co_await set.next();
      } catch (const weft::cancelled_error&) {
        ++cancellations;
      }
    }
    CHECK(cancellations == 2);
    set.spawn(value(9));  // a fresh token: not cancelled
    auto nine = co_await set.next();
    CHECK(nine == std::optional<int>(9));
  }());
  CHECK(cancelled.load() == 2);
  CHECK(c.alive() == 0);
}

TEST_CASE("destroying a join_set cancels its children, which end on their own", "[join_set][cancel][lifecycle]") {
  weft::test::watchdog wd("destroying a join_set");
  weft::runtime rt({.workers = 2});
  lifetime_counter c;
  std::atomic<int> cancelled{0};
  rt.block_on([&]() -> task<void> {
    weft::join_set<int> set;
    for (int i = 0; i < 4; ++i) set.spawn(sleeper(cancelled, c));
    co_return;  // the set goes with the frame
  }());
  // The children ended (no sleep of an hour). Each may start only after the set is gone: wait
  // for all four to have begun, not just for none to be alive.
  while (c.constructed.load() != 4 || c.alive() != 0) std::this_thread::yield();
  CHECK(cancelled.load() == 4);
  CHECK(c.constructed.load() == 4);
}

TEST_CASE("a task waiting in next() of a join_set that is destroyed wakes with usage_error", "[join_set][lifecycle]") {
  weft::event never;
  weft::runtime rt({.workers = 2});
  std::optional<weft::join_set<int>> set(std::in_place);
  rt.block_on([&]() -> task<void> {
    set->spawn(after(never, 1));
    co_return;
  }());
  auto waiter = rt.spawn([](weft::join_set<int>& s) -> task<bool> {
    try {
      (void)co_await s.next();
    } catch (const weft::usage_error&) {
      co_return true;
    }
    co_return false;
  }(*set));
  weft::test::wait_suspended(rt, 2);  // the child on its event, the waiter in next()
  set.reset();                        // cancels the child; wakes the waiter
  CHECK(rt.block_on(std::move(waiter)));
}

TEST_CASE("next() is a cancellation point: a cancelled waiter gets cancelled_error and the results stay in the set",
          "[join_set][cancel]") {
  weft::runtime rt({.workers = 2});
  weft::event go;
  weft::join_set<int> set;
  rt.block_on([&]() -> task<void> {
    set.spawn(after(go, 4));
    co_return;
  }());
  auto waiter = rt.spawn([](weft::join_set<int>& s) -> task<void> { (void)co_await s.next(); }(set));
  weft::test::wait_suspended(rt, 2);
  waiter.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(waiter)), weft::cancelled_error);
  CHECK(set.size() == 1);
  go.set();
  auto four = rt.block_on([](weft::join_set<int>& s) -> task<std::optional<int>> { co_return co_await s.next(); }(set));
  CHECK(four == std::optional<int>(4));
}

TEST_CASE("several tasks waiting in next() each get a different child", "[join_set]") {
  weft::runtime rt({.workers = 2});
  int sum = rt.block_on([]() -> task<int> {
    weft::event go;
    weft::join_set<int> set;
    for (int i = 1; i <= 4; ++i) set.spawn(after(go, i));
    auto taker = [](weft::join_set<int>& s) -> task<int> {
      auto v = co_await s.next();
      co_return v.value_or(100);
    };
    std::vector<weft::join_handle<int>> takers;
    for (int i = 0; i < 4; ++i) takers.push_back(weft::spawn(taker(set)));
    co_await weft::sleep_for(1ms);
    go.set();
    int total = 0;
    for (auto& t : takers) total += co_await t;
    auto none = co_await set.next();
    CHECK_FALSE(none.has_value());
    co_return total;
  }());
  CHECK(sum == 1 + 2 + 3 + 4);
}

TEST_CASE("a join_set's children are cancelled with the token of the task that made it", "[join_set][cancel]") {
  weft::runtime rt({.workers = 2});
  lifetime_counter c;
  std::atomic<int> cancelled{0};
  bool timed_out = rt.block_on([&]() -> task<bool> {
    try {
      co_await weft::with_timeout(2ms, [](std::atomic<int>& n, lifetime_counter& c) -> task<void> {
        weft::join_set<int> set;
        set.spawn(sleeper(n, c));
        (void)co_await set.next();
      }(cancelled, c));
    } catch (const weft::timeout_error&) {
      co_return true;
    }
    co_return false;
  }());
  CHECK(timed_out);
  while (c.constructed.load() != 1 || c.alive() != 0) std::this_thread::yield();  // (it may start late)
  CHECK(cancelled.load() == 1);
}

TEST_CASE("a moved-from join_set is empty, and spawning on it starts a new set", "[join_set]") {
  weft::runtime rt({.workers = 1});
  rt.block_on([]() -> task<void> {
    weft::join_set<int> a;
    a.spawn(value(1));
    weft::join_set<int> b(std::move(a));
    CHECK(a.size() == 0);
    CHECK(b.size() == 1);
    auto none = co_await a.next();
    CHECK_FALSE(none.has_value());
    a.spawn(value(2));
    auto two = co_await a.next();
    auto one = co_await b.next();
    CHECK(two == std::optional<int>(2));
    CHECK(one == std::optional<int>(1));
  }());
}

TEST_CASE("10,000 children on two workers: each result comes out of next() once", "[join_set][stress]") {
  weft::runtime rt({.workers = 2});
  long sum = rt.block_on([]() -> task<long> {
    weft::join_set<int> set;
    long total = 0;
    for (int i = 0; i < 10'000; ++i) {
      set.spawn([](int v) -> task<int> {
        if (v % 3 == 0) co_await weft::yield();
        co_return v;
      }(i));
      if (i % 7 == 0)
        if (auto v = co_await set.next()) total += *v;
    }
    while (auto v = co_await set.next()) total += *v;
    co_return total;
  }());
  CHECK(sum == 10'000L * 9'999 / 2);
}

TEST_CASE("a child finishing as the task in next() is cancelled: its outcome is returned or stays in the set",
          "[join_set][cancel]") {
  weft::test::watchdog wd("join_set next racing a cancellation");
  int returned = 0, cancelled = 0, bad = 0;
  for (int round = 0; round < 300; ++round) {
    weft::runtime rt({.workers = 2});
    weft::event go;
    weft::join_set<int> set;
    std::atomic<int> outcome{0};  // the value next() returned, or -1: cancelled
    auto child = [&]() -> task<int> {
      co_await go.wait();
      co_return 5;
    };
    auto waiting = [&]() -> task<void> {
      try {
        outcome.store((co_await set.next()).value_or(-2));
      } catch (const weft::cancelled_error&) {
        outcome.store(-1);
      }
    };
    rt.block_on([&]() -> task<void> {
      set.spawn(child());
      co_return;
    }());
    auto h = rt.spawn(waiting());
    weft::test::wait_suspended(rt, 2);
    weft::test::race([&] { go.set(); }, [&] { h.cancel(); });
    const std::optional<int> left = rt.block_on([&]() -> task<std::optional<int>> {
      co_await h;
      co_return co_await set.next();  // the child's outcome, if next() did not return it
    }());
    returned += outcome.load() == 5;
    cancelled += outcome.load() == -1;
    bad += outcome.load() == 5 ? left.has_value() : outcome.load() != -1 || left != 5;
    bad += set.size() != 0;
  }
  CHECK(bad == 0);
  CHECK(returned + cancelled == 300);
}
