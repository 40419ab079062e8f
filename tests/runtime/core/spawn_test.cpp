#include <weft/spawn.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/runtime.hpp>
#include <weft/stall.hpp>
#include <weft/sync/channel.hpp>
#include <weft/sync/event.hpp>
#include <weft/yield.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/outcome.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"

using weft::join_handle;
using weft::task;
using weft::test::join_outcome;
using weft::test::outcome;

namespace {

task<long> fib(int n) {
  if (n < 2) co_return n;
  join_handle<long> a = weft::spawn(fib(n - 1));
  long b = co_await fib(n - 2);
  co_return co_await a + b;
}

task<int> fail_with(const char* what) {
  throw std::runtime_error(what);
  co_return 0;
}

task<void> bump(std::atomic<int>& counter) {
  counter.fetch_add(1, std::memory_order_relaxed);
  co_return;
}

task<int> after(weft::event& go) {
  co_await go.wait();
  co_return 1;
}

}  // namespace

TEST_CASE("fork-join fib gives the right answer on one and two workers", "[spawn]") {
  for (std::size_t workers : {1, 2}) {
    weft::runtime rt({.workers = workers});
    CHECK(rt.block_on(fib(25)) == 75025);
  }
}

TEST_CASE("a million spawned tasks each run exactly once", "[spawn][stress]") {
  weft::runtime rt({.workers = 2});
  constexpr int n = 1'000'000;
  std::vector<std::atomic<int>> runs(n);
  rt.block_on([&]() -> task<void> {
    std::vector<join_handle<void>> hs;
    hs.reserve(1000);
    for (int i = 0; i < n; ++i) {
      hs.push_back(weft::spawn([](std::atomic<int>& r) -> task<void> {
        r.fetch_add(1, std::memory_order_relaxed);
        co_return;
      }(runs[i])));
      if (hs.size() == 1000) {
        for (auto& h : hs) co_await h;
        hs.clear();
      }
    }
    for (auto& h : hs) co_await h;
  }());
  int wrong = 0;
  for (auto& r : runs) wrong += r.load() != 1;
  CHECK(wrong == 0);
}

