#include <weft/yield.hpp>

#include <atomic>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/runtime.hpp>
#include <weft/spawn.hpp>

using weft::task;

TEST_CASE("two tasks that yield on one worker take turns", "[yield]") {
  weft::runtime rt({.workers = 1});
  std::vector<char> trace;
  rt.block_on([&]() -> task<void> {
    auto player = [](char who, std::vector<char>& t) -> task<void> {
      for (int i = 0; i < 5; ++i) {
        t.push_back(who);
        co_await weft::yield();
      }
    };
    auto a = weft::spawn(player('a', trace));
    auto b = weft::spawn(player('b', trace));
    co_await a;
    co_await b;
  }());
  REQUIRE(trace.size() == 10);
  int switches = 0;
  for (std::size_t i = 1; i < trace.size(); ++i) switches += trace[i] != trace[i - 1];
  CHECK(switches >= 8);  // strictly alternating, but for who goes first
}

TEST_CASE("a task that keeps yielding cannot starve another on the same worker", "[yield][fairness]") {
  weft::runtime rt({.workers = 1});
  std::atomic<bool> flag{false};
  long spins = rt.block_on([&]() -> task<long> {
    auto spinner = weft::spawn([](std::atomic<bool>& f) -> task<long> {
      long n = 0;
      while (!f.load()) {
        ++n;
        co_await weft::yield();
      }
      co_return n;
    }(flag));
    auto setter = weft::spawn([](std::atomic<bool>& f) -> task<void> {
      f.store(true);
      co_return;
    }(flag));
    co_await setter;
    co_return co_await spinner;
  }());
  CHECK(flag.load());
  CHECK(spins >= 0);
}

TEST_CASE("a task that keeps re-waking itself is sent to the back of the line by its budget", "[yield][fairness]") {
  // Awaiting already-finished handles never suspends; the budget must still hand the worker over.
  weft::runtime rt({.workers = 1, .budget = 16});
  std::atomic<bool> other_ran{false};
  rt.block_on([&]() -> task<void> {
    std::vector<weft::join_handle<int>> done;
    for (int i = 0; i < 64; ++i) {
      done.push_back(weft::spawn([]() -> task<int> { co_return 1; }()));
    }
    for (auto& h : done) co_await h;  // runs them (inline or not); each is a budget unit when ready
    auto other = weft::spawn([](std::atomic<bool>& f) -> task<void> {
      f.store(true);
      co_return;
    }(other_ran));
    // Spin on the flag without suspending except through budget-forced yields.
    long guard = 0;
    while (!other_ran.load() && guard < 10'000'000) {
      ++guard;
      co_await weft::yield();
    }
    co_await other;
  }());
  CHECK(other_ran.load());
}

TEST_CASE("yield off the runtime throws usage_error", "[yield][misuse]") {
  auto t = []() -> task<void> { co_await weft::yield(); }();
  weft::runtime rt({.workers = 1});
  // Inside the runtime it works:
  rt.block_on(std::move(t));
  CHECK_THROWS_AS(weft::detail::current_task("x"), weft::usage_error);
}
