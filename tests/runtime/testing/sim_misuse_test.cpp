// weft::testing::sim, what it refuses: block_on from its own tasks, between a sim and a runtime,
// of each other's tasks, a co_await of a sim's task from another runtime's task (and those
// refusals racing shutdown); a sim's task joining a runtime's task, which works.
#include <weft/testing/sim.hpp>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include <catch2/catch.hpp>

#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/event.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/outcome.hpp"
#include "../../support/race.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::test::outcome;
using weft::testing::sim;

TEST_CASE("a sim refuses what would deadlock or make no sense", "[sim]") {
  CHECK_THROWS_AS(sim({.workers = 0}), std::invalid_argument);
  sim s{{.seed = 1}};
  CHECK_THROWS_AS(s.block_on([](sim& s) -> task<void> {
    s.block_on([]() -> task<void> { co_return; }());  // from its own task
    co_return;
  }(s)),
                  weft::usage_error);
  CHECK_THROWS_AS(s.run(), weft::usage_error);
  s.shutdown();
  CHECK_THROWS_AS(s.advance(1s), weft::runtime_stopped);
  CHECK_THROWS_AS(s.block_on([]() -> task<void> { co_return; }()), weft::runtime_stopped);
}

TEST_CASE("block_on between a sim and a runtime from each other's tasks throws usage_error", "[sim][misuse]") {
  // A sim's task runs on the thread driving it, bound to one of its logical workers: blocking
  // there stops the whole sim. A task of a runtime blocking in a sim's block_on holds that
  // runtime's worker for as long as the sim runs.
  sim s{{.seed = 3}};
  weft::runtime rt({.workers = 1});
  auto try_block_on = [](weft::runtime& target) -> task<bool> {
    try {
      (void)target.block_on([]() -> task<int> { co_return 1; }());
    } catch (const weft::usage_error&) {
      co_return true;
    }
    co_return false;
  };
  CHECK(s.block_on(try_block_on(rt)));
  CHECK(rt.block_on(try_block_on(s)));
  CHECK(s.block_on([]() -> task<int> { co_return 2; }()) == 2);  // the sim still works
}

namespace {

task<int> seven_after(weft::event& go) {
  co_await go.wait();
  co_return 7;
}

struct race_tally {
  int refused = 0, stopped = 0, wrong = 0, leaked_rounds = 0;
};

// Who refuses to join the other one's task: a sim's block_on (of a runtime's task), a runtime's
// block_on (of a sim's task), or a runtime's task that co_awaits a sim's task.
enum class refuser { sim_block_on, runtime_block_on, runtime_task };

// Awaits `h` in a task and says how that went: "joined", or the usage_error's message.
task<std::string> join_and_tell(weft::join_handle<int>& h) {
  try {
    (void)co_await std::move(h);
    co_return "joined";
  } catch (const weft::usage_error& e) {
    co_return e.what();
  }
}

// 200 rounds of a join (`how`) of the handle of the other one's task, which waits (its frame
// counted), from a plain thread while the caller (odd rounds) or the task's runtime shuts down on
// another: usage_error, or runtime_stopped if the caller stopped first; anything else is wrong.
race_tally refusals_racing_shutdown(refuser how) {
  const bool sim_calls = how == refuser::sim_block_on;
  race_tally tally;
  for (int round = 0; round < 200; ++round) {
    weft::test::lifetime_counter c;
    {
      weft::event go;
      sim s{{.seed = static_cast<std::uint64_t>(round)}};
      weft::runtime rt({.workers = 1, .shutdown_grace = 0ms});
      weft::runtime& caller = sim_calls ? static_cast<weft::runtime&>(s) : rt;
      weft::runtime& owner = sim_calls ? rt : static_cast<weft::runtime&>(s);
      weft::join_handle<int> h = owner.spawn([](weft::event& go, weft::test::tracked) -> task<int> {
        co_await go.wait();
        co_return 7;
      }(go, weft::test::tracked(c)));
      const bool end_caller = round % 2 != 0;
      weft::test::race([&] { (end_caller ? caller : owner).shutdown(); },
                       [&] {
                         const outcome o = weft::test::outcome_of([&] {
                           if (how != refuser::runtime_task) return caller.block_on(std::move(h));
                           // The task's usage_error comes out of the runtime's block_on.
                           return caller.block_on(
                               [](weft::join_handle<int>& h) -> task<int> { co_return co_await std::move(h); }(h));
                         });
                         tally.refused += o == outcome::refused;
                         tally.stopped += o == outcome::stopped;
                         tally.wrong += o != outcome::refused && !(o == outcome::stopped && end_caller);
                       });
    }
    tally.leaked_rounds += c.alive() != 0;
  }
  return tally;
}

}  // namespace

