#include <weft/runtime.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <latch>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/metrics/registry.hpp>
#include <weft/time.hpp>
#include <weft/yield.hpp>

#include "../support/lifetime.hpp"
#include "../support/outcome.hpp"
#include "../support/watchdog.hpp"

using namespace std::chrono_literals;
using weft::task;

TEST_CASE("block_on from one of the runtime's own workers throws usage_error", "[runtime][misuse]") {
  weft::runtime rt({.workers = 1});
  bool threw = false;
  rt.block_on([&]() -> task<void> {
    const std::string what = weft::test::refusal([&] { rt.block_on([]() -> task<void> { co_return; }()); });
    threw = what.find("deadlock") != std::string::npos;
    co_return;
  }());
  CHECK(threw);
}

TEST_CASE("block_on from a worker of another runtime throws usage_error for a task and for a handle",
          "[runtime][misuse]") {
  // A task of `b` blocking in a.block_on would hold b's worker while `a` runs the task, and
  // forever if that task waits for something of b's. Refused before anything runs: the task
  // given is destroyed unrun, the handle given is dropped (its task runs on, detached).
  weft::runtime a({.workers = 1});
  weft::runtime b({.workers = 1});
  std::atomic<int> ran{0};
  auto counted = [](std::atomic<int>& ran) -> task<int> {
    ran.fetch_add(1);
    co_return 7;
  };
  std::string for_task, for_handle;
  b.block_on([](weft::runtime& a, task<int> t, weft::join_handle<int> h, std::string& for_task,
                std::string& for_handle) -> task<void> {
    for_task = weft::test::refusal([&] { return a.block_on(std::move(t)); });
    for_handle = weft::test::refusal([&] { return a.block_on(std::move(h)); });
    co_return;
  }(a, counted(ran), a.spawn(counted(ran)), for_task, for_handle));
  // The message says what to do instead.
  CHECK(for_task.find("co_await") != std::string::npos);
  CHECK(for_handle.find("co_await") != std::string::npos);
  // Only the spawned one ran (on a, detached); the refused task never started.
  while (ran.load() == 0) std::this_thread::yield();
  CHECK(a.block_on(counted(ran)) == 7);
  CHECK(ran.load() == 2);
}

TEST_CASE("run() from a task, of its own runtime or of another, throws usage_error", "[runtime][misuse]") {
  // On its own workers run() would wait for itself; on another runtime's it would hold that
  // worker until the runtime shuts down. Both are refused, and both runtimes still serve.
  weft::test::watchdog dog("run() from a task");
  weft::runtime a({.workers = 1, .name = "a"});
  weft::runtime b({.workers = 1, .name = "b"});
  std::string own, other;
  b.block_on([](weft::runtime& a, weft::runtime& b, std::string& own, std::string& other) -> task<void> {
    own = weft::test::refusal([&] { b.run(); });
    other = weft::test::refusal([&] { a.run(); });
    co_return;
  }(a, b, own, other));
  CHECK(own.find("its own workers") != std::string::npos);
  CHECK(other.find("plain thread") != std::string::npos);
  CHECK(a.block_on([]() -> task<int> { co_return 1; }()) == 1);
  CHECK(b.block_on([]() -> task<int> { co_return 2; }()) == 2);
}

TEST_CASE("a runtime that is shut down refuses new work with runtime_stopped", "[runtime][misuse]") {
  weft::runtime rt({.workers = 1});
  rt.shutdown();
  CHECK_THROWS_AS(rt.spawn([]() -> task<void> { co_return; }()), weft::runtime_stopped);
  CHECK_THROWS_AS(rt.block_on([]() -> task<int> { co_return 1; }()), weft::runtime_stopped);
  rt.shutdown();  // idempotent
}

TEST_CASE("the thread hooks run once on each worker", "[runtime]") {
  std::atomic<int> started{0}, stopped{0};
  {
    weft::runtime rt({.workers = 2,
                      .on_thread_start = [&](std::size_t) { started.fetch_add(1); },
                      .on_thread_stop = [&](std::size_t) { stopped.fetch_add(1); }});
    CHECK(rt.workers() == 2);
    CHECK(rt.block_on([]() -> task<int> { co_return 5; }()) == 5);
  }
  CHECK(started.load() == 2);
  CHECK(stopped.load() == 2);
}

TEST_CASE("workers default to one per hardware thread", "[runtime]") {
  weft::runtime rt;
  CHECK(rt.workers() == std::max(1u, std::thread::hardware_concurrency()));
}

