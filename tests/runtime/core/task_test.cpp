#include <weft/task.hpp>

#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>

#include <weft/runtime.hpp>

#include "../../support/lifetime.hpp"

using weft::task;

namespace {

task<int> answer() { co_return 42; }
task<std::string> greet(std::string who) { co_return "hello " + who; }
task<int> boom() {
  throw std::runtime_error("boom");
  co_return 0;
}
task<int> add(int a, int b) { co_return co_await answer() - 42 + a + b; }
task<long> depth(int n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await depth(n - 1);
}

}  // namespace

TEST_CASE("a task does not start until it is awaited", "[task]") {
  weft::runtime rt({.workers = 1});
  bool started = false;
  auto make = [&]() -> task<void> {
    started = true;
    co_return;
  };
  rt.block_on([&]() -> task<void> {
    auto t = make();
    CHECK_FALSE(started);
    co_await t;
    CHECK(started);
  }());
}

TEST_CASE("awaiting a task yields its value", "[task]") {
  weft::runtime rt({.workers = 1});
  CHECK(rt.block_on(answer()) == 42);
  CHECK(rt.block_on(add(1, 2)) == 3);
  CHECK(rt.block_on(greet("weft")) == "hello weft");
}

TEST_CASE("an exception thrown in a task reaches its awaiter", "[task]") {
  weft::runtime rt({.workers = 1});
  CHECK_THROWS_WITH(rt.block_on(boom()), "boom");
  CHECK(rt.block_on([]() -> task<bool> {
    try {
      co_await boom();
    } catch (const std::runtime_error& e) {
      co_return std::string(e.what()) == "boom";
    }
    co_return false;
  }()));
}

TEST_CASE("a chain of a million nested awaits does not grow the stack", "[task]") {
  weft::runtime rt({.workers = 1});
  CHECK(rt.block_on(depth(1'000'000)) == 1'000'000);
}

TEST_CASE("awaiting a moved-from task throws usage_error", "[task][misuse]") {
  weft::runtime rt({.workers = 1});
  CHECK_THROWS_AS(rt.block_on([]() -> task<void> {
    auto t = answer();
    auto u = std::move(t);
    co_await t;  // NOLINT: moved from on purpose
  }()),
                  weft::usage_error);
}

TEST_CASE("awaiting a task twice throws usage_error", "[task][misuse]") {
  weft::runtime rt({.workers = 1});
  CHECK_THROWS_WITH(rt.block_on([]() -> task<void> {
    auto t = answer();
    co_await t;
    co_await t;
  }()),
                    Catch::Contains("already awaited"));
}

TEST_CASE("a task's frame and the locals in it are destroyed", "[task][lifetime]") {
  weft::test::lifetime_counter c;
  {
    weft::runtime rt({.workers = 1});
    auto holder = [](weft::test::tracked t) -> task<int> {
      weft::test::tracked local = t;
      co_return 1;
    };
    CHECK(rt.block_on(holder(weft::test::tracked(c))) == 1);
    auto never_run = holder(weft::test::tracked(c));  // destroyed unstarted
  }
  CHECK(c.constructed.load() > 0);
  CHECK(c.alive() == 0);
}
