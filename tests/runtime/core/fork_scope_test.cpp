#include <weft/fork_scope.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <source_location>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/cancel.hpp>
#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/event.hpp>
#include <weft/testing.hpp>
#include <weft/time.hpp>
#include <weft/yield.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/stall_capture.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"

using weft::task;

namespace {

task<long> fib(int n) {
  if (n < 2) co_return n;
  long a = 0;
  weft::fork_scope scope;
  co_await scope.fork(a, fib(n - 1));
  const long b = co_await fib(n - 2);
  co_await scope.join();
  co_return a + b;
}

/// A tree of `width` children per node, `depth` deep: every leaf counts once; a child may yield
/// (so it completes on any worker, after its parent's continuation may have gone elsewhere).
task<long> tree(int depth, int width, bool yields, std::atomic<long>& leaves, weft::test::tracked t) {
  if (depth == 0) {
    leaves.fetch_add(1, std::memory_order_relaxed);
    if (yields) co_await weft::yield();
    co_return 1;
  }
  std::array<long, 8> parts{};
  weft::fork_scope scope;
  for (int i = 0; i < width; ++i)
    co_await scope.fork(parts[static_cast<std::size_t>(i)], tree(depth - 1, width, yields, leaves, t));
  co_await scope.join();
  if (yields && depth % 2) co_await weft::yield();  // after the join, on whatever worker
  long sum = 0;
  for (long v : parts) sum += v;
  co_return sum;
}

task<long> after(weft::event& e, long v) {
  co_await e.wait();
  co_return v;
}

task<long> fails(const char* what) {
  throw std::runtime_error(what);
  co_return 0;
}

task<long> fails_after(weft::event& e, const char* what) {
  co_await e.wait();
  throw std::runtime_error(what);
}

task<void> count(std::atomic<int>& ran) {
  ran.fetch_add(1);
  co_return;
}

}  // namespace

TEST_CASE("fork_scope gives every child's value, on one and two workers", "[fork_scope]") {
  for (std::size_t workers : {1, 2}) {
    weft::runtime rt({.workers = workers});
    CHECK(rt.block_on(fib(22)) == 17711);
    weft::test::lifetime_counter c;
    std::atomic<long> leaves{0};
    CHECK(rt.block_on(tree(4, 5, false, leaves, weft::test::tracked(c))) == 625);
    CHECK(leaves.load() == 625);
    CHECK(c.alive() == 0);
    // task<void> children take no place for a value; a scope joins more than once.
    std::atomic<int> ran{0};
    rt.block_on([](std::atomic<int>& ran) -> task<void> {
      weft::fork_scope scope;
      for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 4; ++i) co_await scope.fork(count(ran));
        co_await scope.join();
      }
    }(ran));
    CHECK(ran.load() == 12);
  }
}

TEST_CASE("fork_scope: stolen continuations and children completing on other workers each run once",
          "[fork_scope][stress]") {
  // Two workers and a wide tree whose leaves yield: continuations are stolen, children complete
  // on the worker that did not fork them (where the same scope's job may sit for a later
  // fork), and parents resume after their joins anywhere. On a 4-slot deque too, where the
  // continuation overflows to the global queue.
  for (std::size_t capacity : {1024, 4}) {
    weft::runtime rt({.workers = 2, .deque_capacity = capacity});
    weft::test::lifetime_counter c;
    std::atomic<long> leaves{0};
    for (int round = 0; round < 10; ++round)
      CHECK(rt.block_on(tree(5, 5, round % 2 == 0, leaves, weft::test::tracked(c))) == 3125);
    CHECK(leaves.load() == 10 * 3125);
    CHECK(c.alive() == 0);
    CHECK(rt.dump_tasks().empty());
  }
}

