// weft::testing::sim, its end: destruction and shutdown cancel the tasks left at their await
// and destroy every frame; a pool may outlive its sim.
#include <weft/testing/sim.hpp>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <utility>

#include <catch2/catch.hpp>

#include <weft/pool/pool.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/channel.hpp>
#include <weft/sync/event.hpp>
#include <weft/sync/mutex.hpp>
#include <weft/time.hpp>
#include <weft/timeout.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/suspended.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::testing::sim;

TEST_CASE("a sim destroyed with tasks asleep on timers cancels them and destroys every frame", "[sim][lifecycle]") {
  weft::test::lifetime_counter locals;
  std::atomic<int> saw_cancel{0};
  {
    sim s{{.seed = 13, .workers = 2}};
    for (int i = 0; i < 10; ++i)
      s.spawn([](weft::test::lifetime_counter& c, std::atomic<int>& saw) -> task<void> {
         weft::test::tracked t(c);
         try {
           co_await weft::with_timeout(2h, []() -> task<void> { co_await weft::sleep_for(1h); }());
         } catch (const weft::cancelled_error&) {
           saw.fetch_add(1);
           throw;
         }
       }(locals, saw_cancel))
          .detach();
    s.advance(1min);  // every one asleep now
    CHECK(locals.alive() == 10);
    CHECK(s.scheduler().pending_timers() == 20);  // a sleep and a deadline each
  }
  CHECK(locals.alive() == 0);
  CHECK(saw_cancel.load() == 10);  // unwound at their await by the shutdown's cancellation
}

TEST_CASE("shutdown of a sim while tasks wait cancels each at its await and destroys every frame", "[sim][lifecycle]") {
  weft::test::lifetime_counter locals;
  std::atomic<int> cancelled{0};
  sim s{{.seed = 14, .workers = 2}};
  weft::channel<int> ch(1);
  weft::async_mutex m;
  weft::event never;
  auto holder =
      s.block_on([](weft::async_mutex& m) -> task<weft::async_mutex::guard> { co_return co_await m.lock(); }(m));
  auto waiting = [&](auto wait) -> task<void> {
    weft::test::tracked t(locals);
    try {
      co_await wait();
    } catch (const weft::cancelled_error&) {
      cancelled.fetch_add(1);
      throw;
    }
  };
  s.spawn(waiting([&]() -> task<void> { co_await never.wait(); })).detach();
  s.spawn(waiting([&]() -> task<void> { co_await ch.recv(); })).detach();
  s.spawn(waiting([&]() -> task<void> { auto g = co_await m.lock(); })).detach();
  s.spawn(waiting([&]() -> task<void> { co_await weft::sleep_for(1h); })).detach();
  s.spawn(waiting([&]() -> task<void> {
     co_await weft::with_timeout(1min, [](weft::event& e) -> task<void> { co_await e.wait(); }(never));
   })).detach();
  auto joined = s.spawn(waiting([&]() -> task<void> { co_await weft::sleep_for(2h); }));
  s.advance(1s);
  CHECK(locals.alive() == 6);
  s.shutdown();
  CHECK(locals.alive() == 0);
  CHECK(cancelled.load() == 6);
  CHECK(s.now() - s.start() == 1s);  // shutdown never waits on a sleeping task
  CHECK_THROWS_AS(s.block_on(std::move(joined)), weft::runtime_stopped);
  holder.unlock();  // primitives outlive the runtime
}

TEST_CASE("a shutdown from another thread while a sim is driven ends the task its driver waits for",
          "[sim][lifecycle]") {
  sim s{{.seed = 15, .workers = 2, .wait_for_outside = true}};
  weft::event never;
  weft::test::lifetime_counter locals;
  std::thread stopper([&] {
    weft::test::wait_suspended(s, 1);  // the driver waits for a wake from outside now
    s.shutdown();
  });
  CHECK_THROWS_AS(s.block_on([](weft::event& e, weft::test::lifetime_counter& c) -> task<void> {
    weft::test::tracked t(c);
    co_await e.wait();
  }(never, locals)),
                  weft::runtime_stopped);
  stopper.join();
  CHECK(locals.alive() == 0);
}

TEST_CASE("a pool outliving its sim still answers, on the sim's clock as it was last", "[sim][pool][lifecycle]") {
  std::optional<weft::job_pool<int>> pool;
  {
    sim s{{.seed = 16}};
    pool.emplace(s, weft::pool_options{.name = "outlives", .concurrency = 1, .breaker = {.enabled = true}},
                 [](int) -> task<void> { co_await weft::sleep_for(1h); });
    CHECK(pool->try_submit(1) == weft::submit_status::accepted);
    s.advance(1min);
    CHECK(pool->stats().in_flight == 1);
  }
  auto st = pool->stats();  // reads the breakers against the clock: the sim's, frozen
  CHECK(st.in_flight == 0);
  CHECK(st.failed == 1);
  CHECK_FALSE(pool->health().healthy);
  CHECK(pool->try_submit(2) == weft::submit_status::stopping);
  pool.reset();
}
