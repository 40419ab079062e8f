// job_pool's memory budget (pool_options::max_queued_bytes, pool_hooks::size_of): shedding with
// memory_limit, submit waiting for bytes (in turn, and without being overtaken), and the wait
// meeting stop, cancellation and destruction.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
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
#include "pool_support.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::test::consistent;

namespace {

struct blob {
  int id = 0;
  std::size_t bytes = 0;
};

weft::pool_hooks<blob> sized() {
  return {.size_of = [](const blob& b) { return b.bytes; }};
}

void wait_in_flight(weft::job_pool<blob>& pool, std::size_t n) {
  while (pool.stats().in_flight < n) std::this_thread::yield();
}

task<weft::submit_status> submit_one(weft::job_pool<blob>& pool, blob b) {
  auto submitting = pool.submit(b);  // (a named task: g++ 12 and temporaries in co_await)
  co_return co_await std::move(submitting);
}

}  // namespace

TEST_CASE("a job that would take the queued bytes past the budget is shed with memory_limit", "[pool][budget]") {
  weft::test::watchdog wd("budget shedding");
  weft::runtime rt({.workers = 2});
  weft::event gate;
  weft::job_pool<blob> pool(
      rt, {.concurrency = 1, .queue_capacity = 16, .max_queued_bytes = 100},
      [&](blob) -> task<void> { co_await gate.wait(); }, sized());
  REQUIRE(pool.try_submit({1, 70}) == weft::submit_status::accepted);
  wait_in_flight(pool, 1);
  CHECK(pool.stats().queued_bytes == 0);  // in flight: no longer counted
  CHECK(pool.try_submit({2, 60}) == weft::submit_status::accepted);
  CHECK(pool.stats().queued_bytes == 60);
  CHECK(pool.try_submit({3, 41}) == weft::submit_status::memory_limit);
  CHECK(pool.try_submit({4, 40}) == weft::submit_status::accepted);  // exactly the budget
  CHECK(pool.try_submit({5, 1}) == weft::submit_status::memory_limit);
  // Larger than the whole budget: shed at once, by submit too (it could never fit).
  CHECK(rt.block_on(submit_one(pool, {6, 101})) == weft::submit_status::memory_limit);
  CHECK(weft::to_string(weft::submit_status::memory_limit) ==
        "rejected: the queued jobs would exceed the pool's memory budget");
  auto s = pool.stats();
  CHECK(s.queued_bytes == 100);
  CHECK(s.dropped == 3);
  CHECK(consistent(s));
  auto snap = rt.metrics().snapshot();
  CHECK(snap.gauge_value("weft_pool_queued_bytes", {{"pool", "pool"}}) == 100);
  auto h = pool.health();
  CHECK_FALSE(h.healthy);
  bool mentions = false;
  for (auto& r : h.reasons) mentions |= r.find("memory budget 100% used") != std::string::npos;
  CHECK(mentions);
  gate.set();
  rt.block_on(pool.stop(10s));
  s = pool.stats();
  CHECK(s.processed == 3);
  CHECK(s.queued_bytes == 0);
}

TEST_CASE("submit waits for room in the memory budget and queues its job once bytes are freed", "[pool][budget]") {
  weft::test::watchdog wd("budget wait");
  weft::runtime rt({.workers = 2});
  weft::event gate;
  std::atomic<int> ran{0};
  weft::job_pool<blob> pool(
      rt, {.concurrency = 1, .queue_capacity = 16, .max_queued_bytes = 100},
      [&](blob) -> task<void> {
        co_await gate.wait();
        ran.fetch_add(1);
      },
      sized());
  REQUIRE(pool.try_submit({1, 10}) == weft::submit_status::accepted);
  wait_in_flight(pool, 1);
  REQUIRE(pool.try_submit({2, 80}) == weft::submit_status::accepted);
  auto waiting = rt.spawn(submit_one(pool, {3, 50}));
  weft::test::wait_suspended(rt, 2);  // the job at the gate, the submitter waiting for bytes
  CHECK_FALSE(waiting.done());
  // It waits in line: a job that would fit does not overtake it.
  CHECK(pool.try_submit({4, 10}) == weft::submit_status::memory_limit);
  auto s = pool.stats();
  CHECK(s.queued_bytes == 80);
  CHECK(s.submitted == 2);
  gate.set();  // job 1 ends, the worker takes job 2 (80 bytes freed), job 3 goes in
  CHECK(rt.block_on(std::move(waiting)) == weft::submit_status::accepted);
  rt.block_on(pool.stop(10s));
  CHECK(ran.load() == 3);
  CHECK(pool.stats().dropped == 1);
}