TEST_CASE("a sim refuses block_on of another runtime's task whether it finished or not", "[sim][misuse][join]") {
  // The sim would run its own workers until the task is done, but the task is not the sim's: it
  // ends in real time on the other runtime's worker, which does not wake the sim's driver. Refused
  // whatever the task's state, so that the outcome never depends on timing. The handle is
  // dropped: the task runs on, detached.
  sim s{{.seed = 5}};
  weft::runtime far({.workers = 1});
  weft::event go;
  weft::join_handle<int> h = far.spawn(seven_after(go));
  SECTION("finished") {
    go.set();
    while (!h.done()) std::this_thread::yield();
  }
  SECTION("still waiting") { weft::test::wait_suspended(far, 1); }
  const std::string what = weft::test::refusal([&] { return s.block_on(std::move(h)); });
  CHECK(what.find("another runtime") != std::string::npos);
  CHECK(what.find("co_await") != std::string::npos);  // says what to do instead
  go.set();
  CHECK(s.block_on(s.spawn(seven_after(go))) == 7);  // its own tasks' handles still work
  // What the message suggests: a task of the sim awaits it, and the sim waits for the other
  // runtime's wake (wait_for_outside).
  sim waiting{{.seed = 5, .wait_for_outside = true}};
  weft::event later;
  weft::join_handle<int> again = far.spawn(seven_after(later));
  weft::test::wait_suspended(far, 1);
  std::thread setter([&] {
    weft::test::wait_suspended(waiting, 1);
    later.set();
  });
  CHECK(waiting.block_on([](weft::join_handle<int> h) -> task<int> { co_return co_await h; }(std::move(again))) == 7);
  setter.join();
}

TEST_CASE("a sim refusing block_on of another runtime's task races that runtime's shutdown and its own",
          "[sim][misuse][lifecycle][race]") {
  // The refusal drops the handle (detaching the task) while the task's runtime ends it, or while
  // the sim shuts down (then block_on may throw runtime_stopped first). No other outcome, every
  // frame destroyed once (LeakSanitizer: no record or core left).
  const race_tally r = refusals_racing_shutdown(refuser::sim_block_on);
  CHECK(r.wrong == 0);
  CHECK(r.leaked_rounds == 0);
}

TEST_CASE("a runtime with threads refuses block_on of a sim's task whether it finished or not", "[sim][misuse][join]") {
  // Nothing but the sim's own block_on or advance runs its tasks: a plain thread blocked in
  // another runtime's block_on would wait for a task nobody drives. Refused whatever the
  // task's state (one rule, not one that depends on whether the sim ran meanwhile); the handle
  // is dropped and the task stays the sim's, detached.
  weft::event go;
  sim s{{.seed = 17}};
  weft::runtime rt({.workers = 1});
  weft::join_handle<int> h = s.spawn(seven_after(go));
  SECTION("finished") {
    go.set();
    s.advance(0s);  // the sim runs it to its end
    CHECK(h.done());
  }
  SECTION("never run") { CHECK_FALSE(h.done()); }
  const std::string what = weft::test::refusal([&] { return rt.block_on(std::move(h)); });
  CHECK(what.find("weft::testing::sim") != std::string::npos);
  CHECK(what.find("block_on of the sim") != std::string::npos);  // says what works instead
  // What the message suggests: the sim's own block_on of its task's handle.
  go.set();
  auto again = s.spawn(seven_after(go));
  const int v = s.block_on(std::move(again));
  CHECK(v == 7);
  const int own = rt.block_on(rt.spawn([]() -> task<int> { co_return 8; }()));
  CHECK(own == 8);  // the runtime still joins its own tasks
}

