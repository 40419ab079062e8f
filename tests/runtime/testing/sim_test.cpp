#include <weft/testing/sim.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/blocking.hpp>
#include <weft/metrics/registry.hpp>
#include <weft/pool/pool.hpp>
#include <weft/sched/worker.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/channel.hpp>
#include <weft/sync/event.hpp>
#include <weft/sync/mutex.hpp>
#include <weft/time.hpp>
#include <weft/timeout.hpp>
#include <weft/yield.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/race.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::testing::sim;

namespace {

double metric(weft::runtime& rt, const char* name) {
  auto snap = rt.metrics().snapshot();
  if (auto* s = snap.find(name, {{"runtime", rt.name()}})) return s->value;
  return -1;
}

// The order in which `tasks` tasks, each taking `rounds` steps (a yield between steps), run
// their steps, with the logical worker of each step: a schedule, as the sim chose it.
std::vector<std::pair<int, std::size_t>> step_order(std::uint64_t seed, std::size_t workers, int tasks = 6,
                                                    int rounds = 5) {
  sim s{{.seed = seed, .workers = workers}};
  std::vector<std::pair<int, std::size_t>> order;  // one thread runs every task: no data race
  s.block_on([&]() -> task<void> {
    std::vector<weft::join_handle<void>> hs;
    for (int t = 0; t < tasks; ++t)
      hs.push_back(weft::spawn([](int t, int rounds, std::vector<std::pair<int, std::size_t>>& out) -> task<void> {
        for (int r = 0; r < rounds; ++r) {
          out.emplace_back(t, weft::sched::this_worker()->index());
          co_await weft::yield();
        }
      }(t, rounds, order)));
    for (auto& h : hs) co_await h;
  }());
  return order;
}

}  // namespace

TEST_CASE("a sleep in a sim returns at once and moves its virtual clock by exactly the duration", "[sim]") {
  sim s{{.seed = 42, .workers = 1}};
  const auto wall = std::chrono::steady_clock::now();
  s.block_on([]() -> task<void> { co_await weft::sleep_for(1h); }());
  REQUIRE(s.now() - s.start() == 1h);
  // Nothing to assert about wall time in a unit test, except that an hour did not pass.
  CHECK(std::chrono::steady_clock::now() - wall < 1h);
}

