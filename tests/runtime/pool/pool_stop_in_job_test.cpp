// stop() of a job_pool awaited in one of the pool's own jobs: in the job, in a task it joins, or
// through when_all, when_any, a task_group, a join_set, select, weft::fork or a fork_scope, it is
// a usage_error and the pool runs on (also while the runtime shuts down); a stop spawned and
// detached, the documented way, goes through. The rest of a pool's life: pool_lifecycle_test.cpp.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>

#include <catch2/catch.hpp>

#include <weft/errors.hpp>
#include <weft/fork.hpp>
#include <weft/fork_scope.hpp>
#include <weft/join_set.hpp>
#include <weft/pool/pool.hpp>
#include <weft/runtime.hpp>
#include <weft/select.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/event.hpp>
#include <weft/task_group.hpp>
#include <weft/this_task.hpp>
#include <weft/when_all.hpp>
#include <weft/when_any.hpp>
#include <weft/yield.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"

using namespace std::chrono_literals;
using weft::task;

namespace {

// What a job of the test below awaits: a stop of its own pool in a child task, joined in one of
// three ways.
task<weft::stop_report> join_stop_at_once(weft::job_pool<int>& pool) {
  auto child = weft::spawn(pool.stop(1h));  // at the bottom of the worker's deque: run inline
  co_return co_await std::move(child);
}

task<weft::stop_report> stop_after(weft::event& gate, weft::job_pool<int>& pool) {
  co_await gate.wait();
  auto stopping = pool.stop(1h);
  co_return co_await std::move(stopping);
}

task<weft::stop_report> join_stop_waiting(weft::event& gate, weft::job_pool<int>& pool) {
  auto child = weft::spawn(stop_after(gate, pool));
  co_await weft::yield();  // the child goes first, up to its gate: the join below waits for it
  co_return co_await std::move(child);
}

task<weft::stop_report> join_a_joiner_of_stop(weft::job_pool<int>& pool) {
  auto middle = weft::spawn(join_stop_at_once(pool));
  co_return co_await std::move(middle);
}

}  // namespace

TEST_CASE(
    "stop() awaited in one of the pool's own jobs, or in a task it joins, is a usage_error, not a wait for itself",
    "[pool][lifecycle][misuse]") {
  weft::test::watchdog wd("stop in the pool's own job", 30s);
  weft::runtime rt({.workers = 1});  // nothing is stolen: each section takes the path it names
  weft::event gate;
  int path = 0;
  SECTION("in the job itself") { path = 0; }
  SECTION("the job spawns the stop and joins it at once (the job runs it inline)") { path = 1; }
  SECTION("the job joins the stop's task while that task waits (the job waits in its join word)") { path = 2; }
  SECTION("the job joins a task that spawns the stop and joins it") { path = 3; }
  std::atomic<int> refused{0}, other{0};
  std::optional<weft::job_pool<int>> pool;
  pool.emplace(rt, weft::pool_options{.concurrency = 1}, [&](int j) -> task<void> {
    if (j != 1) co_return;
    try {
      auto stopping = path == 0   ? pool->stop(0ms)
                      : path == 1 ? join_stop_at_once(*pool)
                      : path == 2 ? join_stop_waiting(gate, *pool)
                                  : join_a_joiner_of_stop(*pool);
      (void)co_await std::move(stopping);
    } catch (const weft::usage_error&) {
      refused.fetch_add(1);
    } catch (...) {
      other.fetch_add(1);
    }
  });
  REQUIRE(pool->try_submit(1) == weft::submit_status::accepted);
  if (path == 2) {
    weft::test::wait_suspended(rt, 2);  // the child at its gate, the job (the pool's one worker) joining it
    gate.set();
  }
  while (pool->stats().processed + pool->stats().failed == 0) std::this_thread::yield();
  CHECK(refused.load() == 1);
  CHECK(other.load() == 0);
  CHECK(pool->stats().processed == 1);
  CHECK(pool->try_submit(2) == weft::submit_status::accepted);  // the pool was left running
  auto report = rt.block_on(pool->stop(10s));
  CHECK(report.cancelled == 0);
  CHECK(pool->stats().processed == 2);
}

TEST_CASE("a job that stops its pool the documented way (spawned, detached) sees the stop through",
          "[pool][lifecycle][detached_stop]") {
  weft::test::watchdog wd("detached stop", 30s);
  weft::event never;
  weft::runtime rt({.workers = 2});
  std::atomic<int> job_cancelled{0};
  std::optional<weft::job_pool<int>> pool;
  pool.emplace(rt, weft::pool_options{.concurrency = 2}, [&](int j) -> task<void> {
    if (j == 1) {
      co_await never.wait();  // held until the stop cancels it
    } else {
      weft::spawn(pool->stop(0ms)).detach();  // cancels what runs at once: this job too
      try {
        co_await never.wait();
      } catch (const weft::cancelled_error&) {
        job_cancelled.fetch_add(1);
        throw;
      }
    }
  });
  REQUIRE(pool->try_submit(1) == weft::submit_status::accepted);
  weft::test::wait_suspended(rt, 1);
  REQUIRE(pool->try_submit(2) == weft::submit_status::accepted);
  // The stop has begun once submissions are refused (a job accepted meanwhile would wait too).
  while (pool->try_submit(1) == weft::submit_status::accepted) std::this_thread::yield();
  auto report = rt.block_on(pool->stop(10s));  // waits for the first stop, returns its report
  INFO("drained " << report.drained << " cancelled " << report.cancelled << " dead " << report.dead_lettered);
  CHECK(job_cancelled.load() == 1);
  CHECK(report.cancelled == 2);  // the two jobs; any accepted by the loop above were queued: dead letters
  CHECK(pool->stats().in_flight == 0);
}