TEST_CASE("submitters waiting for bytes go in the order they came", "[pool][budget]") {
  weft::test::watchdog wd("budget order");
  weft::runtime rt({.workers = 2});
  weft::event gate;
  std::vector<int> order;
  std::mutex order_mu;
  weft::job_pool<blob> pool(
      rt, {.concurrency = 1, .queue_capacity = 16, .max_queued_bytes = 100},
      [&](blob b) -> task<void> {
        co_await gate.wait();
        std::lock_guard lock(order_mu);
        order.push_back(b.id);
      },
      sized());
  REQUIRE(pool.try_submit({1, 10}) == weft::submit_status::accepted);
  wait_in_flight(pool, 1);
  REQUIRE(pool.try_submit({2, 100}) == weft::submit_status::accepted);
  auto big = rt.spawn(submit_one(pool, {3, 90}));
  weft::test::wait_suspended(rt, 2);
  auto small = rt.spawn(submit_one(pool, {4, 5}));  // would fit beside job 3, but came later
  weft::test::wait_suspended(rt, 3);
  gate.set();
  CHECK(rt.block_on(std::move(big)) == weft::submit_status::accepted);
  CHECK(rt.block_on(std::move(small)) == weft::submit_status::accepted);
  rt.block_on(pool.stop(10s));
  CHECK(order == std::vector<int>{1, 2, 3, 4});
}

TEST_CASE("a stop lets submitters waiting for bytes go with stopping", "[pool][budget][lifecycle]") {
  weft::test::watchdog wd("budget stop");
  weft::runtime rt({.workers = 2});
  weft::job_pool<blob> pool(
      rt, {.concurrency = 1, .queue_capacity = 16, .max_queued_bytes = 10},
      [](blob) -> task<void> { co_await weft::sleep_for(1h); }, sized());
  REQUIRE(pool.try_submit({1, 10}) == weft::submit_status::accepted);
  wait_in_flight(pool, 1);
  REQUIRE(pool.try_submit({2, 10}) == weft::submit_status::accepted);
  auto turn = rt.spawn(submit_one(pool, {3, 5}));  // holds the turn, parked
  weft::test::wait_suspended(rt, 2);
  auto queued = rt.spawn(submit_one(pool, {4, 5}));  // waits for the turn
  weft::test::wait_suspended(rt, 3);
  auto report = rt.block_on(pool.stop(0ms));
  CHECK(rt.block_on(std::move(turn)) == weft::submit_status::stopping);
  CHECK(rt.block_on(std::move(queued)) == weft::submit_status::stopping);
  CHECK(report.cancelled == 1);
  CHECK(report.dead_lettered == 1);
  auto s = pool.stats();
  CHECK(s.dropped == 2);
  CHECK(s.queued_bytes == 0);
  CHECK(consistent(s));
}

TEST_CASE("a submitter cancelled while waiting for bytes leaves the budget and the line as they were",
          "[pool][budget][cancel]") {
  weft::test::watchdog wd("budget cancel");
  weft::runtime rt({.workers = 2});
  weft::event gate;
  weft::job_pool<blob> pool(
      rt, {.concurrency = 1, .queue_capacity = 16, .max_queued_bytes = 100},
      [&](blob) -> task<void> { co_await gate.wait(); }, sized());
  REQUIRE(pool.try_submit({1, 10}) == weft::submit_status::accepted);
  wait_in_flight(pool, 1);
  REQUIRE(pool.try_submit({2, 60}) == weft::submit_status::accepted);
  auto turn = rt.spawn(submit_one(pool, {3, 50}));  // parked, holding the turn
  weft::test::wait_suspended(rt, 2);
  auto behind = rt.spawn(submit_one(pool, {4, 50}));  // waiting for the turn
  weft::test::wait_suspended(rt, 3);
  turn.cancel();
  behind.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(turn)), weft::cancelled_error);
  CHECK_THROWS_AS(rt.block_on(std::move(behind)), weft::cancelled_error);
  // Nobody waits any more: a job that fits goes in (it would be shed if the leavers still
  // counted as waiting), and the turn is free for the next submitter that has to wait.
  CHECK(pool.try_submit({5, 40}) == weft::submit_status::accepted);
  auto next = rt.spawn(submit_one(pool, {6, 30}));
  weft::test::wait_suspended(rt, 2);
  gate.set();
  CHECK(rt.block_on(std::move(next)) == weft::submit_status::accepted);
  rt.block_on(pool.stop(10s));
  auto s = pool.stats();
  CHECK(s.processed == 4);
  CHECK(s.queued_bytes == 0);
  CHECK(consistent(s));
}

TEST_CASE("a pool destroyed while a submitter waits for bytes lets it go and frees everything",
          "[pool][budget][lifecycle]") {
  weft::test::watchdog wd("budget destroy");
  weft::runtime rt({.workers = 2});
  std::optional<weft::job_pool<blob>> pool;
  pool.emplace(
      rt, weft::pool_options{.name = "doomed", .concurrency = 1, .queue_capacity = 16, .max_queued_bytes = 10},
      [](blob) -> task<void> { co_await weft::sleep_for(1h); }, sized());
  REQUIRE(pool->try_submit({1, 10}) == weft::submit_status::accepted);
  wait_in_flight(*pool, 1);
  REQUIRE(pool->try_submit({2, 10}) == weft::submit_status::accepted);
  auto waiting = rt.spawn(submit_one(*pool, {3, 5}));
  weft::test::wait_suspended(rt, 2);
  pool.reset();
  CHECK(rt.block_on(std::move(waiting)) == weft::submit_status::stopping);
  weft::test::wait_pool_name_free(rt.metrics(), "doomed");  // (its state went with its last task)
  weft::job_pool<blob> again(
      rt, {.name = "doomed", .max_queued_bytes = 10}, [](blob) -> task<void> { co_return; }, sized());
  rt.block_on(again.stop(1s));
}