TEST_CASE("a one-hour virtual scenario runs every event at its virtual time", "[sim]") {
  // A producer ticks every 100 ms for an hour into a channel; a consumer reads each value with
  // a 5 s timeout; a reporter wakes every minute. 36,000 ticks, 60 reports, one hour.
  sim s{{.seed = 7, .workers = 2}};
  const auto start = s.start();
  struct counts {
    long ticks = 0, received = 0, late = 0, reports = 0, timeouts = 0;
  } c;
  s.block_on([&]() -> task<void> {
    weft::channel<long> ch(16);
    auto producer =
        weft::spawn([](weft::channel<long>& ch, counts& c, std::chrono::steady_clock::time_point start) -> task<void> {
          for (long i = 1; i <= 36'000; ++i) {
            co_await weft::sleep_until(start + i * 100ms);
            ++c.ticks;
            co_await ch.send(i);
          }
          ch.close();
        }(ch, c, start));
    auto consumer =
        weft::spawn([](weft::channel<long>& ch, counts& c, std::chrono::steady_clock::time_point start) -> task<void> {
          for (;;) {
            std::optional<long> v;
            try {
              v = co_await weft::with_timeout(
                  5s, [](weft::channel<long>& ch) -> task<std::optional<long>> { co_return co_await ch.recv(); }(ch));
            } catch (const weft::timeout_error&) {
              ++c.timeouts;
              continue;
            }
            if (!v) co_return;
            ++c.received;
            if (weft::now() != start + *v * 100ms) ++c.late;  // each value arrives at its tick
          }
        }(ch, c, start));
    auto reporter = weft::spawn([](counts& c) -> task<void> {
      for (int m = 0; m < 60; ++m) {
        co_await weft::sleep_for(1min);
        ++c.reports;
      }
    }(c));
    co_await producer;
    co_await consumer;
    co_await reporter;
  }());
  CHECK(s.now() - start == 1h);
  CHECK(c.ticks == 36'000);
  CHECK(c.received == 36'000);
  CHECK(c.late == 0);
  CHECK(c.reports == 60);
  CHECK(c.timeouts == 0);
}

TEST_CASE("with_timeout and with_deadline fire at their virtual deadline", "[sim][cancel]") {
  sim s{{.seed = 1}};
  const auto start = s.start();
  SECTION("a timeout that fires") {
    CHECK_THROWS_AS(s.block_on(weft::with_timeout(30s, []() -> task<void> { co_await weft::sleep_for(1h); }())),
                    weft::timeout_error);
    CHECK(s.now() - start == 30s);
  }
  SECTION("a deadline that fires") {
    CHECK_THROWS_AS(s.block_on([]() -> task<void> {
      co_await weft::with_deadline(weft::now() + 10s, []() -> task<void> { co_await weft::sleep_for(1min); }());
    }()),
                    weft::timeout_error);
    CHECK(s.now() - start == 10s);
  }
  SECTION("a task that finishes first keeps its value, and the deadline never fires") {
    int v = s.block_on(weft::with_timeout(30s, []() -> task<int> {
      co_await weft::sleep_for(29s);
      co_return 7;
    }()));
    CHECK(v == 7);
    CHECK(s.now() - start == 29s);
    // The deadline's timer is gone: nothing is left for the clock to jump to.
    CHECK(s.scheduler().pending_timers() == 0);
  }
  SECTION("a timeout given before the task reaches the sim counts on the sim's clock") {
    auto t = weft::with_timeout(2s, []() -> task<void> { co_await weft::sleep_for(3s); }());
    s.advance(1min);  // made a minute (virtual) before it runs: still 2 s from its start
    CHECK_THROWS_AS(s.block_on(std::move(t)), weft::timeout_error);
    CHECK(s.now() - start == 1min + 2s);
  }
}

TEST_CASE("timers in a sim fire in deadline order, on the wheel's millisecond ticks", "[sim]") {
  sim s{{.seed = 3, .workers = 3}};
  std::vector<int> order;
  std::vector<std::chrono::nanoseconds> at;
  s.block_on([&]() -> task<void> {
    std::vector<weft::join_handle<void>> hs;
    for (int d : {50, 10, 40, 20, 30})
      hs.push_back(weft::spawn([](int d, std::vector<int>& order, std::vector<std::chrono::nanoseconds>& at,
                                  std::chrono::steady_clock::time_point start) -> task<void> {
        co_await weft::sleep_for(std::chrono::milliseconds(d));
        order.push_back(d);
        at.push_back(weft::now() - start);
      }(d, order, at, weft::now())));
    for (auto& h : hs) co_await h;
  }());
  CHECK(order == std::vector<int>{10, 20, 30, 40, 50});
  CHECK(at == std::vector<std::chrono::nanoseconds>{10ms, 20ms, 30ms, 40ms, 50ms});
  s.block_on([]() -> task<void> { co_await weft::sleep_for(1500us); }());
  CHECK(s.now() - s.start() == 52ms);  // 50 ms, then 1.5 ms rounded up to the next tick
}

TEST_CASE("advance runs a sim for a span of virtual time, firing each timer at its deadline", "[sim]") {
  sim s{{.seed = 5}};
  std::vector<std::chrono::nanoseconds> ticks;
  bool slow_done = false;
  auto ticker = s.spawn([](std::vector<std::chrono::nanoseconds>& ticks) -> task<void> {
    const auto start = weft::now();
    for (;;) {
      co_await weft::sleep_for(10ms);
      ticks.push_back(weft::now() - start);
    }
  }(ticks));
  s.spawn([](bool& done) -> task<void> {
     co_await weft::sleep_for(1500ms);
     done = true;
   }(slow_done))
      .detach();
  CHECK(ticks.empty());  // nothing runs between calls into the sim
  s.advance(1s);
  CHECK(s.now() - s.start() == 1s);
  REQUIRE(ticks.size() == 100);
  CHECK(ticks.front() == 10ms);
  CHECK(ticks.back() == 1s);
  CHECK_FALSE(slow_done);
  s.advance(500ms);
  CHECK(slow_done);
  CHECK(ticks.size() == 150);
  s.advance(0ms);  // runs what is runnable, moves nothing
  CHECK(s.now() - s.start() == 1500ms);
  ticker.cancel();
  CHECK_THROWS_AS(s.block_on(std::move(ticker)), weft::cancelled_error);
  CHECK(s.now() - s.start() == 1500ms);  // a cancellation wakes at once, in virtual time too
  CHECK_THROWS_AS(s.advance(-1ms), std::invalid_argument);
}

TEST_CASE("advance inside a task stretches its dispatch: the stall detector sees it, timers fire after",
          "[sim][stall]") {
  std::vector<weft::stall_report> reports;
  sim s{
      {.seed = 9,
       .runtime = {.stall = {.threshold = 100ms, .replace_after = 500ms, .on_stall = [&](const weft::stall_report& r) {
                               reports.push_back(r);
                             }}}}};
  std::vector<std::string> events;
  std::size_t zombies_during = 0;
  s.block_on([&]() -> task<void> {
    auto sleeper = weft::spawn([](std::vector<std::string>& ev) -> task<void> {
      co_await weft::sleep_for(50ms);
      ev.push_back("sleeper woke at " + std::to_string((weft::now().time_since_epoch() / 1ms)));
    }(events));
    while (s.scheduler().pending_timers() == 0) co_await weft::yield();  // until it sleeps
    auto busy = weft::spawn(
        [](sim& s, std::vector<std::string>& ev, std::size_t& zombies) -> task<void> {
          ev.push_back("busy starts");
          s.advance(600ms);  // "CPU work" of 600 ms: past the threshold and replace_after
          zombies = s.zombie_workers();
          ev.push_back("busy ends");
          co_return;
        }(s, events, zombies_during),
        {.name = "busy"});
    co_await sleeper;
    co_await busy;
  }());
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].task_name == "busy");
  CHECK(reports[0].duration >= 100ms);
  CHECK(reports[0].backtrace.empty());  // the "stuck" thread is the one driving the sim
  CHECK(s.stalls_detected() == 1);
  CHECK(zombies_during == 1);
  CHECK(s.zombie_workers() == 0);  // its dispatch ended
  // The sleeper's timer came due during the busy dispatch: it ran after it, at 600 ms.
  REQUIRE(events.size() == 3);
  CHECK(events[0] == "busy starts");
  CHECK(events[1] == "busy ends");
  CHECK(events[2] == "sleeper woke at " + std::to_string(((s.start() + 600ms).time_since_epoch() / 1ms)));
  CHECK(s.now() - s.start() == 600ms);
}

