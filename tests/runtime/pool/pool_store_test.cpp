// job_pool with a job_store (pool_hooks::store), against a store in memory that can hold its
// writes in flight or fail them: accepted means stored, success removes, failure dead-letters,
// stopped jobs stay pending for the next pool, and the store's write as an await point meeting
// cancellation, stop and destruction. (sqlite_store has its own tests: sqlite_store_test.cpp.)

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/metrics/registry.hpp>
#include <weft/pool/pool.hpp>
#include <weft/runtime.hpp>
#include <weft/sync/event.hpp>
#include <weft/time.hpp>

#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"
#include "memory_store.hpp"
#include "pool_support.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::test::consistent;
using store_t = weft::test::memory_store<int>;

namespace {

task<weft::submit_status> submit_one(weft::job_pool<int>& pool, int job) {
  auto submitting = pool.submit(job);
  co_return co_await std::move(submitting);
}

// Until the submitter's write sits in the store and the submitter waits for it (beside the
// pool's idle worker).
void wait_writing(weft::runtime& rt, store_t& store) {
  while (store.held() == 0) std::this_thread::yield();
  weft::test::wait_suspended(rt, 2);
}

std::vector<int> pending_jobs(store_t& store) {
  std::vector<int> out;
  for (auto& p : store.pending()) out.push_back(p.job);
  return out;
}

}  // namespace

TEST_CASE("a stored job is removed when it succeeds and dead-lettered in the store when it fails for good",
          "[pool][store]") {
  weft::runtime rt({.workers = 2});
  auto store = std::make_shared<store_t>();
  weft::job_pool<int> pool(rt, {.concurrency = 1},
                           [](int j) -> task<void> {
                             if (j % 2) throw std::invalid_argument("odd job " + std::to_string(j));
                             co_return;
                           },
                           {.store = store});
  for (int i = 0; i < 4; ++i) REQUIRE(pool.try_submit(i) == weft::submit_status::accepted);
  CHECK(store->adds() == 4);
  rt.block_on(pool.stop(10s));
  CHECK(store->pending().empty());
  CHECK(store->removes() == 2);
  auto dead = store->dead_letters();
  REQUIRE(dead.size() == 2);
  CHECK(dead[0].job == 1);
  CHECK(dead[0].error == "odd job 1");
  CHECK(dead[0].attempts == 1);
  CHECK(pool.stats().processed == 2);
}

TEST_CASE("jobs cut short by a stop stay pending in the store, and a new pool on it runs them", "[pool][store]") {
  weft::test::watchdog wd("store pending across pools");
  weft::runtime rt({.workers = 2});
  auto store = std::make_shared<store_t>();
  {
    weft::job_pool<int> pool(rt, {.name = "first", .concurrency = 1},
                             [](int) -> task<void> { co_await weft::sleep_for(1h); }, {.store = store});
    for (int i = 1; i <= 3; ++i) REQUIRE(pool.try_submit(i) == weft::submit_status::accepted);
    while (pool.stats().in_flight == 0) std::this_thread::yield();
    auto report = rt.block_on(pool.stop(0ms));
    CHECK(report.cancelled == 1);
    CHECK(report.dead_lettered == 2);
    CHECK(pool.stats().failed == 3);  // in this pool's books, dead letters...
  }
  CHECK(pending_jobs(*store) == std::vector<int>{1, 2, 3});  // ...but the store keeps them
  CHECK(store->dead_letters().empty());
  std::atomic<int> sum{0};
  weft::job_pool<int> next(rt, {.name = "second", .concurrency = 1},
                           [&](int j) -> task<void> {
                             sum.fetch_add(j);
                             co_return;
                           },
                           {.store = store});
  CHECK(next.stats().submitted == 3);  // queued at construction
  rt.block_on(next.stop(10s));
  CHECK(sum.load() == 6);
  CHECK(store->pending().empty());
}

