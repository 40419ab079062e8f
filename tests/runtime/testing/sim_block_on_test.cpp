// weft::testing::sim, what its block_on waits for: its tasks, those spawned into it from
// outside, a wake from a thread it does not own, and nothing: a deadlock, reported.
#include <weft/testing/sim.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <utility>

#include <catch2/catch.hpp>

#include <weft/spawn.hpp>
#include <weft/sync/event.hpp>
#include <weft/time.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/suspended.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::testing::sim;

TEST_CASE("a task that can never finish is a deadlock: block_on says what each task waits for", "[sim]") {
  sim s{{.seed = 11}};
  weft::event never;
  weft::test::lifetime_counter locals;
  try {
    s.block_on([](weft::event& e, weft::test::lifetime_counter& c) -> task<void> {
      weft::test::tracked t(c);
      auto child = weft::spawn([](weft::event& e) -> task<void> { co_await e.wait(); }(e), {.name = "waits-for-event"});
      co_await child;
    }(never, locals));
    FAIL("no deadlock reported");
  } catch (const weft::testing::deadlock_error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find("deadlock") != std::string::npos);
    CHECK(what.find("waits-for-event") != std::string::npos);
    CHECK(what.find("seed 11") != std::string::npos);
  }
  CHECK(locals.alive() == 0);  // every task was cancelled and unwound
  // The sim goes on working.
  CHECK(s.block_on([]() -> task<int> { co_return 5; }()) == 5);
  // A sleep without end is no timer to jump to: waiting for it alone is a deadlock too.
  CHECK_THROWS_AS(s.block_on([]() -> task<void> { co_await weft::sleep_for(std::chrono::hours::max()); }()),
                  weft::testing::deadlock_error);
  CHECK(s.now() == s.start());
}

TEST_CASE("with wait_for_outside a sim waits for a thread it does not own to wake a task", "[sim]") {
  sim s{{.seed = 2, .wait_for_outside = true}};
  weft::event ev;
  std::thread outside([&] {
    weft::test::wait_suspended(s, 1);
    ev.set();  // a wake from outside: the sim's driving thread is waiting for it
  });
  s.block_on([](weft::event& ev) -> task<void> { co_await ev.wait(); }(ev));
  outside.join();
  CHECK(s.now() == s.start());
}

TEST_CASE("tasks spawned into a sim from outside run at its next block_on or advance", "[sim]") {
  sim s{{.seed = 8, .workers = 2}};
  int ran = 0;
  auto h = s.spawn([](int& ran) -> task<int> {
    ++ran;
    co_await weft::sleep_for(1s);
    co_return 9;
  }(ran));
  CHECK(ran == 0);
  CHECK(s.block_on(std::move(h)) == 9);
  CHECK(ran == 1);
  CHECK(s.now() - s.start() == 1s);
}
