#include <weft/fork.hpp>

#include <array>
#include <atomic>
#include <source_location>
#include <stdexcept>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include <weft/cancel.hpp>
#include <weft/metrics/registry.hpp>
#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/event.hpp>
#include <weft/yield.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"

using weft::task;

namespace {

task<long> fib(int n) {
  if (n < 2) co_return n;
  auto [a, b] = co_await weft::fork(fib(n - 1), fib(n - 2));
  co_return a + b;
}

task<long> fail_after(std::atomic<int>& ran, const char* what) {
  ran.fetch_add(1);
  throw std::runtime_error(what);
  co_return 0;
}

task<long> fail_after_yield(std::atomic<int>& ran, const char* what) {
  ran.fetch_add(1);
  co_await weft::yield();
  throw std::runtime_error(what);
}

task<long> count(std::atomic<int>& ran, long v) {
  ran.fetch_add(1);
  co_return v;
}

task<long> after(weft::event& go) {
  co_await go.wait();
  co_return 0;
}

}  // namespace

TEST_CASE("weft::fork gives every child's value, on one and two workers", "[fork]") {
  for (std::size_t workers : {1, 2}) {
    weft::runtime rt({.workers = workers});
    CHECK(rt.block_on(fib(25)) == 75025);
    auto [i, nothing, s] = rt.block_on([]() -> task<std::tuple<int, std::monostate, std::string>> {
      auto one = []() -> task<int> { co_return 1; };
      auto none = []() -> task<void> { co_return; };
      auto text = []() -> task<std::string> { co_return std::string(40, 'x'); };  // not in the small buffer
      co_return co_await weft::fork(one(), none(), text());
    }());
    CHECK(i == 1);
    CHECK(s == std::string(40, 'x'));
  }
}

TEST_CASE("weft::fork of an array skips empty tasks", "[fork]") {
  weft::runtime rt({.workers = 2});
  std::atomic<int> ran{0};
  auto v = rt.block_on([&]() -> task<std::array<long, 5>> {
    std::array<task<long>, 5> parts;
    parts[0] = count(ran, 10);
    parts[2] = count(ran, 30);
    parts[3] = count(ran, 40);
    co_return co_await weft::fork(std::move(parts));
  }());
  CHECK(v == std::array<long, 5>{10, 0, 30, 40, 0});
  CHECK(ran.load() == 3);
  auto none = rt.block_on([]() -> task<std::array<long, 2>> {
    std::array<task<long>, 2> parts;
    co_return co_await weft::fork(std::move(parts));
  }());
  CHECK(none == std::array<long, 2>{0, 0});
  // The first place empty: the first child is the one at place 1. Place 3's child yields before
  // it fails, so place 4's (a slot left on the deque, run by the loop or stolen) fails first in
  // time; place 3's failure is the one rethrown, the first in place order.
  ran = 0;
  auto last = rt.block_on([&]() -> task<std::array<long, 4>> {
    std::array<task<long>, 4> parts;
    parts[1] = count(ran, 7);
    parts[3] = count(ran, 9);
    co_return co_await weft::fork(std::move(parts));
  }());
  CHECK(last == std::array<long, 4>{0, 7, 0, 9});
  auto failing = [&]() -> task<long> {
    std::array<task<long>, 5> parts;
    parts[1] = count(ran, 1);
    parts[3] = fail_after_yield(ran, "third place");
    parts[4] = fail_after(ran, "fourth place");
    long sum = 0;
    for (long v : co_await weft::fork(std::move(parts))) sum += v;
    co_return sum;
  };
  CHECK_THROWS_WITH(rt.block_on(failing()), "third place");
  CHECK(ran.load() == 5);
}

