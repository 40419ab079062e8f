// Adaptive concurrency (pool_options::min_concurrency, scale_up_after, scale_down_after): the
// rule itself, a pool growing under a backlog and shrinking when idle, and the added and
// retiring workers keeping the lifecycle guarantees (stop waits for all, ~job_pool and shutdown
// free everything, stops racing the scaler).

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/metrics/registry.hpp>
#include <weft/pool/detail/scaling.hpp>
#include <weft/pool/pool.hpp>
#include <weft/runtime.hpp>
#include <weft/sync/event.hpp>
#include <weft/testing/sim.hpp>
#include <weft/time.hpp>
#include <weft/yield.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/watchdog.hpp"
#include "pool_support.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::test::consistent;

namespace {

template <class Pred>
void wait_until(weft::job_pool<int>& pool, Pred done) {
  while (!done(pool.stats())) std::this_thread::yield();
}

double workers_gauge(weft::runtime& rt, const std::string& pool) {
  return rt.metrics().snapshot().gauge_value("weft_pool_workers", {{"pool", pool}});
}

// The most jobs a processor saw running at once.
struct peak {
  std::atomic<int> now{0}, most{0};
  void enter() {
    int n = now.fetch_add(1) + 1;
    for (int m = most.load(); n > m && !most.compare_exchange_weak(m, n);) {
    }
  }
  void leave() { now.fetch_sub(1); }
};

}  // namespace

TEST_CASE("the scaling rule grows only when every worker is busy and the oldest job waited long enough",
          "[pool][scaling]") {
  weft::detail::scaling_rule rule{2, 4, std::chrono::milliseconds(50), std::chrono::seconds(5)};
  CHECK(rule.adaptive());
  CHECK(rule.grow(2, 2, 50ms));
  CHECK_FALSE(rule.grow(2, 2, 49ms));  // not waited long enough
  CHECK_FALSE(rule.grow(2, 1, 1s));    // a worker is free: it takes the job
  CHECK_FALSE(rule.grow(4, 4, 1s));    // at the ceiling
  CHECK(rule.retire(3));
  CHECK_FALSE(rule.retire(2));  // never below the minimum
  CHECK(rule.recheck_in(20ms, false) == 30ms);
  CHECK(rule.recheck_in(80ms, true) == 50ms);
  weft::detail::scaling_rule zero{1, 2, std::chrono::nanoseconds(0), std::chrono::nanoseconds(0)};
  CHECK(zero.recheck_in(0ms, true) == 1ms);  // no spinning on a rule of 0
  CHECK_FALSE((weft::detail::scaling_rule{3, 3, {}, {}}.adaptive()));
}

TEST_CASE("an adaptive pool starts at min_concurrency and grows to concurrency while jobs wait", "[pool][scaling]") {
  weft::test::watchdog wd("scaling up");
  weft::runtime rt({.workers = 2});
  weft::event gate;
  peak p;
  weft::job_pool<int> pool(rt,
                           {.name = "elastic",
                            .concurrency = 4,
                            .queue_capacity = 64,
                            .min_concurrency = 1,
                            .scale_up_after = 1ms,
                            .scale_down_after = std::chrono::milliseconds::max()},
                           [&](int) -> task<void> {
                             p.enter();
                             co_await gate.wait();
                             p.leave();
                           });
  CHECK(pool.stats().workers == 1);
  CHECK(workers_gauge(rt, "elastic") == 1);
  for (int i = 0; i < 6; ++i) REQUIRE(pool.try_submit(i) == weft::submit_status::accepted);
  // Every job waits at the gate, so the backlog stays: the pool grows to its ceiling, one
  // worker per job in flight, and no further.
  wait_until(pool, [](const weft::pool_stats& s) { return s.in_flight == 4; });
  auto s = pool.stats();
  CHECK(s.workers == 4);
  CHECK(s.queue_depth == 2);
  CHECK(workers_gauge(rt, "elastic") == 4);
  gate.set();
  rt.block_on(pool.stop(10s));
  s = pool.stats();
  CHECK(s.processed == 6);
  CHECK(p.most.load() == 4);
  CHECK(s.workers == 0);  // stop waited for every worker, the added ones too
}

TEST_CASE("idle workers retire down to min_concurrency, and the pool still works afterwards", "[pool][scaling]") {
  weft::test::watchdog wd("scaling down");
  weft::runtime rt({.workers = 2});
  weft::event gate;
  std::atomic<int> done{0};
  weft::job_pool<int> pool(
      rt, {.name = "shrinking", .concurrency = 3, .min_concurrency = 1, .scale_up_after = 0ms, .scale_down_after = 1ms},
      [&](int) -> task<void> {
        co_await gate.wait();
        done.fetch_add(1);
      });
  for (int i = 0; i < 3; ++i) REQUIRE(pool.try_submit(i) == weft::submit_status::accepted);
  wait_until(pool, [](const weft::pool_stats& s) { return s.in_flight == 3; });
  CHECK(pool.stats().workers == 3);
  gate.set();
  wait_until(pool, [](const weft::pool_stats& s) { return s.processed == 3 && s.workers == 1; });
  CHECK(workers_gauge(rt, "shrinking") == 1);
  // The last worker never retires: it still takes jobs.
  REQUIRE(pool.try_submit(9) == weft::submit_status::accepted);
  wait_until(pool, [](const weft::pool_stats& s) { return s.processed == 4; });
  CHECK(pool.stats().workers == 1);
  rt.block_on(pool.stop(10s));
  CHECK(done.load() == 4);
}