TEST_CASE("the same seed replays the same order of task steps, and different seeds give different orders", "[sim]") {
  for (std::size_t workers : {1u, 3u}) {
    INFO("workers: " << workers);
    const auto a = step_order(42, workers);
    const auto b = step_order(42, workers);
    REQUIRE(a.size() == 30);
    CHECK(a == b);
    std::set<std::vector<std::pair<int, std::size_t>>> distinct;
    for (std::uint64_t seed = 1; seed <= 10; ++seed) distinct.insert(step_order(seed, workers));
    CHECK(distinct.size() >= 9);  // 10 seeds, 30 steps of 6 tasks: collisions would be a bug
    CHECK(step_order(1, workers) != step_order(2, workers));
  }
  // With several workers, steps run on several of them (steals included).
  std::set<std::size_t> used;
  for (auto& [t, w] : step_order(42, 3)) used.insert(w);
  CHECK(used.size() == 3);
}

TEST_CASE("a sim names its schedule and counts its steps", "[sim]") {
  sim even{{.seed = 4}};
  sim odd{{.seed = 5}};
  CHECK(std::string(even.schedule()) == "random");
  CHECK(std::string(odd.schedule()).find("PCT") == 0);
  even.block_on([]() -> task<void> {
    for (int i = 0; i < 3; ++i) co_await weft::yield();
  }());
  CHECK(even.steps() == 4);  // the first dispatch and one after each yield
}

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