namespace {

// A child that awaits a stop of its own pool and reports how that went; it sets `done` either
// way (a sibling or the parent may wait for it).
task<void> stop_in_child(weft::job_pool<int>& pool, std::atomic<int>& refused, std::atomic<int>& other,
                         std::atomic<std::uint64_t>& stopper, weft::event* done = nullptr) {
  stopper.store(weft::this_task::id());
  try {
    (void)co_await pool.stop(0ms);
    other.fetch_add(1);
  } catch (const weft::usage_error&) {
    refused.fetch_add(1);
  } catch (...) {
    other.fetch_add(1);
  }
  if (done) done->set();
}

task<void> wait_for(weft::event& e) { co_await e.wait(); }

enum class via { when_all, when_any, task_group, join_set, select, fork, fork_scope };

// A job that awaits a stop of its pool in a child it waits for through `how`.
task<void> stop_through(via how, weft::job_pool<int>& pool, std::atomic<int>& refused, std::atomic<int>& other,
                        std::atomic<std::uint64_t>& stopper) {
  switch (how) {
    case via::when_all:
      co_await weft::when_all(stop_in_child(pool, refused, other, stopper));
      break;
    case via::when_any:
      co_await weft::when_any(stop_in_child(pool, refused, other, stopper));
      break;
    case via::task_group: {
      weft::task_group g;
      g.spawn(stop_in_child(pool, refused, other, stopper));
      co_await g.join();
      break;
    }
    case via::join_set: {
      weft::join_set<void> set;
      set.spawn(stop_in_child(pool, refused, other, stopper));
      co_await set.next();
      break;
    }
    case via::select: {
      weft::event never;
      auto s = weft::select(never.wait(), stop_in_child(pool, refused, other, stopper));
      co_await std::move(s);
      break;
    }
    case via::fork: {
      // The first child waits: the worker's loop then runs the second, left on its deque, as a
      // task of its own (a record whose parent is the job).
      weft::event done;
      co_await weft::fork(wait_for(done), stop_in_child(pool, refused, other, stopper, &done));
      break;
    }
    case via::fork_scope: {
      // The first child waits: the worker's loop then takes the job's continuation from its
      // deque and runs it under a continuation record, which makes the second fork.
      weft::event done;
      weft::fork_scope scope;
      co_await scope.fork(wait_for(done));
      co_await scope.fork(stop_in_child(pool, refused, other, stopper, &done));
      co_await scope.join();
      break;
    }
  }
}

}  // namespace

TEST_CASE(
    "stop() awaited through when_all, when_any, a task_group, a join_set, select, weft::fork or a fork_scope in "
    "one of the pool's own jobs is a usage_error, and the pool runs on",
    "[pool][lifecycle][misuse]") {
  weft::test::watchdog wd("stop through a combinator in the pool's own job", 30s);
  weft::runtime rt({.workers = 1});  // nothing is stolen: each section takes the path it names
  via how = via::when_all;
  SECTION("when_all") { how = via::when_all; }
  SECTION("when_any") { how = via::when_any; }
  SECTION("task_group") { how = via::task_group; }
  SECTION("join_set") { how = via::join_set; }
  SECTION("select (a task as a branch)") { how = via::select; }
  SECTION("weft::fork (a child with a record of its own)") { how = via::fork; }
  SECTION("fork_scope (a fork made under a continuation record)") { how = via::fork_scope; }
  std::atomic<int> refused{0}, other{0}, job_failed{0};
  std::atomic<std::uint64_t> job{0}, stopper{0};
  std::optional<weft::job_pool<int>> pool;
  pool.emplace(rt, weft::pool_options{.concurrency = 1}, [&](int j) -> task<void> {
    if (j != 1) co_return;
    job.store(weft::this_task::id());
    try {
      co_await stop_through(how, *pool, refused, other, stopper);
    } catch (...) {
      job_failed.fetch_add(1);
    }
  });
  REQUIRE(pool->try_submit(1) == weft::submit_status::accepted);
  while (pool->stats().processed + pool->stats().failed == 0) std::this_thread::yield();
  CHECK(refused.load() == 1);
  CHECK(other.load() == 0);
  CHECK(job_failed.load() == 0);
  CHECK(stopper.load() != job.load());  // the stop ran in a task of its own, not as part of the job
  CHECK(pool->stats().processed == 1);
  CHECK(pool->try_submit(2) == weft::submit_status::accepted);  // the pool was left running
  auto report = rt.block_on(pool->stop(10s));
  CHECK(report.cancelled == 0);
  CHECK(pool->stats().processed == 2);
}