TEST_CASE("a worker that may not retire waits for a job, also with scale_down_after 0", "[pool][scaling][sim]") {
  weft::test::watchdog wd("idle at min_concurrency", 30s);
  weft::testing::sim rt{{.seed = 3, .workers = 1}};  // one thread: a worker that never waits holds it
  int done = 0;
  weft::job_pool<int> pool(rt, {.name = "floor", .concurrency = 2, .min_concurrency = 1, .scale_down_after = 0ms},
                           [&](int) -> task<void> {
                             ++done;
                             co_return;
                           });
  REQUIRE(pool.try_submit(1) == weft::submit_status::accepted);
  rt.advance(0ms);  // runs the job; then the one worker, at the minimum, waits for the next
  CHECK(done == 1);
  CHECK(pool.stats().workers == 1);
  REQUIRE(pool.try_submit(2) == weft::submit_status::accepted);
  rt.advance(0ms);
  CHECK(done == 2);
  rt.block_on(pool.stop(10s));
  CHECK(pool.stats().workers == 0);
}

TEST_CASE("a fixed pool (min_concurrency 0) runs concurrency workers from start to stop", "[pool][scaling]") {
  weft::runtime rt({.workers = 2});
  weft::job_pool<int> pool(rt, {.concurrency = 3, .scale_down_after = 0ms}, [](int) -> task<void> { co_return; });
  CHECK(pool.stats().workers == 3);
  for (int i = 0; i < 20; ++i) REQUIRE(pool.try_submit(i) == weft::submit_status::accepted);
  wait_until(pool, [](const weft::pool_stats& s) { return s.processed == 20; });
  CHECK(pool.stats().workers == 3);  // idle, but not adaptive: nobody retires
  rt.block_on(pool.stop(10s));
}

TEST_CASE("a scaled-up pool destroyed without stop ends every worker and frees everything",
          "[pool][scaling][lifecycle]") {
  weft::test::watchdog wd("scaled-up pool destroyed");
  weft::runtime rt({.workers = 2});
  weft::test::lifetime_counter c;
  {
    weft::job_pool<int> pool(rt, {.name = "scaled", .concurrency = 3, .min_concurrency = 1, .scale_up_after = 0ms},
                             [&c](int) -> task<void> {
                               weft::test::tracked t(c);
                               co_await weft::sleep_for(1h);
                             });
    for (int i = 0; i < 5; ++i) REQUIRE(pool.try_submit(i) == weft::submit_status::accepted);
    wait_until(pool, [](const weft::pool_stats& s) { return s.in_flight == 3; });
    CHECK(pool.stats().workers == 3);
  }
  // The workers (all three) and the scaler end; the last frees the state: series gone, the
  // name free again, every job's locals destroyed.
  while (rt.metrics().to_prometheus().find("pool=\"scaled\"") != std::string::npos) std::this_thread::yield();
  while (c.alive() != 0) std::this_thread::yield();
  weft::test::wait_pool_name_free(rt.metrics(), "scaled");
  weft::job_pool<int> again(rt, {.name = "scaled"}, [](int) -> task<void> { co_return; });
  rt.block_on(again.stop(1s));
}

TEST_CASE("a scaled-up pool outlives its runtime's shutdown with its books balanced", "[pool][scaling][lifecycle]") {
  weft::test::watchdog wd("scaled-up pool at shutdown");
  std::optional<weft::job_pool<int>> pool;
  {
    weft::runtime rt({.workers = 2, .shutdown_grace = 0ms});
    pool.emplace(rt, weft::pool_options{.concurrency = 3, .min_concurrency = 1, .scale_up_after = 0ms},
                 [](int) -> task<void> { co_await weft::sleep_for(1h); });
    for (int i = 0; i < 5; ++i) REQUIRE(pool->try_submit(i) == weft::submit_status::accepted);
    wait_until(*pool, [](const weft::pool_stats& s) { return s.in_flight == 3; });
  }
  auto s = pool->stats();
  CHECK(s.workers == 0);
  CHECK(s.in_flight == 0);
  CHECK(s.failed == 5);  // 3 destroyed mid-attempt, 2 never started: dead letters saying so
  CHECK(consistent(s));
  CHECK(pool->try_submit(9) == weft::submit_status::stopping);
  pool.reset();
}

TEST_CASE("stops racing the scaler and retiring workers leave no worker behind and the books balanced",
          "[pool][scaling][stress]") {
  weft::test::watchdog wd("scaling vs stop");
  weft::runtime rt({.workers = 2});
  for (int round = 0; round < 200; ++round) {
    std::optional<weft::job_pool<int>> pool;
    pool.emplace(rt,
                 weft::pool_options{.name = "churn",
                                    .concurrency = 4,
                                    .queue_capacity = 8,
                                    .min_concurrency = 1,
                                    .scale_up_after = 0ms,
                                    .scale_down_after = 0ms},
                 [](int i) -> task<void> {
                   if (i % 3 == 0) co_await weft::yield();
                 });
    for (int i = 0; i < round % 16; ++i) pool->try_submit(i);
    auto report = rt.block_on(pool->stop(round % 2 ? 0ms : 1s));
    auto s = pool->stats();
    INFO("round " << round);
    REQUIRE(s.workers == 0);
    REQUIRE(s.in_flight == 0);
    REQUIRE(consistent(s));
    REQUIRE(report.dead_lettered <= s.failed);  // what was still queued failed, as dead letters
    // A job cancelled at the timeout that reaches no cancellation point afterwards (i % 3 != 0
    // has none) still succeeds: it is in the report's `cancelled` and in `processed`.
    REQUIRE(report.cancelled + report.dead_lettered <= s.failed + s.processed);
    // The name is free once the pool's last task's frame is gone, which may be just after
    // stop() returns: the next round's pool of the same name waits for that.
    pool.reset();
    weft::test::wait_pool_name_free(rt.metrics(), "churn");
  }
}
