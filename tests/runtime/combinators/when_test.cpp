#include <weft/when_all.hpp>
#include <weft/when_any.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/runtime.hpp>
#include <weft/task_group.hpp>
#include <weft/time.hpp>

using namespace std::chrono_literals;
using weft::task;

namespace {

task<int> value(int v) { co_return v; }
task<std::string> text(std::string s) { co_return s; }
task<void> nothing() { co_return; }
task<int> fail(const char* what) {
  throw std::runtime_error(what);
  co_return 0;
}
// Sleeps "forever"; records whether it ended by cancellation.
task<int> sleeper(std::atomic<int>& cancelled) {
  try {
    co_await weft::sleep_for(1h);
  } catch (const weft::cancelled_error&) {
    cancelled.fetch_add(1);
    throw;
  }
  co_return -1;
}

}  // namespace

TEST_CASE("when_all yields every value in a tuple", "[when_all]") {
  weft::runtime rt({.workers = 2});
  auto [a, b, c] = rt.block_on(weft::when_all(value(1), text("two"), nothing()));
  CHECK(a == 1);
  CHECK(b == "two");
  CHECK(c == std::monostate{});
}

TEST_CASE("when_all of a vector yields the values in order", "[when_all]") {
  weft::runtime rt({.workers = 2});
  std::vector<task<int>> ts;
  for (int i = 0; i < 100; ++i) ts.push_back(value(i));
  auto v = rt.block_on(weft::when_all(std::move(ts)));
  REQUIRE(v.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(v[i] == i);
}

TEST_CASE("when one child of when_all throws, the others are cancelled and the error rethrown", "[when_all][cancel]") {
  weft::runtime rt({.workers = 2});
  std::atomic<int> cancelled{0};
  CHECK_THROWS_WITH(rt.block_on(weft::when_all(sleeper(cancelled), fail("first"), sleeper(cancelled))), "first");
  CHECK(cancelled.load() == 2);  // both sleepers were woken by cancellation and finished
}

TEST_CASE("when_any yields the first to finish and cancels the rest", "[when_any][cancel]") {
  weft::runtime rt({.workers = 2});
  std::atomic<int> cancelled{0};
  auto [index, v] = rt.block_on(weft::when_any(sleeper(cancelled), value(7), sleeper(cancelled)));
  CHECK(index == 1);
  CHECK(v == 7);
  CHECK(cancelled.load() == 2);
}

TEST_CASE("when_any over different types yields a variant", "[when_any]") {
  weft::runtime rt({.workers = 2});
  std::atomic<int> cancelled{0};
  auto r = rt.block_on(weft::when_any(sleeper(cancelled), text("fast")));
  CHECK(r.index == 1);
  REQUIRE(r.value.index() == 1);
  CHECK(std::get<1>(r.value) == "fast");
}

TEST_CASE("when_any rethrows when the first to finish threw", "[when_any]") {
  weft::runtime rt({.workers = 2});
  std::atomic<int> cancelled{0};
  std::vector<task<int>> ts;
  ts.push_back(sleeper(cancelled));
  ts.push_back(fail("fast failure"));
  CHECK_THROWS_WITH(rt.block_on(weft::when_any(std::move(ts))), "fast failure");
  CHECK(cancelled.load() == 1);
}

TEST_CASE("a task_group joins all children and rethrows the first failure after cancelling the rest",
          "[task_group][cancel]") {
  weft::runtime rt({.workers = 2});
  std::atomic<int> cancelled{0}, ran{0};
  bool threw = rt.block_on([&]() -> task<bool> {
    weft::task_group g;
    for (int i = 0; i < 5; ++i)
      g.spawn([](std::atomic<int>& r) -> task<void> {
        r.fetch_add(1);
        co_return;
      }(ran));
    g.spawn(sleeper(cancelled));
    g.spawn(fail("group failure"));
    try {
      co_await g.join();
    } catch (const std::runtime_error& e) {
      co_return std::string(e.what()) == "group failure";
    }
    co_return false;
  }());
  CHECK(threw);
  CHECK(ran.load() == 5);
  CHECK(cancelled.load() == 1);
}

TEST_CASE("a task_group can be joined and reused", "[task_group]") {
  weft::runtime rt({.workers = 2});
  std::atomic<int> ran{0};
  rt.block_on([&]() -> task<void> {
    weft::task_group g;
    auto bump = [](std::atomic<int>& r) -> task<void> {
      r.fetch_add(1);
      co_return;
    };
    g.spawn(bump(ran));
    co_await g.join();
    CHECK(ran.load() == 1);
    g.spawn(bump(ran));
    g.spawn(bump(ran));
    co_await g.join();
    CHECK(ran.load() == 3);
    CHECK(g.size() == 0);
  }());
}

TEST_CASE("cancelling the task that awaits a group cancels the children and waits for them", "[task_group][cancel]") {
  weft::runtime rt({.workers = 2});
  std::atomic<int> cancelled{0};
  bool parent_cancelled = rt.block_on([&]() -> task<bool> {
    auto parent = weft::spawn([](std::atomic<int>& c) -> task<void> {
      weft::task_group g;
      g.spawn(sleeper(c));
      g.spawn(sleeper(c));
      co_await g.join();
    }(cancelled));
    co_await weft::sleep_for(2ms);
    parent.cancel();
    try {
      co_await parent;
    } catch (const weft::cancelled_error&) {
      co_return true;
    }
    co_return false;
  }());
  CHECK(parent_cancelled);
  CHECK(cancelled.load() == 2);
}
