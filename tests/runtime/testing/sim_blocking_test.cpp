// weft::testing::sim and spawn_blocking: a blocking call holds the virtual clock back, and may
// not block on the sim that waits for it; a call that shuts another runtime down, and the sim
// ending while a call runs.
#include <weft/testing/sim.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include <catch2/catch.hpp>

#include <weft/blocking.hpp>
#include <weft/runtime.hpp>
#include <weft/sync/event.hpp>
#include <weft/timeout.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/outcome.hpp"
#include "../../support/race.hpp"
#include "../../support/watchdog.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::test::outcome;
using weft::testing::sim;

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

TEST_CASE("a sim's spawn_blocking function that calls the sim's block_on or advance gets usage_error",
          "[sim][blocking][misuse]") {
  // The thread driving the sim waits for the blocking call to return (it holds the sim's
  // driver while it does); a block_on or advance of the same sim from the call would wait for
  // that driver: a deadlock. Refused, always, with what to do instead; the call goes on and
  // its task gets what it returns.
  sim s{{.seed = 18}};
  auto refusal = [&s](bool advance) {
    return weft::test::refusal([&] {
      if (advance)
        s.advance(1s);
      else
        (void)s.block_on([]() -> task<int> { co_return 1; }());
    });
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
      auto call = [&s, &c, &calling] {
        calling.store(true);
        return weft::test::outcome_of(
            [&] { return s.block_on([](weft::test::tracked) -> task<int> { co_return 1; }(weft::test::tracked(c))); });
      };
      std::thread stopper([&] {
        while (!calling.load()) std::this_thread::yield();  // (the call always starts: nothing stops the pool before)
        s.shutdown();
      });
      try {
        const outcome r = s.block_on([](auto call, weft::test::tracked) -> task<outcome> {
          co_return co_await weft::spawn_blocking(call);
        }(call, weft::test::tracked(c)));
        wrong += r != outcome::refused && r != outcome::stopped;
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
    weft::event never;
    sim s{{.seed = 31, .wait_for_outside = true}};
    weft::runtime rt({.workers = 1, .shutdown_grace = 0ms});
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
      weft::event never;
      sim s{{.seed = static_cast<std::uint64_t>(round), .runtime = {.shutdown_grace = 0ms}}};
      weft::runtime rt({.workers = 1, .shutdown_grace = std::chrono::milliseconds(round % 2)});
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