TEST_CASE("weft::fork of an array run by its worker alone: the first failure in place order, every frame freed",
          "[fork]") {
  // One worker and no suspension: every child runs at once, in place order, and the fork frees
  // each frame as it takes its value or failure.
  weft::runtime rt({.workers = 1});
  weft::test::lifetime_counter c;
  auto value = [](weft::test::tracked, long v) -> task<long> { co_return v; };
  auto failure = [](weft::test::tracked, const char* what) -> task<long> {
    throw std::runtime_error(what);
    co_return 0;
  };
  auto sum_of = [&](bool fail) -> task<long> {
    std::array<task<long>, 6> parts;
    parts[0] = value(weft::test::tracked(c), 1);
    parts[2] = fail ? failure(weft::test::tracked(c), "third place") : value(weft::test::tracked(c), 3);
    parts[3] = value(weft::test::tracked(c), 4);
    parts[5] = fail ? failure(weft::test::tracked(c), "sixth place") : value(weft::test::tracked(c), 6);
    long sum = 0;
    for (long v : co_await weft::fork(std::move(parts))) sum += v;
    co_return sum;
  };
  CHECK(rt.block_on(sum_of(false)) == 14);
  CHECK(c.alive() == 0);
  CHECK_THROWS_WITH(rt.block_on(sum_of(true)), "third place");
  CHECK(c.alive() == 0);
}

TEST_CASE("a failing child of weft::fork lets the others finish; the first failure is rethrown", "[fork]") {
  for (std::size_t workers : {1, 2}) {
    weft::runtime rt({.workers = workers});
    std::atomic<int> ran{0};
    weft::test::lifetime_counter c;
    auto body = [&]() -> task<long> {
      weft::test::tracked t(c);
      auto [a, b, d] = co_await weft::fork(count(ran, 1), fail_after(ran, "second"), fail_after(ran, "third"));
      co_return a + b + d;
    };
    CHECK_THROWS_WITH(rt.block_on(body()), "second");
    CHECK(ran.load() == 3);
    CHECK(c.alive() == 0);
    // The first child (run at once, without a slot) failing, and the second after it.
    ran = 0;
    auto first_fails = [&]() -> task<long> {
      weft::test::tracked t(c);
      auto [a, b] = co_await weft::fork(fail_after(ran, "first"), count(ran, 2));
      co_return a + b;
    };
    CHECK_THROWS_WITH(rt.block_on(first_fails()), "first");
    CHECK(ran.load() == 2);
    CHECK(c.alive() == 0);
  }
}

TEST_CASE("a child of weft::fork that its parent could not run itself gets a record, named by the fork's site",
          "[fork]") {
  // The first child waits for `go`: its parent waits with it, so the worker runs the second
  // child's slot from its deque, as a task of its own. That one reports where the fork was, and
  // shows in dumps while it waits too.
  weft::runtime rt({.workers = 1});
  weft::event go, second_may_end;
  std::atomic<bool> second_waiting{false};
  std::source_location fork_site;
  auto first = [&]() -> task<long> {
    co_await go.wait();
    co_return 1;
  };
  auto second = [&]() -> task<long> {
    second_waiting.store(true);
    co_await second_may_end.wait();
    go.set();
    co_return 2;
  };
  auto parent = [&]() -> task<long> {  // (named: a spawned coroutine outlives a temporary lambda)
    fork_site = std::source_location::current();
    auto [a, b] = co_await weft::fork(first(), second());
    co_return a + b;
  };
  auto h = rt.spawn(parent());
  while (!second_waiting.load()) std::this_thread::yield();
  weft::test::wait_suspended(rt, 2);
  bool named = false;
  for (const auto& t : rt.dump_tasks())
    if (t.id != h.id()) {
      CHECK(t.state == weft::task_state::suspended);
      CHECK(std::string(t.spawn_site.file_name()) == fork_site.file_name());
      CHECK(t.spawn_site.line() == fork_site.line() + 1);
      named = true;
    }
  CHECK(named);
  second_may_end.set();
  CHECK(rt.block_on(std::move(h)) == 3);
  CHECK(rt.dump_tasks().empty());
}