TEST_CASE("a spawn_blocking call holds a sim's clock back until it returns", "[sim][blocking]") {
  sim s{{.seed = 6}};
  std::atomic<bool> call_started{false}, release{false};
  std::thread releaser([&] {
    while (!call_started.load()) std::this_thread::yield();
    release.store(true);
  });
  int v = s.block_on([](std::atomic<bool>& started, std::atomic<bool>& release) -> task<int> {
    // The deadline is armed; with nothing else runnable the clock would jump to it, were the
    // blocking call not pending.
    co_return co_await weft::with_timeout(1ms, [](std::atomic<bool>& started, std::atomic<bool>& release) -> task<int> {
      co_return co_await weft::spawn_blocking([&] {
        started.store(true);
        while (!release.load()) std::this_thread::yield();
        return 3;
      });
    }(started, release));
  }(call_started, release));
  releaser.join();
  CHECK(v == 3);
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
  std::string what;
  try {
    (void)s.block_on(std::move(h));
  } catch (const weft::usage_error& e) {
    what = e.what();
  }
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
  int wrong = 0, leaked_rounds = 0;
  for (int round = 0; round < 200; ++round) {
    weft::test::lifetime_counter c;
    {
      weft::event go;
      sim s{{.seed = static_cast<std::uint64_t>(round)}};
      auto far = std::make_unique<weft::runtime>(weft::runtime_options{.workers = 1, .shutdown_grace = 0ms});
      weft::join_handle<int> h = far->spawn([](weft::event& go, weft::test::tracked) -> task<int> {
        co_await go.wait();
        co_return 7;
      }(go, weft::test::tracked(c)));
      const bool end_sim = round % 2 != 0;
      weft::test::race([&] { end_sim ? s.shutdown() : far->shutdown(); },
                       [&] {
                         try {
                           (void)s.block_on(std::move(h));
                           ++wrong;
                         } catch (const weft::usage_error&) {
                         } catch (const weft::runtime_stopped&) {
                           wrong += !end_sim;
                         } catch (...) {
                           ++wrong;
                         }
                       });
      far.reset();
    }
    leaked_rounds += c.alive() != 0;
  }
  CHECK(wrong == 0);
  CHECK(leaked_rounds == 0);
}

TEST_CASE("a runtime with threads refuses block_on of a sim's task whether it finished or not", "[sim][misuse][join]") {
  // Nothing but the sim's own block_on or advance runs its tasks: a plain thread blocked in
  // another runtime's block_on would wait for a task nobody drives. Refused whatever the
  // task's state (one rule, not one that depends on whether the sim ran meanwhile); the handle
  // is dropped and the task stays the sim's, detached.
  sim s{{.seed = 17}};
  weft::runtime rt({.workers = 1});
  weft::event go;
  weft::join_handle<int> h = s.spawn(seven_after(go));
  SECTION("finished") {
    go.set();
    s.advance(0s);  // the sim runs it to its end
    CHECK(h.done());
  }
  SECTION("never run") { CHECK_FALSE(h.done()); }
  std::string what;
  try {
    (void)rt.block_on(std::move(h));
  } catch (const weft::usage_error& e) {
    what = e.what();
  }
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

namespace {

/// 200 rounds: `join(rt, h)` on one thread, `h` the handle of a sim's task waiting for an event
/// it never gets, while the runtime (odd rounds) or the sim shuts down on another. The join
/// throws usage_error naming `refused_for`, or runtime_stopped if the runtime stopped first;
/// never anything else, never a hang, and every frame is destroyed once (the sim ends its task).
template <class Join>
void race_refused_joins_of_a_sim_task(const char* refused_for, Join join) {
  int wrong = 0, refused = 0, stopped = 0, leaked_rounds = 0;
  for (int round = 0; round < 200; ++round) {
    weft::test::lifetime_counter c;
    {
      weft::event go;
      sim s{{.seed = static_cast<std::uint64_t>(round)}};
      weft::runtime rt({.workers = 1, .shutdown_grace = 0ms});
      weft::join_handle<int> h = s.spawn([](weft::event& go, weft::test::tracked) -> task<int> {
        co_await go.wait();
        co_return 7;
      }(go, weft::test::tracked(c)));
      const bool end_runtime = round % 2 != 0;
      weft::test::race([&] { end_runtime ? rt.shutdown() : s.shutdown(); },
                       [&] {
                         try {
                           join(rt, h);
                           ++wrong;
                         } catch (const weft::usage_error& e) {
                           ++refused;
                           wrong += std::string(e.what()).find(refused_for) == std::string::npos;
                         } catch (const weft::runtime_stopped&) {
                           ++stopped;
                           wrong += !end_runtime;
                         } catch (...) {
                           ++wrong;
                         }
                       });
    }
    leaked_rounds += c.alive() != 0;
  }
  INFO(refused << " refused, " << stopped << " stopped");
  CHECK(wrong == 0);
  CHECK(refused + stopped == 200);
  CHECK(leaked_rounds == 0);
}

}  // namespace

TEST_CASE("a runtime refusing block_on of a sim's task races the runtime's shutdown and the sim's",
          "[sim][misuse][lifecycle][race]") {
  // From a plain thread (race_refused_joins_of_a_sim_task).
  race_refused_joins_of_a_sim_task(
      "block_on of runtime", [](weft::runtime& rt, weft::join_handle<int>& h) { (void)rt.block_on(std::move(h)); });
}

namespace {

// Awaits `h` in a task and says how that went: "joined", or the usage_error's message.
task<std::string> join_and_tell(weft::join_handle<int>& h) {
  try {
    (void)co_await std::move(h);
    co_return "joined";
  } catch (const weft::usage_error& e) {
    co_return e.what();
  }
}

}  // namespace

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
  weft::runtime rt({.workers = 1});
  weft::event go;
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
  // From a task of the runtime with threads (race_refused_joins_of_a_sim_task): its usage_error
  // comes out of the runtime's block_on.
  weft::test::watchdog wd("a refused co_await racing shutdown", 120s);
  race_refused_joins_of_a_sim_task("co_await of the join_handle", [](weft::runtime& rt, weft::join_handle<int>& h) {
    (void)rt.block_on([](weft::join_handle<int>& h) -> task<int> { co_return co_await std::move(h); }(h));
  });
}