namespace {

task<void> stop_detached_then_wait(weft::job_pool<int>& pool, weft::event& never, std::atomic<int>& cancelled) {
  weft::spawn(pool.stop(0ms)).detach();  // cancels what runs at once: this child's job too
  try {
    co_await never.wait();
  } catch (const weft::cancelled_error&) {
    cancelled.fetch_add(1);
    throw;
  }
}

}  // namespace

TEST_CASE("a child of a job's when_all that stops the pool the documented way (spawned, detached) sees it through",
          "[pool][lifecycle][detached_stop]") {
  weft::test::watchdog wd("detached stop from a when_all child", 30s);
  weft::event never;
  weft::runtime rt({.workers = 2});
  std::atomic<int> child_cancelled{0}, job_cancelled{0};
  std::optional<weft::job_pool<int>> pool;
  pool.emplace(rt, weft::pool_options{.concurrency = 1}, [&](int) -> task<void> {
    try {
      co_await weft::when_all(stop_detached_then_wait(*pool, never, child_cancelled), wait_for(never));
    } catch (const weft::cancelled_error&) {
      job_cancelled.fetch_add(1);
      throw;
    }
  });
  REQUIRE(pool->try_submit(1) == weft::submit_status::accepted);
  // The stop has begun once submissions are refused as stopping (those accepted meanwhile wait).
  while (pool->try_submit(2) != weft::submit_status::stopping) std::this_thread::yield();
  auto report = rt.block_on(pool->stop(10s));  // waits for the first stop, returns its report
  INFO("drained " << report.drained << " cancelled " << report.cancelled << " dead " << report.dead_lettered);
  CHECK(child_cancelled.load() == 1);
  CHECK(job_cancelled.load() == 1);
  CHECK(report.cancelled == 1);  // the job; any accepted by the loop above were queued: dead letters
  CHECK(pool->stats().in_flight == 0);
}

TEST_CASE("stop() refused through a combinator in one of the pool's own jobs races the runtime's shutdown",
          "[pool][lifecycle][misuse][race]") {
  // 210 rounds, each combinator in turn, on two workers, while another thread shuts the runtime
  // down at a different moment each round (every other round with no grace): a stop that is
  // reached is refused (the walk meets records only, alive until shutdown frees them), or the
  // shutdown ends the job first. Never a hang; every frame goes. A stop that goes on is one in a
  // child of a join_set that its job, cancelled in next() (a cancellation point), dropped: nobody
  // waits for that child any more, and the stop ends with the job's end.
  weft::test::watchdog wd("refused stops racing shutdown", 240s);
  constexpr via kinds[] = {via::when_all, via::when_any, via::task_group, via::join_set,
                           via::select,   via::fork,     via::fork_scope};
  int leaked_rounds = 0, refused_total = 0, other_total = 0, dropped_set_total = 0;
  for (int round = 0; round < 210; ++round) {
    weft::test::lifetime_counter c;
    std::atomic<int> refused{0}, other{0};
    std::atomic<std::uint64_t> stopper{0};
    {
      weft::runtime rt({.workers = 2, .shutdown_grace = std::chrono::milliseconds(round % 2)});
      std::optional<weft::job_pool<int>> pool;
      const via how = kinds[round % 7];
      auto job = [](via how, weft::job_pool<int>& pool, std::atomic<int>& refused, std::atomic<int>& other,
                    std::atomic<std::uint64_t>& stopper, int yields, weft::test::tracked) -> task<void> {
        for (int i = 0; i < yields; ++i) co_await weft::yield();  // the stop comes later in later rounds
        co_await stop_through(how, pool, refused, other, stopper);
      };
      pool.emplace(rt, weft::pool_options{.concurrency = 1}, [&](int) -> task<void> {
        return job(how, *pool, refused, other, stopper, round % 30, weft::test::tracked(c));
      });
      std::atomic<bool> started{false};
      std::thread ender([&] {
        while (!started.load()) std::this_thread::yield();
        for (int i = 0; i < round % 17; ++i) std::this_thread::yield();
        rt.shutdown();
      });
      started.store(true);
      (void)pool->try_submit(1);
      ender.join();
      pool.reset();  // after the runtime's end: the pool outlives it safely
    }
    leaked_rounds += c.alive() != 0;
    refused_total += refused.load();
    (kinds[round % 7] == via::join_set ? dropped_set_total : other_total) += other.load();
  }
  // The other rounds' jobs were ended by the shutdown first.
  INFO(refused_total << " refused, " << dropped_set_total << " went on in a dropped join_set");
  CHECK(other_total == 0);
  CHECK(leaked_rounds == 0);
}
