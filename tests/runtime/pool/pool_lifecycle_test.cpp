// job_pool at the edges of its life: stop() called twice at once, processors that throw
// anything, the runtime shutting down under a retry's backoff or a drain, calls from other
// threads racing the shutdown, and the counters those paths keep. Options and names refused:
// pool_options_test.cpp; metrics scraped while pools go: pool_metrics_test.cpp; stop() awaited
// in one of the pool's own jobs: pool_stop_in_job_test.cpp.

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/errors.hpp>
#include <weft/pool/pool.hpp>
#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/event.hpp>
#include <weft/sync/semaphore.hpp>
#include <weft/time.hpp>
#include <weft/yield.hpp>

#include "../../support/outcome.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"
#include "memory_store.hpp"
#include "pool_support.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::test::consistent;
using weft::test::outcome;

namespace {

// One worker, no shutdown grace, no replacement worker: with the worker held
// (hold_the_worker), what the runtime's shutdown ends is destroyed where it waits, or before it
// ever ran, without running its cancellation.
weft::runtime_options one_worker_no_grace() {
  return {.workers = 1, .stall = {.threshold = 1h, .replace_after = 1h, .max_replacements = 0}, .shutdown_grace = 0ms};
}

task<void> hold_until_stopping(weft::runtime& rt, std::atomic<bool>& holding) {
  holding.store(true);  // (the last use of `holding`)
  while (!rt.scheduler().stopping()) std::this_thread::yield();
  co_return;
}

/// Holds `rt`'s worker with a task that returns once the workers are told to stop.
void hold_the_worker(weft::runtime& rt) {
  std::atomic<bool> holding{false};
  rt.spawn(hold_until_stopping(rt, holding)).detach();
  while (!holding.load()) std::this_thread::yield();
}

}  // namespace

TEST_CASE("two stops at once: the first drains, the second waits for it and gets the same report",
          "[pool][lifecycle]") {
  weft::test::watchdog wd("two stops at once");
  weft::runtime rt({.workers = 2});
  weft::event gate;
  weft::job_pool<int> pool(rt, {.concurrency = 1, .queue_capacity = 8},
                           [&](int) -> task<void> { co_await gate.wait(); });
  for (int i = 0; i < 3; ++i) REQUIRE(pool.try_submit(i) == weft::submit_status::accepted);
  auto first = rt.spawn(pool.stop(10s));
  auto second = rt.spawn(pool.stop(10s));
  weft::test::wait_suspended(rt, 3);  // the job at the gate, the drain, the second stop
  gate.set();                         // the drain can finish now
  std::vector<weft::stop_report> both;
  both.push_back(rt.block_on(std::move(first)));
  both.push_back(rt.block_on(std::move(second)));
  CHECK(both[0].drained == 3);
  CHECK(both[1].drained == both[0].drained);
  CHECK(both[1].cancelled == both[0].cancelled);
  CHECK(both[1].dead_lettered == both[0].dead_lettered);
  // And a third, much later, returns at once with the same report.
  auto third = rt.block_on(pool.stop(0ms));
  CHECK(third.drained == 3);
  CHECK(pool.stats().processed == 3);
}

TEST_CASE("a submitter waiting for room gets stopping when a stop begins, also past the drain timeout",
          "[pool][lifecycle]") {
  weft::test::watchdog wd("submitter waiting at stop");
  weft::runtime rt({.workers = 2});
  weft::job_pool<int> pool(rt, {.concurrency = 1, .queue_capacity = 1},
                           [](int) -> task<void> { co_await weft::sleep_for(1h); });
  REQUIRE(pool.try_submit(1) == weft::submit_status::accepted);
  while (pool.stats().in_flight == 0) std::this_thread::yield();
  REQUIRE(pool.try_submit(2) == weft::submit_status::accepted);  // the queue is full now
  auto waiting = rt.spawn([](weft::job_pool<int>& p) -> task<weft::submit_status> {
    auto submitting = p.submit(3);
    co_return co_await std::move(submitting);
  }(pool));
  weft::test::wait_suspended(rt, 2);  // the job in flight, the submitter waiting for room
  auto report = rt.block_on(pool.stop(0ms));
  CHECK(rt.block_on(std::move(waiting)) == weft::submit_status::stopping);
  CHECK(report.cancelled == 1);
  CHECK(report.dead_lettered == 1);
  auto s = pool.stats();
  CHECK(s.dropped == 1);
  CHECK(consistent(s));
}