TEST_CASE("a runtime refusing block_on of a sim's task races the runtime's shutdown and the sim's",
          "[sim][misuse][lifecycle][race]") {
  // From a plain thread, while the runtime (odd rounds) or the sim shuts down on another: the
  // call throws usage_error, or runtime_stopped if the runtime stopped first; never anything
  // else, never a hang, and every frame is destroyed once (the sim ends its task).
  const race_tally r = refusals_racing_shutdown(refuser::runtime_block_on);
  INFO(r.refused << " refused, " << r.stopped << " stopped");
  CHECK(r.wrong == 0);
  CHECK(r.refused + r.stopped == 200);
  CHECK(r.leaked_rounds == 0);
}

TEST_CASE("a task of a runtime with threads, or of another sim, refuses to co_await a sim's task finished or not",
          "[sim][misuse][join]") {
  // As with block_on: nothing but the sim's own block_on or advance runs its tasks, so a task of
  // another runtime would wait for a task nobody drives (before: the unfinished case hung).
  // Refused whatever the task's state; the handle stays with its owner, and the sim's block_on
  // still joins it.
  weft::test::watchdog wd("co_await of a sim's task from another runtime", 30s);
  sim s{{.seed = 23}};
  weft::runtime rt({.workers = 1});
  sim other{{.seed = 24}};
  weft::event go;
  weft::join_handle<int> h = s.spawn(seven_after(go));
  bool finished = false;
  bool from_sim = false;
  SECTION("finished, from a runtime with threads") { finished = true; }
  SECTION("never run, from a runtime with threads") {}
  SECTION("finished, from another sim") { finished = from_sim = true; }
  SECTION("never run, from another sim") { from_sim = true; }
  if (finished) {
    go.set();
    s.advance(0s);  // the sim runs it to its end
  }
  const bool done_before = h.done();
  CHECK(done_before == finished);
  const std::string what = from_sim ? other.block_on(join_and_tell(h)) : rt.block_on(join_and_tell(h));
  INFO(what);
  CHECK(what.find("weft::testing::sim") != std::string::npos);
  CHECK(what.find("block_on of the sim") != std::string::npos);  // says what works instead
  // The handle is still ours: the sim's own block_on joins it.
  go.set();
  const int v = s.block_on(std::move(h));
  CHECK(v == 7);
  const int own = rt.block_on(rt.spawn([]() -> task<int> { co_return 8; }()));
  CHECK(own == 8);  // the runtime still joins its own tasks
}

TEST_CASE("a sim's task joins a task of a runtime with threads: awaited with wait_for_outside, a deadlock without",
          "[sim][join]") {
  // The other way round does not hang: the task ends on its runtime's threads and wakes the sim
  // from outside. A sim that may wait for outside wakes gets the value; one that may not, with
  // nothing else to run, reports a deadlock (the joiner is cancelled) and returns.
  weft::test::watchdog wd("a sim joining a runtime's task", 30s);
  weft::event go;
  weft::runtime rt({.workers = 1});
  weft::join_handle<int> h = rt.spawn(seven_after(go));
  auto join = [](weft::join_handle<int>& h) -> task<int> { co_return co_await std::move(h); };
  SECTION("wait_for_outside: the sim waits for the other runtime's task") {
    sim s{{.seed = 25, .wait_for_outside = true}};
    std::thread setter([&] {
      weft::test::wait_suspended(rt, 1);  // (the task waits for `go` either way)
      go.set();
    });
    const int v = s.block_on(join(h));
    setter.join();
    CHECK(v == 7);
  }
  SECTION("without: a deadlock reported, nothing left waiting") {
    sim s{{.seed = 26}};
    bool deadlock = false;
    try {
      (void)s.block_on(join(h));
    } catch (const weft::testing::deadlock_error&) {
      deadlock = true;
    }
    CHECK(deadlock);
    go.set();  // the other runtime's task ends on its own; its handle was dropped
  }
}

TEST_CASE("a task refusing to co_await a sim's task races the runtime's shutdown and the sim's",
          "[sim][misuse][lifecycle][race]") {
  // As the block_on above, from a task of the runtime with threads.
  weft::test::watchdog wd("a refused co_await racing shutdown", 120s);
  const race_tally r = refusals_racing_shutdown(refuser::runtime_task);
  INFO(r.refused << " refused, " << r.stopped << " stopped");
  CHECK(r.wrong == 0);
  CHECK(r.refused + r.stopped == 200);
  CHECK(r.leaked_rounds == 0);
}
