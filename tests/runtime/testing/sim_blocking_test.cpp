// weft::testing::sim and spawn_blocking: a blocking call holds the virtual clock back, and may
// not block on the sim that waits for it.
#include <weft/testing/sim.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>

#include <catch2/catch.hpp>

#include <weft/blocking.hpp>
#include <weft/runtime.hpp>
#include <weft/timeout.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/outcome.hpp"

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