TEST_CASE("a sim's spawn_blocking function that calls the sim's block_on or advance gets usage_error",
          "[sim][blocking][misuse]") {
  // The thread driving the sim waits for the blocking call to return (it holds the sim's
  // driver while it does); a block_on or advance of the same sim from the call would wait for
  // that driver: a deadlock. Refused, always, with what to do instead; the call goes on and
  // its task gets what it returns.
  sim s{{.seed = 18}};
  auto refusal = [&s](bool advance) {
    try {
      if (advance)
        s.advance(1s);
      else
        (void)s.block_on([]() -> task<int> { co_return 1; }());
    } catch (const weft::usage_error& e) {
      return std::string(e.what());
    }
    return std::string("not refused");
  };
  const auto [block_on_what, advance_what] = s.block_on([](auto refusal) -> task<std::pair<std::string, std::string>> {
    co_return co_await weft::spawn_blocking([refusal] { return std::pair{refusal(false), refusal(true)}; });
  }(refusal));
  CHECK(block_on_what.find("spawn_blocking") != std::string::npos);
  CHECK(block_on_what.find("co_await") != std::string::npos);  // says what to do instead
  CHECK(advance_what.find("spawn_blocking") != std::string::npos);
  CHECK(s.now() == s.start());  // the refused advance moved nothing
  // spawn_blocking(s, fn) from outside: the same thread kind, the same refusal.
  auto h = weft::spawn_blocking(s, [refusal] { return refusal(false); });
  const std::string outside_what = s.block_on(std::move(h));
  CHECK(outside_what.find("spawn_blocking") != std::string::npos);
  // Another runtime's blocking thread, or a plain one, may still block on the sim.
  weft::runtime rt({.workers = 1});
  const int other =
      rt.block_on(weft::spawn_blocking(rt, [&s] { return s.block_on([]() -> task<int> { co_return 4; }()); }));
  CHECK(other == 4);
}