TEST_CASE("cancelling the task that waits in weft::fork cancels its children", "[fork]") {
  // Two children wait on an event nobody sets: the first as part of the parent, the second as a
  // task of its own. Cancelling the parent reaches both; the fork rethrows the first one's
  // cancelled_error once both are done.
  weft::event never;
  weft::runtime rt({.workers = 2});
  weft::test::lifetime_counter c;
  auto waiter = [&](weft::test::tracked) -> task<void> { co_await never.wait(); };
  auto parent = [&]() -> task<void> {
    co_await weft::fork(waiter(weft::test::tracked(c)), waiter(weft::test::tracked(c)));
  };
  auto h = rt.spawn(parent());
  weft::test::wait_suspended(rt, 2);
  h.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(h)), weft::cancelled_error);
  CHECK(c.alive() == 0);
}

TEST_CASE("a cancelled task does not start a weft::fork", "[fork]") {
  // The fork is the task's first await: its cancellation point.
  weft::runtime rt({.workers = 1});
  std::atomic<int> ran{0};
  weft::cancel_source src;
  src.cancel();
  auto parent = [&]() -> task<void> { co_await weft::fork(count(ran, 1), count(ran, 2)); };
  auto h = rt.spawn(parent(), {.token = src.token()});
  CHECK_THROWS_AS(rt.block_on(std::move(h)), weft::cancelled_error);
  CHECK(ran.load() == 0);
  // A fork with nothing to run (a search's dead end) does not suspend, but it is still the
  // cancellation point.
  auto dead_end = []() -> task<void> { co_await weft::fork(std::array<task<long>, 3>{}); };
  auto e = rt.spawn(dead_end(), {.token = src.token()});
  CHECK_THROWS_AS(rt.block_on(std::move(e)), weft::cancelled_error);
}

TEST_CASE("weft::fork of an empty or finished task throws usage_error and leaks no frame", "[fork][misuse]") {
  weft::runtime rt({.workers = 1});
  weft::test::lifetime_counter c;
  auto keep = [](weft::test::tracked) -> task<long> { co_return 1; };
  rt.block_on([&]() -> task<void> {
    task<long> empty;
    CHECK_THROWS_AS(weft::fork(keep(weft::test::tracked(c)), std::move(empty)), weft::usage_error);
    task<long> done = keep(weft::test::tracked(c));
    long v = co_await done;  // awaited: finished, still held
    CHECK(v == 1);
    std::array<task<long>, 3> parts{keep(weft::test::tracked(c)), task<long>{}, std::move(done)};
    CHECK_THROWS_AS(weft::fork(std::move(parts)), weft::usage_error);
    // All or nothing: every task is back in its place, and the one not finished still runs.
    CHECK(parts[0].valid());
    CHECK(!parts[1].valid());
    CHECK(parts[2].valid());
    const long first = co_await std::move(parts[0]);  // not inside CHECK: g++ 12 (runtime/README.md)
    CHECK(first == 1);
  }());
  CHECK(c.alive() == 0);
}

TEST_CASE("weft::fork off the workers throws usage_error", "[fork][misuse]") {
  // Awaited by a coroutine that is not a weft task on a worker: resumed here by hand.
  auto t = weft::fork(fib(3), fib(2));
  CHECK_THROWS_AS(t.await_suspend(std::noop_coroutine()), weft::usage_error);
  // A fork with nothing to run is ready at once: its check is there.
  auto none = weft::fork(std::array<task<long>, 2>{});
  CHECK_THROWS_AS(none.await_ready(), weft::usage_error);
}

TEST_CASE("weft::fork on a 4-slot deque: children that do not fit overflow to the global queue and run once",
          "[fork]") {
  // Nine children's slots do not fit in four: the batch is refused whole and pushed one by one,
  // and the slots the deque cannot hold go to the global queue, where a worker (this one or the
  // other) runs them as tasks of their own.
  for (std::size_t workers : {1, 2}) {
    weft::runtime rt({.workers = workers, .deque_capacity = 4});
    weft::test::lifetime_counter c;
    std::atomic<int> ran{0};
    auto body = [&]() -> task<long> {
      weft::test::tracked t(c);
      std::array<task<long>, 10> parts;
      for (long i = 0; i < 10; ++i) parts[static_cast<std::size_t>(i)] = count(ran, i);
      long sum = 0;
      for (long v : co_await weft::fork(std::move(parts))) sum += v;
      auto [a, b] = co_await weft::fork(fib(12), fib(11));  // deeper forks on the small deque too
      co_return sum + a + b;
    };
    CHECK(rt.block_on(body()) == 45 + 144 + 89);
    CHECK(ran.load() == 10);
    CHECK(c.alive() == 0);
    if (workers == 1)  // the overflow happened (on two workers, on either)
      CHECK(rt.metrics().snapshot().counter_value("weft_overflows_total", {{"runtime", "weft"}, {"worker", "0"}}) >= 1);
  }
}