TEST_CASE("stealing through 4-slot deques loses and repeats nothing", "[spawn][stress]") {
  weft::runtime rt({.workers = 2, .deque_capacity = 4});
  std::atomic<int> count{0};
  CHECK(rt.block_on(fib(22)) == 17711);
  rt.block_on([&]() -> task<void> {
    std::vector<join_handle<void>> hs;
    for (int i = 0; i < 20'000; ++i) hs.push_back(weft::spawn(bump(count)));
    for (auto& h : hs) co_await h;
  }());
  CHECK(count.load() == 20'000);
}

TEST_CASE("an exception crosses spawn and join", "[spawn]") {
  weft::runtime rt({.workers = 2});
  CHECK_THROWS_WITH(rt.block_on([]() -> task<int> { co_return co_await weft::spawn(fail_with("lost")); }()), "lost");
}

TEST_CASE("a detached task runs to completion", "[spawn]") {
  weft::runtime rt({.workers = 2});
  std::atomic<int> count{0};
  rt.block_on([&]() -> task<void> {
    for (int i = 0; i < 100; ++i) weft::spawn(bump(count)).detach();
    // A handle dropped without a join detaches too.
    {
      auto dropped = weft::spawn(bump(count));
    }
    co_return;
  }());
  // Join the stragglers through a spawn that waits for them to be counted.
  rt.block_on([&]() -> task<void> {
    while (count.load() < 101) co_await weft::yield();
  }());
  CHECK(count.load() == 101);
}

TEST_CASE("join handles are default-constructible and live in vectors", "[spawn]") {
  weft::runtime rt({.workers = 2});
  CHECK(rt.block_on([]() -> task<long> {
    join_handle<long> hs[10];
    CHECK_FALSE(hs[0].valid());
    for (int i = 0; i < 10; ++i) hs[i] = weft::spawn(fib(i));
    long sum = 0;
    for (auto& h : hs) sum += co_await h;
    CHECK_FALSE(hs[3].valid());
    co_return sum;
  }()) == 88);
}

TEST_CASE("awaiting a join handle twice throws usage_error", "[spawn][misuse]") {
  weft::runtime rt({.workers = 1});
  CHECK_THROWS_WITH(rt.block_on([]() -> task<void> {
    auto h = weft::spawn(fib(3));
    co_await h;
    co_await h;
  }()),
                    Catch::Contains("empty join_handle"));
}

TEST_CASE("weft::spawn off the workers throws usage_error", "[spawn][misuse]") {
  CHECK_THROWS_AS(weft::spawn(fib(3)), weft::usage_error);
}

TEST_CASE("runtime::spawn from another thread and block_on of the handle", "[spawn]") {
  weft::runtime rt({.workers = 2});
  auto h = rt.spawn(fib(20), {.name = "outside"});
  CHECK(h.id() != 0);
  CHECK(rt.block_on(std::move(h)) == 6765);
}

TEST_CASE("spawned frames are all destroyed, joined or detached", "[spawn][lifetime]") {
  weft::test::lifetime_counter c;
  {
    weft::runtime rt({.workers = 2});
    auto keep = [](weft::test::tracked) -> task<int> { co_return 7; };
    rt.block_on([&]() -> task<void> {
      auto a = weft::spawn(keep(weft::test::tracked(c)));
      weft::spawn(keep(weft::test::tracked(c))).detach();
      int v = co_await a;  // (not inside CHECK: g++ 12 mishandles co_await in Catch's macros)
      CHECK(v == 7);
    }());
  }
  CHECK(c.alive() == 0);
}

TEST_CASE("joining children in spawn order runs the later ones inline meanwhile", "[spawn]") {
  // Help-first: while waiting for the first child, the joiner runs its other children from the
  // bottom of its deque. Each still runs once and every result arrives.
  weft::runtime rt({.workers = 1});
  long sum = rt.block_on([]() -> task<long> {
    weft::join_handle<long> hs[10];
    for (int i = 0; i < 10; ++i) hs[i] = weft::spawn(fib(i + 5));
    long total = 0;
    for (auto& h : hs) total += co_await h;
    co_return total;
  }());
  CHECK(sum == 5 + 8 + 13 + 21 + 34 + 55 + 89 + 144 + 233 + 377);  // fib(5) .. fib(14)
}

TEST_CASE("a helped sibling that waits for its joiner does not deadlock it", "[spawn][regression]") {
  // The consumer waits for the channel to close, which the joiner does after joining the
  // producer. Run inline as a helper while the joiner waits for the producer, the consumer
  // suspends at its recv: that must hand the joiner back its join, or neither could go on.
  weft::runtime rt({.workers = 1});
  long received = rt.block_on([]() -> task<long> {
    weft::channel<int> ch(4);
    auto produce = [&]() -> task<void> {
      for (int i = 0; i < 100; ++i) co_await ch.send(i);
    };
    auto consume = [&]() -> task<long> {
      long n = 0;
      while (co_await ch.recv()) ++n;
      co_return n;
    };
    auto producer = weft::spawn(produce());
    auto consumer = weft::spawn(consume());  // at the bottom of the deque: helped first
    co_await producer;
    ch.close();
    co_return co_await consumer;
  }());
  CHECK(received == 100);
}

TEST_CASE("a task that awaits another runtime's task resumes on its own runtime that may end at once",
          "[spawn][lifecycle]") {
  // The joiner lets the other runtime's child go and waits for it; that runtime's worker
  // completes the child and wakes the joiner. It must queue it on the joiner's own runtime (run
  // there, the joiner would be taken for one of that worker's tasks: what it spawns would land on
  // the wrong runtime), and hold that runtime's core while it does: the joiner may end, block_on
  // return and its runtime be destroyed here before the worker is out of the scheduler.
  weft::runtime other({.workers = 1});
  int resumed_elsewhere = 0;
  for (int round = 0; round < 300; ++round) {
    weft::event go;
    weft::join_handle<int> child = other.spawn(after(go));
    weft::runtime rt({.workers = 2});
    resumed_elsewhere +=
        rt.block_on([](weft::runtime& self, weft::event& go, weft::join_handle<int>& child) -> task<int> {
          go.set();  // the child usually ends after we wait for it: its worker wakes us
          co_await child;
          co_return self.scheduler().on_worker() ? 0 : 1;
        }(rt, go, child));
  }
  CHECK(resumed_elsewhere == 0);
}

namespace {

task<int> seven() { co_return 7; }

task<int> await_on(weft::runtime& self, join_handle<int> h) {
  const int v = co_await h;
  co_return self.scheduler().on_worker() ? v : -1;
}

// Spawns two tasks, hands the second's handle to a task of `near`, and joins the first: the
// second, at the bottom of the deque, runs inline first to help that join, and its completion
// (complete_helped) takes near's task out of its join word and wakes it.
task<join_handle<int>> help_far_joiner(weft::runtime& near) {
  auto first = weft::spawn(seven());
  auto helped = weft::spawn(seven());
  auto joiner = near.spawn(await_on(near, std::move(helped)));
  weft::test::wait_suspended(near, 1);  // it waits in helped's join word (or is about to)
  co_await first;
  co_return joiner;
}

}  // namespace

TEST_CASE("a task that awaits another runtime's task run inline to help a join resumes on its own runtime",
          "[spawn][lifecycle]") {
  // As above, for the completion of a task that helped its spawner's join: it wakes the joiner
  // on the joiner's own runtime, whose core the joiner held from its registration (LeakSanitizer:
  // the hold is dropped; ASan: once, and the core outlives the wake when `near` ends at once).
  weft::runtime other({.workers = 1});
  int wrong = 0;
  for (int round = 0; round < 300; ++round) {
    weft::runtime near({.workers = 1});
    join_handle<int> joiner = other.block_on(help_far_joiner(near));
    wrong += near.block_on([](join_handle<int>& h) -> task<int> { co_return co_await h; }(joiner)) != 7;
  }
  CHECK(wrong == 0);
}

namespace {

// Keeps the only worker of `rt` until rt's shutdown stops the workers: a task that the shutdown
// cancels (woken to unwind) never runs again, and the shutdown destroys its frame where it
// waits, as a shutdown with no grace does to a task that does not get to unwind in time.
task<void> hold_worker_until_stop(weft::runtime& rt, std::atomic<bool>& holding) {
  holding.store(true);
  while (!rt.scheduler().stopping()) std::this_thread::yield();
  co_return;
}

// Two runtimes: `near`, and `far`, whose tasks wait for `never` until end_far() shuts it down
// with them waiting: their frames destroyed, unfinished, and their records orphaned. far has one
// worker, no grace and no replacement worker (one would run the task that
// hold_worker_until_stop keeps from running).
struct far_ends {
  weft::event never;  // first: it outlives both runtimes' tasks
  weft::runtime near{{.workers = 1}};
  std::unique_ptr<weft::runtime> far = std::make_unique<weft::runtime>(weft::runtime_options{
      .workers = 1, .stall = {.max_replacements = 0}, .shutdown_grace = std::chrono::milliseconds(0)});

  // A task of far that waits for `never`.
  join_handle<int> far_waiter() { return far->spawn(after(never)); }

  // Shuts far down once `waiting` of its tasks wait.
  void end_far(std::size_t waiting) {
    weft::test::wait_suspended(*far, waiting);
    std::atomic<bool> holding{false};
    far->spawn(hold_worker_until_stop(*far, holding)).detach();
    while (!holding.load()) std::this_thread::yield();
    far->shutdown();
  }
};

}  // namespace

TEST_CASE("a task waiting for another runtime's task that shutdown ends gets runtime_stopped",
          "[spawn][join][lifecycle]") {
  // The joiner waits in the join word of a task of `far` when far's end destroys that task: the
  // end takes the joiner out of the word and must wake it (on its own runtime), and the join
  // throws runtime_stopped, as block_on does. Left there, the joiner would wait until its own
  // runtime ends, deaf to its cancellation too.
  weft::test::watchdog wd("a join of a task ended by its runtime's shutdown");
  far_ends f;
  join_handle<outcome> joiner = f.near.spawn(join_outcome(f.far_waiter()));
  weft::test::wait_suspended(f.near, 1);  // in the child's join word
  f.end_far(1);
  CHECK(f.near.block_on(std::move(joiner)) == outcome::stopped);
  f.far.reset();
}

TEST_CASE("awaiting the handle of a task that its runtime's shutdown ended throws runtime_stopped",
          "[spawn][join][lifecycle]") {
  // The handle outlives the task's runtime; the task's frame is gone (ASan: nothing reads it).
  // done() stays false, cancel() does nothing, and the await (from a task of another runtime)
  // throws runtime_stopped and frees the record (LeakSanitizer: the far core with it).
  weft::test::watchdog wd("a join of a task already ended by its runtime's shutdown");
  far_ends f;
  join_handle<int> child = f.far_waiter();
  f.end_far(1);
  f.far.reset();
  CHECK_FALSE(child.done());
  child.cancel();
  CHECK_FALSE(child.done());
  CHECK(f.near.block_on(join_outcome(std::move(child))) == outcome::stopped);
}

TEST_CASE("the handle of a task that its runtime's shutdown ended is dropped or joined from a plain thread",
          "[spawn][join][lifecycle]") {
  // Dropped: frees the record and lets go of the far core. Joined by block_on, of this runtime or
  // of another one: runtime_stopped, and the record goes back to its own runtime.
  weft::test::watchdog wd("handles of tasks ended by their runtime's shutdown");
  far_ends f;
  join_handle<int> dropped = f.far_waiter();
  join_handle<int> own = f.far_waiter();
  join_handle<int> other = f.far_waiter();
  f.end_far(3);
  dropped = {};
  CHECK_THROWS_AS(f.far->block_on(std::move(own)), weft::runtime_stopped);
  CHECK_THROWS_AS(f.near.block_on(std::move(other)), weft::runtime_stopped);
  f.far.reset();
  // near's records, of its own chunks only: a record of far's given to near's table would be
  // freed memory once far's core is gone.
  for (int i = 0; i < 64; ++i) CHECK(f.near.block_on(seven()) == 7);
}

TEST_CASE("block_on of another runtime's handle from a plain thread", "[spawn][join]") {
  // The record goes back to its own runtime's table (taken from near's, after far is gone, it
  // would be freed memory: ASan), and far's core is freed once (LeakSanitizer).
  weft::runtime near({.workers = 1});
  auto far = std::make_unique<weft::runtime>(weft::runtime_options{.workers = 1});
  for (int i = 0; i < 8; ++i) CHECK(near.block_on(far->spawn(seven())) == 7);
  far.reset();
  for (int i = 0; i < 64; ++i) CHECK(near.block_on(seven()) == 7);
}

namespace {

task<void> hold_until(std::atomic<bool>& holding, const std::atomic<bool>& release) {
  holding.store(true);
  while (!release.load()) std::this_thread::yield();
  co_return;
}

// The state of the task named `name` in a dump, by name (called on workers too: no Catch macro).
std::string state_of(weft::runtime& rt, const char* name) {
  for (const auto& t : rt.dump_tasks())
    if (t.name == name) return std::string(to_string(t.state));
  return "not in the dump";
}

}  // namespace

TEST_CASE("a joiner woken by its cancellation is runnable until it runs whoever cancels it", "[spawn][join][cancel]") {
  // The join's cancel hook takes the joiner out of the child's join word and wakes it as every
  // awaiter's hook does (detail/current.hpp, wake): marked runnable (dumps, hung-task counts),
  // and from a thread off the joiner's workers through the runtime's outside wake.
  weft::event never;
  // One worker, no replacement (it would run the woken joiner while "hold" keeps the worker),
  // stalls not reported.
  weft::runtime rt({.workers = 1, .stall = {.max_replacements = 0, .on_stall = [](const weft::stall_report&) {}}});
  join_handle<int> child = rt.spawn(after(never));
  weft::test::wait_suspended(rt, 1);  // at its event: in no deque, so the joiner cannot run it inline
  join_handle<outcome> joiner = rt.spawn(join_outcome(std::move(child)), {.name = "joiner"});
  weft::test::wait_suspended(rt, 2);  // in the child's join word
  SECTION("from a plain thread, while the worker is busy") {
    std::atomic<bool> holding{false}, release{false};
    join_handle<void> hold = rt.spawn(hold_until(holding, release));
    while (!holding.load()) std::this_thread::yield();
    joiner.cancel();
    CHECK(state_of(rt, "joiner") == "runnable");
    release.store(true);
    rt.block_on(std::move(hold));
  }
  SECTION("from a task on the joiner's worker") {
    const auto seen = rt.block_on([](weft::runtime& rt, join_handle<outcome>& j) -> task<std::string> {
      j.cancel();
      co_return state_of(rt, "joiner");  // queued behind us on our worker
    }(rt, joiner));
    CHECK(seen == "runnable");
  }
  CHECK(rt.block_on(std::move(joiner)) == outcome::cancelled);
  never.set();
}