TEST_CASE("a sim's blocking call refused block_on races the sim's shutdown", "[sim][blocking][lifecycle][race]") {
  // The driver waits for the blocking call, which calls the sim's block_on just as another
  // thread shuts the sim down: the call's block_on throws usage_error (or runtime_stopped if the
  // shutdown came first); the driver's block_on returns the call's answer or throws
  // runtime_stopped. No hang, no frame left.
  int wrong = 0, leaked_rounds = 0, answered = 0;
  for (int round = 0; round < 200; ++round) {
    weft::test::lifetime_counter c;
    {
      sim s{{.seed = static_cast<std::uint64_t>(round), .runtime = {.shutdown_grace = 0ms}}};
      std::atomic<bool> calling{false};
      auto call = [&s, &c, &calling]() -> int {
        calling.store(true);
        try {
          (void)s.block_on([](weft::test::tracked) -> task<int> { co_return 1; }(weft::test::tracked(c)));
          return 0;
        } catch (const weft::usage_error&) {
          return 1;
        } catch (const weft::runtime_stopped&) {
          return 2;
        } catch (...) {
          return 0;
        }
      };
      std::thread stopper([&] {
        while (!calling.load()) std::this_thread::yield();  // (the call always starts: nothing stops the pool before)
        s.shutdown();
      });
      try {
        const int r = s.block_on([](auto call, weft::test::tracked) -> task<int> {
          co_return co_await weft::spawn_blocking(call);
        }(call, weft::test::tracked(c)));
        wrong += r == 0;
        ++answered;
      } catch (const weft::runtime_stopped&) {
      } catch (...) {
        ++wrong;
      }
      stopper.join();
    }
    leaked_rounds += c.alive() != 0;
  }
  INFO(answered << " answered");
  CHECK(wrong == 0);
  CHECK(leaked_rounds == 0);
}

TEST_CASE("hung tasks and dump_tasks measure suspension in virtual time", "[sim][stall]") {
  sim s{{.seed = 12, .runtime = {.stall = {.hang_threshold = 30s}}}};
  weft::event gate;
  auto waiter = s.spawn([](weft::event& g) -> task<void> { co_await g.wait(); }(gate), {.name = "waiter"});
  s.advance(10s);
  bool seen = false;
  for (const auto& t : s.dump_tasks())
    if (t.name == "waiter") {
      seen = true;
      CHECK(t.state == weft::task_state::suspended);
      CHECK(t.in_state == 10s);
    }
  CHECK(seen);
  CHECK(metric(s, "weft_hung_tasks") == 0);
  s.advance(21s);
  CHECK(metric(s, "weft_hung_tasks") == 1);
  gate.set();
  s.block_on(std::move(waiter));
  CHECK(metric(s, "weft_hung_tasks") == 0);
}

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

TEST_CASE("a sim's blocking call that shuts down a runtime with threads ends that runtime's tasks and calls",
          "[sim][blocking][lifecycle]") {
  // The call runs on the sim's blocking thread while the test's thread drives the sim, waiting
  // for the call. The runtime's shutdown ends its tasks that wait forever, which wakes the sim's
  // task that joins one of them (runtime_stopped or cancelled_error), and waits for its own
  // blocking call, told through its token, before it returns. Nothing waits for the sim's
  // driver, which waits for the call.
  weft::test::watchdog wd("a sim's blocking call shutting a runtime down", 30s);
  weft::test::lifetime_counter c;
  {
    sim s{{.seed = 31, .wait_for_outside = true}};
    weft::runtime rt({.workers = 1, .shutdown_grace = 0ms});
    weft::event never;
    std::atomic<bool> rt_call_running{false}, rt_call_returned{false};
    auto forever = [](weft::event& e, weft::test::tracked) -> task<int> {
      co_await e.wait();
      co_return 1;
    };
    rt.spawn(forever(never, weft::test::tracked(c))).detach();
    weft::join_handle<int> joined = rt.spawn(forever(never, weft::test::tracked(c)));
    weft::spawn_blocking(rt, [&rt_call_running, &rt_call_returned,
                              t = weft::test::tracked(c)](weft::cancel_token stop) {
      rt_call_running.store(true);
      while (!stop.cancelled()) std::this_thread::yield();
      rt_call_returned.store(true);
    }).detach();
    while (!rt_call_running.load()) std::this_thread::yield();
    auto in_sim = [](weft::runtime& rt, weft::join_handle<int>& joined, weft::test::tracked) -> task<std::string> {
      weft::join_handle<void> stopping = weft::spawn_blocking([&rt] { rt.shutdown(); });
      std::string out;
      try {
        (void)co_await std::move(joined);
        out = "joined";
      } catch (const weft::runtime_stopped&) {
        out = "ended";  // its frame destroyed by the shutdown's last step
      } catch (const weft::cancelled_error&) {
        out = "ended";  // cancelled by the shutdown, and unwound
      }
      co_await std::move(stopping);
      co_return out;
    };
    const std::string got = s.block_on(in_sim(rt, joined, weft::test::tracked(c)));
    CHECK(got == "ended");
    CHECK(rt_call_returned.load());  // the shutdown waited for the runtime's own call
  }
  CHECK(c.alive() == 0);
}