TEST_CASE("stolen children of weft::fork, many and deep, each run once", "[fork][stress]") {
  // Two workers and a wide, deep tree: slots are stolen, run by the loop, and popped back, all
  // in one run; every leaf counts once and every frame goes.
  weft::runtime rt({.workers = 2});
  weft::test::lifetime_counter c;
  std::atomic<long> leaves{0};
  struct tree {
    static task<long> node(int depth, std::atomic<long>& leaves, weft::test::tracked t) {
      if (depth == 0) {
        leaves.fetch_add(1);
        co_return 1;
      }
      std::array<task<long>, 6> parts;
      for (auto& p : parts) p = node(depth - 1, leaves, t);
      long sum = 0;
      for (long v : co_await weft::fork(std::move(parts))) sum += v;
      if (depth % 2) co_await weft::yield();  // a suspension after the fork, on any worker
      co_return sum;
    }
  };
  for (int round = 0; round < 5; ++round) CHECK(rt.block_on(tree::node(5, leaves, weft::test::tracked(c))) == 7776);
  CHECK(leaves.load() == 5 * 7776);
  CHECK(c.alive() == 0);
}

TEST_CASE("a fork started while its worker has other work queued still offers every child to idle workers", "[fork]") {
  // The first child keeps its worker busy without suspending until the second has started: only
  // a thief can start it. The deque holds another job when the fork starts, which a thief takes
  // first (from the top); the second child must be there for it next. A fork that kept its
  // children to itself while the deque had work (lazy slots, runtime/README.md) hangs here.
  weft::test::watchdog dog("a fork's second child offered to a thief");
  weft::runtime rt({.workers = 2});
  rt.block_on([]() -> task<void> {
    auto filler = weft::spawn([]() -> task<void> { co_return; }());
    std::atomic<bool> second_started{false};
    auto first = [](std::atomic<bool>& started) -> task<long> {
      while (!started.load(std::memory_order_acquire)) std::this_thread::yield();
      co_return 1;
    };
    auto second = [](std::atomic<bool>& started) -> task<long> {
      started.store(true, std::memory_order_release);
      co_return 2;
    };
    co_await weft::fork(first(second_started), second(second_started));
    co_await filler;
  }());
  SUCCEED("the second child ran on the other worker while the first waited for it");
}

TEST_CASE("a child of weft::fork woken by another runtime's worker may end the fork and its runtime at once",
          "[fork][lifecycle]") {
  // The first child waits for `mine`, so the worker runs the second child's slot as a task of its
  // own: that one lets both waits go and waits for a task of the other runtime, whose worker
  // completes it and wakes it. The second child then ends the fork, last usually, and resumes
  // its parent; the parent ends, block_on returns and the runtime is destroyed here. A thread off
  // the runtime's workers that resumes the parent must hold the runtime's core until it is out
  // of the scheduler.
  weft::runtime other({.workers = 1});
  for (int round = 0; round < 300; ++round) {
    weft::event mine, theirs;
    weft::join_handle<long> far = other.spawn(after(theirs));
    weft::runtime rt({.workers = 1});
    auto second = [](weft::event& mine, weft::event& theirs, weft::join_handle<long>& far) -> task<long> {
      mine.set();
      theirs.set();
      co_return co_await far;
    };
    rt.block_on([](auto second, weft::event& mine, weft::event& theirs, weft::join_handle<long>& far) -> task<void> {
      co_await weft::fork(after(mine), second(mine, theirs, far));
    }(second, mine, theirs, far));
  }
  SUCCEED("no data race or use after free (the sanitizer builds)");
}