TEST_CASE("a pool whose queue_capacity is as large as a semaphore counts stops like any other", "[pool][lifecycle]") {
  // Stopping floods the pool's semaphores with permits so that nobody waits again: a queue slot
  // count already near semaphore::max() must not turn that flood into an error.
  weft::runtime rt({.workers = 1});
  std::atomic<int> ran{0};
  weft::job_pool<int> pool(rt, {.name = "huge", .concurrency = 1, .queue_capacity = weft::semaphore::max()},
                           [&](int) -> task<void> {
                             ran.fetch_add(1);
                             co_return;
                           });
  CHECK(pool.try_submit(1) == weft::submit_status::accepted);
  auto report = rt.block_on(pool.stop(10s));
  CHECK(report.cancelled == 0);
  CHECK(ran.load() == 1);
  CHECK(pool.try_submit(2) == weft::submit_status::stopping);
}

TEST_CASE("a processor that throws anything fails its job and never ends a pool worker", "[pool][lifecycle]") {
  weft::test::watchdog wd("throwing processors");
  weft::runtime rt({.workers = 2});
  std::atomic<int> ran{0};
  weft::job_pool<int> pool(
      rt, {.concurrency = 1, .queue_capacity = 64, .retry = {.max_attempts = 2, .initial_backoff = 0ms}},
      [&](int kind) -> task<void> {
        ran.fetch_add(1);
        switch (kind) {
          case 0:
            throw 42;  // not an exception class
          case 1:
            throw std::string("a string");  // nor this
          case 2:
            throw weft::retryable_error("flaky");  // retried, then dead
          case 3:
            throw std::invalid_argument("bad");  // an ordinary failure
          default:
            co_return;
        }
      });
  for (int i = 0; i < 5; ++i) REQUIRE(pool.try_submit(i) == weft::submit_status::accepted);
  auto report = rt.block_on(pool.stop(10s));
  auto s = pool.stats();
  CHECK(report.cancelled == 0);
  CHECK(s.processed == 1);
  CHECK(s.failed == 4);
  CHECK(s.retried == 1);
  CHECK(ran.load() == 6);
  CHECK(consistent(s));
  auto letters = pool.take_dead_letters();
  REQUIRE(letters.size() == 4);
  CHECK(letters[0].error == "an exception not derived from std::exception");
}

TEST_CASE("a pool outliving its runtime says stopping and is destroyed safely", "[pool][lifecycle]") {
  std::optional<weft::job_pool<int>> pool;
  {
    weft::runtime rt({.workers = 1});
    pool.emplace(rt, weft::pool_options{.concurrency = 2}, [](int) -> task<void> { co_await weft::sleep_for(1h); });
    REQUIRE(pool->try_submit(1) == weft::submit_status::accepted);
    REQUIRE(pool->try_submit(2) == weft::submit_status::accepted);
  }
  CHECK(pool->try_submit(3) == weft::submit_status::stopping);
  auto h = pool->health();
  CHECK_FALSE(h.healthy);
  CHECK(consistent(pool->stats()));
  pool.reset();
}