TEST_CASE("a sim destroyed while a spawn_blocking call runs waits for the call, which sees the sim stopped",
          "[sim][blocking][lifecycle]") {
  // The call is told through its token (the pool's stop), returns, and finds the sim stopped:
  // a spawn into it throws runtime_stopped. The destructor returns once the call has; its
  // frames and the call's captures are destroyed.
  weft::test::watchdog wd("a sim destroyed under a blocking call", 30s);
  weft::test::lifetime_counter c;
  std::atomic<int> after{0};  // 1: the call's spawn into the stopped sim threw runtime_stopped
  {
    std::optional<sim> s;
    s.emplace(weft::testing::sim_options{.seed = 32, .wait_for_outside = true});
    sim& ref = *s;  // the call uses it while its destructor runs: shutdown comes first
    std::atomic<bool> running{false};
    auto waiter = [](weft::test::tracked) -> task<int> { co_return 3; };
    weft::join_handle<int> h = weft::spawn_blocking(ref, [&, t = weft::test::tracked(c)](weft::cancel_token stop) {
      running.store(true);
      while (!stop.cancelled()) std::this_thread::yield();
      try {
        ref.spawn(waiter(weft::test::tracked(c))).detach();
      } catch (const weft::runtime_stopped&) {
        after.store(1);
      }
      return 4;
    });
    h.detach();
    while (!running.load()) std::this_thread::yield();
    s.reset();
  }
  CHECK(after.load() == 1);
  CHECK(c.alive() == 0);
}

TEST_CASE("a sim's blocking call shutting down a runtime with threads races the sim's shutdown",
          "[sim][blocking][lifecycle][race]") {
  // The test's thread drives the sim, whose blocking call shuts the runtime down, while another
  // thread shuts the sim down: the sim's block_on returns or throws runtime_stopped, the call
  // always runs to its end (the sim's shutdown waits for it), nothing hangs, every frame goes.
  weft::test::watchdog wd("a sim's blocking call ending a runtime, racing the sim's end", 120s);
  int wrong = 0, leaked_rounds = 0, returned_calls = 0;
  for (int round = 0; round < 200; ++round) {
    weft::test::lifetime_counter c;
    {
      sim s{{.seed = static_cast<std::uint64_t>(round), .runtime = {.shutdown_grace = 0ms}}};
      weft::runtime rt({.workers = 1, .shutdown_grace = std::chrono::milliseconds(round % 2)});
      weft::event never;
      rt.spawn(
            [](weft::event& e, weft::test::tracked) -> task<void> { co_await e.wait(); }(never, weft::test::tracked(c)))
          .detach();
      std::atomic<bool> returned{false};
      weft::test::race(
          [&] {
            for (int i = 0; i < round % 40; ++i) std::this_thread::yield();  // later in later rounds
            s.shutdown();
          },
          [&] {
            try {
              s.block_on([](weft::runtime& rt, std::atomic<bool>& returned, weft::test::tracked) -> task<void> {
                co_await weft::spawn_blocking([&rt, &returned] {
                  rt.shutdown();
                  returned.store(true);
                });
              }(rt, returned, weft::test::tracked(c)));
            } catch (const weft::runtime_stopped&) {
            } catch (...) {
              ++wrong;
            }
          });
      s.shutdown();  // (waits for a call still running)
      returned_calls += returned.load();
    }
    leaked_rounds += c.alive() != 0;
  }
  INFO(returned_calls << " calls ran");
  CHECK(wrong == 0);
  CHECK(leaked_rounds == 0);
}