TEST_CASE("a new pool queues every pending job of its store, past its queue capacity", "[pool][store]") {
  weft::test::watchdog wd("store recovery past capacity");
  weft::runtime rt({.workers = 2});
  auto store = std::make_shared<store_t>();
  for (int i = 0; i < 5; ++i) store->add(i, [](std::uint64_t, std::exception_ptr) {});
  weft::event gate;
  weft::job_pool<int> pool(rt, {.concurrency = 1, .queue_capacity = 2},
                           [&](int) -> task<void> { co_await gate.wait(); }, {.store = store});
  auto s = pool.stats();
  CHECK(s.submitted == 5);
  CHECK(s.queue_depth + s.in_flight == 5);
  CHECK(pool.try_submit(9) == weft::submit_status::queue_full);  // the recovered jobs hold every slot
  gate.set();
  rt.block_on(pool.stop(10s));
  CHECK(pool.stats().processed == 5);
  CHECK(store->pending().empty());
}

TEST_CASE("a store that fails a write rejects the job and gives its slot and bytes back", "[pool][store]") {
  weft::runtime rt({.workers = 2});
  auto store = std::make_shared<store_t>();
  weft::job_pool<int> pool(rt, {.concurrency = 1, .queue_capacity = 1, .max_queued_bytes = 10},
                           [](int) -> task<void> { co_return; },
                           {.size_of = [](const int&) -> std::size_t { return 10; }, .store = store});
  store->fail(true);
  CHECK_THROWS_WITH(pool.try_submit(1), "memory_store: disk full");
  CHECK_THROWS_WITH(rt.block_on(submit_one(pool, 2)), "memory_store: disk full");
  auto s = pool.stats();
  CHECK(s.dropped == 2);
  CHECK(s.submitted == 0);
  CHECK(s.queued_bytes == 0);
  store->fail(false);
  // The one slot and the whole budget are free again.
  CHECK(pool.try_submit(3) == weft::submit_status::accepted);
  rt.block_on(pool.stop(10s));
  CHECK(pool.stats().processed == 1);
}

TEST_CASE("submit waits for the store's write and is accepted only once it completes", "[pool][store]") {
  weft::test::watchdog wd("store write wait");
  weft::runtime rt({.workers = 2});
  auto store = std::make_shared<store_t>();
  weft::job_pool<int> pool(rt, {.concurrency = 1}, [](int) -> task<void> { co_return; }, {.store = store});
  store->hold();
  auto waiting = rt.spawn(submit_one(pool, 7));
  wait_writing(rt, *store);
  CHECK(store->held() == 1);
  CHECK_FALSE(waiting.done());
  CHECK(pool.stats().submitted == 0);  // not accepted before it is stored
  store->release_held();
  CHECK(rt.block_on(std::move(waiting)) == weft::submit_status::accepted);
  rt.block_on(pool.stop(10s));
  CHECK(pool.stats().processed == 1);
  CHECK(store->pending().empty());
}

TEST_CASE("a submitter cancelled during the store's write gets cancelled_error, and the stored job still runs",
          "[pool][store][cancel]") {
  weft::test::watchdog wd("store write cancelled");
  weft::runtime rt({.workers = 2});
  auto store = std::make_shared<store_t>();
  std::atomic<int> ran{0};
  weft::job_pool<int> pool(rt, {.concurrency = 1},
                           [&](int) -> task<void> {
                             ran.fetch_add(1);
                             co_return;
                           },
                           {.store = store});
  store->hold();
  auto waiting = rt.spawn(submit_one(pool, 7));
  wait_writing(rt, *store);
  waiting.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(waiting)), weft::cancelled_error);
  store->release_held();  // the write completes after all: the job is queued and runs
  while (pool.stats().processed == 0) std::this_thread::yield();
  CHECK(ran.load() == 1);
  rt.block_on(pool.stop(10s));
  CHECK(store->pending().empty());
}