TEST_CASE("shutdown cancels tasks suspended on timers and joins without waiting for the timers",
          "[runtime][lifetime]") {
  weft::test::lifetime_counter c;
  std::atomic<int> started{0};
  {
    weft::runtime rt({.workers = 2});
    auto sleeper = [&]([[maybe_unused]] weft::test::tracked t) -> task<void> {  // held by the frame
      started.fetch_add(1);
      co_await weft::sleep_for(1h);
    };
    auto joiner = [&]([[maybe_unused]] weft::test::tracked t) -> task<void> {
      started.fetch_add(1);
      auto h = weft::spawn(sleeper(weft::test::tracked(c)));
      co_await h;  // never finishes
    };
    for (int i = 0; i < 10; ++i) rt.spawn(sleeper(weft::test::tracked(c))).detach();
    auto kept = rt.spawn(joiner(weft::test::tracked(c)));  // a handle outliving the runtime
    while (started.load() < 12) std::this_thread::yield();
    rt.shutdown();
    // Cancelled at their awaits, they all finished; the joiner's frame (and its argument)
    // waits for its handle, like any finished task's.
    CHECK(kept.done());
    CHECK(c.alive() == 1);
  }  // `kept` is released after the runtime: its frame and record are freed then
  CHECK(c.alive() == 0);
}

TEST_CASE("a thread blocked in block_on gets runtime_stopped when the runtime shuts down", "[runtime]") {
  weft::runtime rt({.workers = 1});
  std::latch entered(1);
  std::atomic<bool> got_stopped{false};
  std::thread t([&] {
    try {
      rt.block_on([&]() -> task<void> {
        entered.count_down();
        co_await weft::sleep_for(1h);
      }());
    } catch (const weft::runtime_stopped&) {
      got_stopped = true;
    }
  });
  entered.wait();
  rt.shutdown();
  t.join();
  CHECK(got_stopped.load());
}

TEST_CASE("a finished task's handle may outlive its runtime", "[runtime][lifetime]") {
  weft::test::lifetime_counter c;
  weft::join_handle<int> h;
  {
    weft::runtime rt({.workers = 1});
    h = rt.spawn([](weft::test::tracked) -> task<int> { co_return 3; }(weft::test::tracked(c)));
    while (!h.done()) std::this_thread::yield();
  }
  CHECK(h.valid());
  h.detach();  // frees the frame and the record after the runtime is gone
  CHECK(c.alive() == 0);
}
TEST_CASE("runtimes sharing a registry get distinct default names; an explicit duplicate is an error",
          "[runtime][names]") {
  weft::metrics::registry reg;
  weft::runtime a({.workers = 1, .registry = &reg});
  weft::runtime b({.workers = 1, .registry = &reg});
  CHECK(a.name() == "weft");
  CHECK(b.name() == "weft-2");
  weft::runtime api({.workers = 1, .name = "api", .registry = &reg});
  std::string error;
  try {
    weft::runtime again({.workers = 1, .name = "api", .registry = &reg});
  } catch (const std::invalid_argument& e) {
    error = e.what();
  }
  CHECK(error.find("\"api\"") != std::string::npos);
  CHECK(reg.to_prometheus().find("runtime=\"weft-2\"") != std::string::npos);
}

TEST_CASE("options that cannot work are refused by name before anything is built", "[runtime]") {
  // Under ASan (leak detection) this also shows that a refused runtime leaves nothing behind.
  auto refusal = [](weft::runtime_options o) -> std::string {
    try {
      weft::runtime rt(std::move(o));
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return {};
  };
  CHECK(refusal({.workers = 1, .shutdown_grace = std::chrono::milliseconds(-1)}).find("shutdown_grace") !=
        std::string::npos);
  CHECK(refusal({.workers = 1, .idle_spin = std::chrono::microseconds(-1)}).find("idle_spin") != std::string::npos);
  CHECK(refusal({.workers = 1, .max_blocking_threads = 0}).find("max_blocking_threads") != std::string::npos);
  CHECK(refusal({.workers = 1, .blocking_keep_alive = std::chrono::milliseconds(-1)}).find("blocking_keep_alive") !=
        std::string::npos);
  CHECK(refusal({.workers = 1, .stop_signals = {SIGKILL}}).find("stop_signals") != std::string::npos);
  CHECK(refusal({.workers = 1}).empty());
}