TEST_CASE("a stopped pool is degraded in health(), and asks nothing of its runtime once that is gone",
          "[pool][lifecycle]") {
  std::optional<weft::job_pool<int>> pool;
  auto says_stopped = [](const weft::health_status& h) {
    bool stopped = false;
    for (auto& r : h.reasons) stopped |= r.find("stopped") != std::string::npos;
    return !h.healthy && stopped;
  };
  {
    weft::runtime rt({.workers = 1});
    pool.emplace(rt, weft::pool_options{.concurrency = 1}, [](int) -> task<void> { co_return; });
    REQUIRE(pool->try_submit(1) == weft::submit_status::accepted);
    rt.block_on(pool->stop(10s));
    CHECK(says_stopped(pool->health()));
  }
  // The runtime (its stall detector with it) is gone: health() answers from the pool alone.
  CHECK(says_stopped(pool->health()));
  CHECK(pool->stats().processed == 1);
  pool.reset();
}

TEST_CASE("a job waiting out a retry's backoff when the runtime shuts down is a dead letter, pending in its store",
          "[pool][lifecycle][store]") {
  for (auto grace : {1000ms, 0ms}) {
    INFO("grace " << grace.count() << " ms");
    weft::test::watchdog wd("backoff at shutdown");
    auto store = std::make_shared<weft::test::memory_store<int>>();
    std::optional<weft::job_pool<int>> pool;
    {
      weft::runtime rt({.workers = 2, .shutdown_grace = grace});
      pool.emplace(
          rt, weft::pool_options{.concurrency = 1, .retry = {.max_attempts = 3, .initial_backoff = 1h}},
          [](int) -> task<void> {
            throw weft::retryable_error("upstream busy");
            co_return;
          },
          weft::pool_hooks<int>{.store = store});
      REQUIRE(pool->try_submit(1) == weft::submit_status::accepted);
      while (pool->stats().retried == 0) std::this_thread::yield();
      weft::test::wait_suspended(rt, 1);  // the one worker, asleep in its backoff
      rt.shutdown();
      auto s = pool->stats();
      CHECK(s.in_flight == 0);
      CHECK(s.failed == 1);
      CHECK(consistent(s));
    }
    auto letters = pool->take_dead_letters();
    REQUIRE(letters.size() == 1);
    CHECK(letters[0].attempts == 1);
    REQUIRE(store->pending().size() == 1);  // cut short, not failed for good: the next pool runs it
    CHECK(store->dead_letters().empty());
    pool.reset();
  }
}

TEST_CASE("try_submit, stats, health and stop called from other threads while the runtime shuts down",
          "[pool][lifecycle][stress]") {
  weft::test::watchdog wd("pool calls racing shutdown");
  for (int round = 0; round < 200; ++round) {
    INFO("round " << round);
    std::optional<weft::job_pool<int>> pool;
    std::atomic<int> inconsistent{0}, unexpected{0};
    {
      weft::runtime rt({.workers = 2, .shutdown_grace = round % 2 ? 0ms : 1000ms});
      pool.emplace(rt,
                   weft::pool_options{
                       .concurrency = 2, .queue_capacity = 4, .retry = {.max_attempts = 2, .initial_backoff = 0ms}},
                   [](int j) -> task<void> {
                     switch (j % 4) {
                       case 0:
                         co_await weft::sleep_for(1h);
                         break;
                       case 1:
                         throw weft::retryable_error("again");
                       case 2:
                         co_await weft::yield();
                         break;
                       default:
                         break;
                     }
                   });
      std::atomic<int> started{0};
      std::atomic<bool> done{false};
      std::vector<std::thread> callers;
      callers.emplace_back([&] {
        for (int i = 0; !done.load(); ++i) {
          pool->try_submit(i);
          if (!consistent(pool->stats())) inconsistent.fetch_add(1);
          if (i == 0) started.fetch_add(1);
        }
      });
      callers.emplace_back([&] {
        for (int i = 0; !done.load(); ++i) {
          (void)pool->health();
          if (i == 0) started.fetch_add(1);
        }
      });
      callers.emplace_back([&] {
        started.fetch_add(1);
        const outcome ended =
            weft::test::outcome_of([&] { return rt.block_on(pool->stop(round % 3 == 0 ? 0ms : 1h)); });
        if (ended != outcome::returned && ended != outcome::stopped) unexpected.fetch_add(1);
      });
      while (started.load() < 3) std::this_thread::yield();
      rt.shutdown();
      done.store(true);
      for (auto& t : callers) t.join();
    }
    auto s = pool->stats();
    REQUIRE(inconsistent.load() == 0);
    REQUIRE(unexpected.load() == 0);
    REQUIRE(s.in_flight == 0);
    REQUIRE(s.queue_depth == 0);
    REQUIRE(s.workers == 0);
    REQUIRE(consistent(s));
    REQUIRE(pool->try_submit(1) == weft::submit_status::stopping);
    REQUIRE_FALSE(pool->health().healthy);
    pool.reset();
  }
}