TEST_CASE("a continuation of fork_scope taken by another worker runs under a record named as its task",
          "[fork_scope]") {
  // The first child spins until the parent has gone on, which only another worker can make it
  // do: it takes the continuation from the deque. There the parent forks a child that waits:
  // dumps show that record (the task's name, the scope's site) and the task itself waiting for
  // the join once its first child is done.
  weft::test::watchdog dog("a stolen fork_scope continuation");
  weft::runtime rt({.workers = 2});
  std::atomic<bool> went_on{false};
  weft::event go;
  std::source_location site;
  auto spin = [](std::atomic<bool>& went_on) -> task<long> {
    while (!went_on.load(std::memory_order_acquire)) std::this_thread::yield();
    co_return 1;
  };
  auto parent = [&]() -> task<long> {
    long a = 0, b = 0;
    site = std::source_location::current();
    weft::fork_scope scope;
    co_await scope.fork(a, spin(went_on));
    went_on.store(true, std::memory_order_release);
    co_await scope.fork(b, after(go, 2));
    co_await scope.join();
    co_return a + b;
  };
  auto h = rt.spawn(parent(), {.name = "searcher"});
  weft::test::wait_suspended(rt, 2);
  bool owner_seen = false, continuation_seen = false;
  for (const auto& t : rt.dump_tasks()) {
    CHECK(t.name == "searcher");
    CHECK(t.state == weft::task_state::suspended);
    if (t.id == h.id()) {
      CHECK(t.awaiting == "fork_scope join");
      owner_seen = true;
    } else {
      CHECK(std::string(t.spawn_site.file_name()) == site.file_name());
      CHECK(t.spawn_site.line() == site.line() + 1);
      continuation_seen = true;
    }
  }
  CHECK(owner_seen);
  CHECK(continuation_seen);
  go.set();
  CHECK(rt.block_on(std::move(h)) == 3);
  CHECK(rt.dump_tasks().empty());
}

TEST_CASE("the stall detector names a child that runs long under a stolen continuation's record",
          "[fork_scope][stall]") {
  // As above, but the child forked on the other worker spins: the report names the task and the
  // scope's site, with the continuation record's id. The stall clock is moved by hand.
  weft::test::watchdog dog("a stall under a fork_scope continuation");
  weft::test::fake_clock clock;
  weft::test::report_box box;
  weft::runtime rt({.workers = 2,
                    .stall = {.threshold = std::chrono::milliseconds(100),
                              .sample_interval = std::chrono::milliseconds(1),
                              .replace_after = std::chrono::hours(1),
                              .capture_backtrace = false,
                              .on_stall = [&](const weft::stall_report& r) { box.add(r); },
                              .clock = [&] { return clock.now(); }}});
  // The first child waits, so its worker takes the parent's continuation from its deque; there
  // the parent forks a child that spins until told to stop.
  std::atomic<bool> went_on{false}, stop{false};
  weft::event first_may_end;
  std::source_location site;
  auto spin = [](const std::atomic<bool>& until) -> task<long> {
    while (!until.load(std::memory_order_acquire)) std::this_thread::yield();
    co_return 2;
  };
  auto parent = [&]() -> task<long> {
    long a = 0, b = 0;
    site = std::source_location::current();
    weft::fork_scope scope;
    co_await scope.fork(a, after(first_may_end, 1));
    went_on.store(true, std::memory_order_release);
    co_await scope.fork(b, spin(stop));
    co_await scope.join();
    co_return a + b;
  };
  auto h = rt.spawn(parent(), {.name = "searcher"});
  const std::uint64_t owner = h.id();
  while (!went_on.load()) std::this_thread::yield();
  while (box.size() == 0) {
    clock.advance(std::chrono::milliseconds(1));
    std::this_thread::yield();
  }
  stop.store(true, std::memory_order_release);
  first_may_end.set();
  CHECK(rt.block_on(std::move(h)) == 3);
  const weft::stall_report r = box.copy().front();
  CHECK(r.task_name == "searcher");
  CHECK(r.task_id != 0);
  CHECK(r.task_id != owner);  // the continuation record's
  CHECK(std::string(r.spawn_site.file_name()) == site.file_name());
  CHECK(r.spawn_site.line() == site.line() + 1);
}