TEST_CASE("a stop during a store's write tells the submitter stopping, and the job is forgotten when the write lands",
          "[pool][store][lifecycle]") {
  weft::test::watchdog wd("store write vs stop");
  weft::runtime rt({.workers = 2});
  auto store = std::make_shared<store_t>();
  weft::job_pool<int> pool(rt, {.concurrency = 1}, [](int) -> task<void> { co_return; }, {.store = store});
  store->hold();
  auto waiting = rt.spawn(submit_one(pool, 7));
  wait_writing(rt, *store);
  rt.block_on(pool.stop(10s));
  CHECK(rt.block_on(std::move(waiting)) == weft::submit_status::stopping);
  CHECK(store->pending().size() == 1);  // the write is still in flight...
  store->release_held();
  CHECK(store->pending().empty());  // ...and once it lands, the refused job is removed
  auto s = pool.stats();
  CHECK(s.submitted == 0);
  CHECK(s.dropped == 1);
  CHECK(consistent(s));
}

TEST_CASE("a pool destroyed during a store's write frees everything; the write landing later forgets the job",
          "[pool][store][lifecycle]") {
  weft::test::watchdog wd("store write vs ~job_pool");
  weft::runtime rt({.workers = 2});
  auto store = std::make_shared<store_t>();
  std::optional<weft::job_pool<int>> pool;
  pool.emplace(
      rt, weft::pool_options{.name = "gone", .concurrency = 1}, [](int) -> task<void> { co_return; },
      weft::pool_hooks<int>{.store = store});
  store->hold();
  auto waiting = rt.spawn(submit_one(*pool, 7));
  wait_writing(rt, *store);
  pool.reset();
  CHECK(rt.block_on(std::move(waiting)) == weft::submit_status::stopping);
  // Nothing holds the pool's state any more: its series leave the registry...
  while (rt.metrics().to_prometheus().find("pool=\"gone\"") != std::string::npos) std::this_thread::yield();
  store->release_held();  // ...and the completion, finding the pool gone, forgets the job
  CHECK(store->pending().empty());
  CHECK(store->removes() == 1);
}

TEST_CASE("a submitter destroyed by shutdown during a store's write leaves the books balanced",
          "[pool][store][lifecycle]") {
  weft::test::watchdog wd("store write vs shutdown");
  auto store = std::make_shared<store_t>();
  std::optional<weft::job_pool<int>> pool;
  {
    weft::runtime rt({.workers = 2, .shutdown_grace = 0ms});
    pool.emplace(
        rt, weft::pool_options{.concurrency = 1}, [](int) -> task<void> { co_return; },
        weft::pool_hooks<int>{.store = store});
    store->hold();
    auto waiting = rt.spawn(submit_one(*pool, 7));
    wait_writing(rt, *store);
  }  // the submitter's frame is destroyed where it waits
  store->release_held();
  auto s = pool->stats();
  CHECK(s.submitted == 0);
  CHECK(s.dropped == 1);
  CHECK(consistent(s));
  CHECK(store->pending().empty());
  CHECK(pool->try_submit(8) == weft::submit_status::stopping);
  pool.reset();
}

TEST_CASE("pool_hooks and a plain type_of function both name the job's type", "[pool][store]") {
  weft::runtime rt({.workers = 1});
  auto fail_reports = [](int j) -> task<void> {
    if (j < 0) throw std::runtime_error("report service down");
    co_return;
  };
  auto type_of = [](const int& j) { return std::string(j < 0 ? "report" : "email"); };
  weft::pool_options opts{.concurrency = 1, .breaker = {.enabled = true, .failure_threshold = 1, .reset_timeout = 1h}};
  weft::job_pool<int> plain(rt, opts, fail_reports, type_of);
  opts.name = "hooked";
  weft::job_pool<int> hooked(rt, opts, fail_reports, {.type_of = type_of});
  for (auto* p : {&plain, &hooked}) {
    REQUIRE(p->try_submit(-1) == weft::submit_status::accepted);
    while (p->stats().failed == 0) std::this_thread::yield();
    CHECK(p->try_submit(-2) == weft::submit_status::circuit_open);
    CHECK(p->try_submit(1) == weft::submit_status::accepted);
    CHECK(p->stats().circuits_open == 1);
    rt.block_on(p->stop(10s));
  }
  CHECK(rt.metrics().snapshot().gauge_value("weft_pool_circuits_open", {{"pool", "hooked"}}) == 1);
}