TEST_CASE("a drain the runtime's shutdown ends, unwound or destroyed where it waits, leaves no job queued",
          "[pool][lifecycle]") {
  for (bool destroyed : {false, true}) {
    INFO((destroyed ? "the drain destroyed where it waits" : "the drain unwound through its cancellation"));
    weft::test::watchdog wd("a drain ended by shutdown");
    std::optional<weft::job_pool<int>> pool;
    {
      weft::runtime rt(destroyed ? one_worker_no_grace() : weft::runtime_options{.workers = 2});
      pool.emplace(rt, weft::pool_options{.concurrency = 1, .queue_capacity = 4},
                   [](int) -> task<void> { co_await weft::sleep_for(1h); });
      REQUIRE(pool->try_submit(1) == weft::submit_status::accepted);
      REQUIRE(pool->try_submit(2) == weft::submit_status::accepted);  // queued behind it
      auto stopping = rt.spawn(pool->stop(1h));
      weft::test::wait_suspended(rt, 2);  // the job, and the drain waiting for it
      if (destroyed) hold_the_worker(rt);
      rt.shutdown();
      try {
        (void)rt.block_on(std::move(stopping));
      } catch (const weft::runtime_stopped&) {
      }
      auto s = pool->stats();
      CHECK(s.in_flight == 0);
      CHECK(s.queue_depth == 0);  // nobody will run job 2: a dead letter, to resubmit elsewhere
      CHECK(s.failed == 2);
      CHECK(s.workers == 0);
      CHECK(consistent(s));
    }
    CHECK(pool->take_dead_letters().size() == 2);
    weft::runtime other({.workers = 1});
    (void)other.block_on(pool->stop(1h));  // the first stop is over: no wait
    CHECK(pool->try_submit(3) == weft::submit_status::stopping);
    pool.reset();
  }
}

TEST_CASE("workers the runtime's shutdown ends before they ever ran are counted out all the same",
          "[pool][lifecycle]") {
  weft::test::watchdog wd("pool workers never started");
  std::optional<weft::job_pool<int>> pool;
  {
    weft::runtime rt(one_worker_no_grace());
    hold_the_worker(rt);  // the pool's tasks are spawned, never run, and ended by the shutdown
    pool.emplace(rt, weft::pool_options{.concurrency = 2, .min_concurrency = 1}, [](int) -> task<void> { co_return; });
    REQUIRE(pool->try_submit(1) == weft::submit_status::accepted);
    rt.shutdown();
    auto s = pool->stats();
    CHECK(s.workers == 0);
    CHECK(s.queue_depth == 0);
    CHECK(s.failed == 1);  // never started: a dead letter
    CHECK(consistent(s));
    CHECK(pool->try_submit(2) == weft::submit_status::stopping);
  }
  CHECK_FALSE(pool->health().healthy);  // the runtime is gone: not asked
  weft::runtime other({.workers = 1});
  auto report = other.block_on(pool->stop(0ms));  // no task of the pool left to wait for
  CHECK(report.cancelled == 0);
  pool.reset();
}