TEST_CASE("fork_scope: a failing child lets the others finish; the join rethrows the first failure", "[fork_scope]") {
  for (std::size_t workers : {1, 2}) {
    weft::runtime rt({.workers = workers});
    weft::test::lifetime_counter c;
    // A child that fails at once, then one that fails after a wait (the parent's continuation is
    // taken meanwhile, and the failure comes from another strand). On one worker the first child
    // has failed before the parent goes on. On two, the other worker may steal the continuation
    // while the first child is still throwing (slow under ASan), and the second may fail first:
    // the join rethrows whichever failure came first, and only that one.
    weft::event e;
    auto body = [](weft::event& e, weft::test::tracked) -> task<long> {
      long a = 0, b = 0, d = 0;
      weft::fork_scope scope;
      co_await scope.fork(a, fails("first"));
      co_await scope.fork(b, fails_after(e, "second"));
      co_await scope.fork(d, fib(10));
      e.set();
      co_await scope.join();
      co_return a + b + d;
    };
    std::string what = "(nothing thrown)";
    try {
      (void)rt.block_on(body(e, weft::test::tracked(c)));
    } catch (const std::runtime_error& err) {
      what = err.what();
    }
    INFO(workers << " workers: " << what);
    if (workers == 1)
      CHECK(what == "first");
    else
      CHECK((what == "first" || what == "second"));
    // The scope is usable after a failed join.
    auto again = [](weft::test::tracked) -> task<long> {
      weft::fork_scope scope;
      long a = 0;
      co_await scope.fork(a, fails("once"));
      try {
        co_await scope.join();
      } catch (const std::runtime_error&) {
      }
      co_await scope.fork(a, fib(12));
      co_await scope.join();
      co_return a;
    };
    CHECK(rt.block_on(again(weft::test::tracked(c))) == 144);
    CHECK(c.alive() == 0);
  }
}

TEST_CASE("a cancelled task's fork_scope starts no child; the join throws cancelled_error", "[fork_scope]") {
  weft::runtime rt({.workers = 1});
  std::atomic<int> ran{0};
  weft::test::lifetime_counter c;
  weft::cancel_source src;
  src.cancel();
  auto parent = [&](weft::test::tracked) -> task<void> {
    weft::fork_scope scope;
    co_await scope.fork(count(ran));
    co_await scope.fork(count(ran));
    co_await scope.join();
  };
  auto h = rt.spawn(parent(weft::test::tracked(c)), {.token = src.token()});
  CHECK_THROWS_AS(rt.block_on(std::move(h)), weft::cancelled_error);
  CHECK(ran.load() == 0);
  CHECK(c.alive() == 0);
}

TEST_CASE("cancelling a task whose fork_scope runs strands apart cancels them all", "[fork_scope]") {
  // One worker: the first child waits (under the task's record), so the worker takes the
  // parent's continuation from its deque and runs it under a record of its own, which forks a
  // child that waits too. Cancelling the task reaches the first child directly and the other
  // through the scope (the owner's hook); the join rethrows a cancelled_error.
  for (std::size_t workers : {1, 2}) {
    weft::event never;
    weft::runtime rt({.workers = workers});
    weft::test::lifetime_counter c;
    auto parent = [&](weft::test::tracked) -> task<long> {
      long a = 0, b = 0;
      weft::fork_scope scope;
      co_await scope.fork(a, after(never, 1));
      co_await scope.fork(b, after(never, 2));
      co_await scope.join();
      co_return a + b;
    };
    auto h = rt.spawn(parent(weft::test::tracked(c)));
    weft::test::wait_suspended(rt, 2);
    h.cancel();
    CHECK_THROWS_AS(rt.block_on(std::move(h)), weft::cancelled_error);
    CHECK(c.alive() == 0);
  }
}

TEST_CASE("shutdown while fork_scope strands wait apart destroys every frame once", "[fork_scope][lifecycle]") {
  // Strands suspended under the task's record and under continuation records when the runtime
  // shuts down with no grace: whether the workers run the cancellations first or shutdown
  // destroys the frames (the scope then destroys its outstanding children and frees the
  // records), every frame goes once and no record leaks (the sanitizer builds).
  for (int round = 0; round < 50; ++round) {
    weft::test::lifetime_counter c;
    {
      weft::event never;
      weft::runtime rt(
          {.workers = static_cast<std::size_t>(1 + round % 2), .shutdown_grace = std::chrono::milliseconds(0)});
      auto parent = [](weft::event& never, weft::test::tracked t) -> task<long> {
        long parts[4] = {};
        weft::fork_scope scope;
        for (long& p : parts) co_await scope.fork(p, after(never, 1));
        std::atomic<long> leaves{0};
        long inner = 0;
        co_await scope.fork(inner, tree(2, 3, true, leaves, t));
        co_await scope.join();
        co_return parts[0] + inner;
      };
      auto h = rt.spawn(parent(never, weft::test::tracked(c)));
      weft::test::wait_suspended(rt, 2);
      if (round % 3 == 0) h.detach();
      if (round % 4 < 2) rt.shutdown();  // else the destructor does
    }
    CHECK(c.alive() == 0);
  }
}

TEST_CASE("shutdown from another thread racing fork_scope trees", "[fork_scope][lifecycle][stress]") {
  // Trees with yielding leaves, on two workers, while another thread shuts the runtime down at a
  // different moment each round: each block_on returns the tree's value or throws
  // runtime_stopped; nothing leaks or hangs.
  weft::test::watchdog dog("fork_scope trees racing shutdown");
  for (int round = 0; round < 100; ++round) {
    weft::test::lifetime_counter c;
    {
      weft::runtime rt({.workers = 2, .shutdown_grace = std::chrono::milliseconds(round % 2)});
      std::atomic<long> leaves{0};
      // The stop comes after a number of leaves that grows with the round (up to the 15th
      // tree), not after some time: a different moment of a tree each round however loaded the
      // machine, and trees that stop making progress keep the stop away (the watchdog names them).
      std::thread stopper([&] {
        while (leaves.load(std::memory_order_relaxed) < round * 37L) std::this_thread::yield();
        rt.shutdown();
      });
      try {
        for (;;) {
          const long v = rt.block_on(tree(4, 4, true, leaves, weft::test::tracked(c)));  // not in CHECK: it catches
          CHECK(v == 256);
        }
      } catch (const weft::runtime_stopped&) {
      }
      stopper.join();
    }
    CHECK(c.alive() == 0);
  }
}

TEST_CASE("fork_scope under many seeded schedules, with children that sleep in virtual time", "[fork_scope][sim]") {
  // A sim takes every runnable job out of the queues at each step and draws the next, and which
  // logical worker runs it: continuations are taken at every point a child suspends, and
  // children complete on workers that hold a later push of their scope's job. Every schedule
  // must give the same sums and free every frame.
  weft::test::lifetime_counter c;
  struct body {
    static task<long> node(int depth, weft::test::tracked t) {
      if (depth == 0) {
        co_await weft::sleep_for(std::chrono::milliseconds(1));
        co_return 1;
      }
      std::array<long, 3> parts{};
      weft::fork_scope scope;
      for (long& p : parts) co_await scope.fork(p, node(depth - 1, t));
      co_await scope.join();
      co_return parts[0] + parts[1] + parts[2];
    }
  };
  for (std::size_t workers : {1, 2}) {
    weft::testing::explore({.runs = 100, .workers = workers}, [&](weft::testing::sim& s) {
      const long leaves = s.block_on(body::node(3, weft::test::tracked(c)));
      if (leaves != 27) throw std::logic_error("a fork_scope tree lost or repeated a leaf");
    });
  }
  CHECK(c.alive() == 0);
}

TEST_CASE("fork_scope misuse: an empty or finished task, and off the workers", "[fork_scope][misuse]") {
  weft::runtime rt({.workers = 1});
  weft::test::lifetime_counter c;
  rt.block_on([](weft::test::lifetime_counter& c) -> task<void> {
    weft::fork_scope scope;
    long v = 0;
    task<long> empty;
    CHECK_THROWS_AS(scope.fork(v, std::move(empty)), weft::usage_error);
    auto keep = [](weft::test::tracked) -> task<long> { co_return 1; };
    task<long> done = keep(weft::test::tracked(c));
    const long got = co_await done;  // awaited: finished, still held
    CHECK(got == 1);
    CHECK_THROWS_AS(scope.fork(v, std::move(done)), weft::usage_error);
    co_await scope.join();
  }(c));
  CHECK(c.alive() == 0);
  // Awaited by a coroutine that is not a weft task on a worker: resumed here by hand.
  weft::fork_scope scope;
  long v = 0;
  auto f = scope.fork(v, fib(3));
  CHECK_THROWS_AS(f.await_suspend(std::noop_coroutine()), weft::usage_error);
}
