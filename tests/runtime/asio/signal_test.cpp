// rt.run() and runtime_options::stop_signals; weft::wait_for_signal and weft::ctrl_c: the signal
// that ends the wait, bad input, cancellation, and run() racing shutdown().
//
// Signals go to this very process. A signal_set of the test's own (raise_until) keeps each one
// caught, so none ever takes its default action (SIGINT would end the suite), and tells when it
// was delivered: the test raises again, delivery by delivery, until the runtime saw one. No
// sleeps: a wait that has not started yet simply needs one more round.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <catch2/catch.hpp>

#include <weft/asio.hpp>
#include <weft/weft.hpp>

#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"

namespace net = boost::asio;
using namespace std::chrono_literals;
using weft::task;

namespace {

// Sends `sig` to this process, one delivery at a time, until `done()`.
template <class Done>
void raise_until(int sig, Done done) {
  net::io_context io;
  net::signal_set guard(io, sig);
  while (!done()) {
    bool delivered = false;
    guard.async_wait([&](const boost::system::error_code&, int) { delivered = true; });
    REQUIRE(::kill(::getpid(), sig) == 0);
    while (!delivered) io.run_one();
    io.restart();
  }
}

// The signal's disposition is the default one (nobody in the process catches it).
bool default_action(int sig) {
  struct sigaction sa{};
  REQUIRE(::sigaction(sig, nullptr, &sa) == 0);
  return sa.sa_handler == SIG_DFL;
}

}  // namespace

TEST_CASE("run() returns, the runtime shut down, when a stop signal arrives", "[asio][signal]") {
  weft::test::watchdog wd("run() and a stop signal");
  REQUIRE(default_action(SIGUSR1));
  weft::runtime rt({.workers = 2, .stop_signals = {SIGUSR1}});
  std::atomic<bool> cancelled{false};
  rt.spawn([](std::atomic<bool>& cancelled) -> task<void> {
      try {
        co_await weft::sleep_for(1h);
      } catch (const weft::cancelled_error&) {
        cancelled = true;  // the shutdown run() began let it unwind
        throw;
      }
    }(cancelled))
      .detach();
  std::atomic<bool> returned{false};
  std::thread server([&] {
    rt.run();
    returned = true;
  });
  raise_until(SIGUSR1, [&] { return returned.load(); });
  server.join();
  CHECK(cancelled);
  CHECK_THROWS_AS(rt.spawn([]() -> task<void> { co_return; }()), weft::runtime_stopped);
  CHECK(default_action(SIGUSR1));  // run()'s catch ended with it
}

TEST_CASE("run() returns when another thread shuts the runtime down, racing or not", "[asio][signal]") {
  weft::test::watchdog wd("run() racing shutdown()");
  for (int round = 0; round < 200; ++round) {
    weft::runtime rt({.workers = 1, .shutdown_grace = 0ms, .stop_signals = {SIGUSR1}});
    std::thread runner_a([&] { rt.run(); });
    std::thread runner_b([&] { rt.run(); });  // several run() at once: all return
    std::thread stopper([&] { rt.shutdown(); });
    runner_a.join();
    runner_b.join();
    stopper.join();
    CHECK_THROWS_AS(rt.get_executor(), weft::runtime_stopped);
  }
  CHECK(default_action(SIGUSR1));
}

TEST_CASE("run() after shutdown returns at once; on a worker it is a usage error", "[asio][signal]") {
  weft::runtime rt({.workers = 1});
  CHECK_THROWS_AS(rt.block_on([](weft::runtime& rt) -> task<void> {
    rt.run();
    co_return;
  }(rt)),
                  weft::usage_error);
  rt.shutdown();
  rt.run();  // does not block
  SUCCEED("run() returned after shutdown");
}

TEST_CASE("stop_signals: SIGINT and SIGTERM by default, bad numbers rejected", "[asio][signal]") {
  CHECK(weft::runtime_options{}.stop_signals == std::vector<int>{SIGINT, SIGTERM});
  for (int bad : {0, -1, SIGKILL, SIGSTOP, NSIG}) {
    INFO("signal " << bad);
    CHECK_THROWS_AS(weft::runtime({.workers = 1, .stop_signals = {bad}}), std::invalid_argument);
  }
  weft::runtime none({.workers = 1, .stop_signals = {}});  // empty: run() ends only by shutdown()
  std::thread stopper([&] { none.shutdown(); });
  none.run();
  stopper.join();
}

TEST_CASE("wait_for_signal yields the signal that came; ctrl_c waits for SIGINT", "[asio][signal]") {
  weft::test::watchdog wd("wait_for_signal");
  weft::runtime rt({.workers = 2});
  std::atomic<int> got{0};
  auto waiter = rt.spawn([](std::atomic<int>& got) -> task<void> {
    auto wait = weft::wait_for_signal({SIGUSR2, SIGHUP});  // (named: g++ 12, see signal.hpp)
    got = co_await std::move(wait);
  }(got));
  raise_until(SIGHUP, [&] { return got.load() != 0; });
  rt.block_on(std::move(waiter));
  CHECK(got == SIGHUP);
  CHECK(default_action(SIGHUP));
  CHECK(default_action(SIGUSR2));

  std::atomic<bool> interrupted{false};
  auto c = rt.spawn([](std::atomic<bool>& done) -> task<void> {
    co_await weft::ctrl_c();
    done = true;
  }(interrupted));
  raise_until(SIGINT, [&] { return interrupted.load(); });
  rt.block_on(std::move(c));
  CHECK(default_action(SIGINT));
}

TEST_CASE("wait_for_signal: bad input throws at the call", "[asio][signal]") {
  CHECK_THROWS_AS(weft::wait_for_signal({}), std::invalid_argument);
  CHECK_THROWS_AS(weft::wait_for_signal({SIGKILL}), std::invalid_argument);
  CHECK_THROWS_AS(weft::wait_for_signal({SIGUSR1, 0}), std::invalid_argument);
  CHECK(default_action(SIGUSR1));  // nothing was installed for the rejected list
}

TEST_CASE("wait_for_signal is a cancellation point", "[asio][signal]") {
  weft::test::watchdog wd("wait_for_signal cancelled");
  weft::runtime rt({.workers = 2});
  // A deadline: timeout_error, the catch released.
  CHECK_THROWS_AS(rt.block_on(weft::with_timeout(2ms, weft::wait_for_signal({SIGUSR2}))), weft::timeout_error);
  CHECK(default_action(SIGUSR2));
  // Its join handle cancelled while it waits.
  auto h = rt.spawn(weft::wait_for_signal({SIGUSR2}));
  weft::test::wait_suspended(rt, 1);
  h.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(h)), weft::cancelled_error);
  CHECK(default_action(SIGUSR2));
  // when_any's loser.
  auto r = rt.block_on(weft::when_any(weft::wait_for_signal({SIGUSR2}), []() -> task<int> { co_return 7; }()));
  CHECK(r.index == 1);
  CHECK(r.value == 7);
  CHECK(default_action(SIGUSR2));
}

TEST_CASE("shutdown ends a task waiting for a signal, with and without grace", "[asio][signal]") {
  weft::test::watchdog wd("shutdown during wait_for_signal");
  for (auto grace : {1000ms, 0ms}) {
    INFO("grace " << grace.count() << " ms");
    {
      weft::runtime rt({.workers = 2, .shutdown_grace = grace});
      auto h = rt.spawn(weft::wait_for_signal({SIGUSR2}));
      weft::test::wait_suspended(rt, 1);
      rt.shutdown();
      CHECK_THROWS_AS(rt.block_on(std::move(h)), weft::runtime_stopped);
    }
    CHECK(default_action(SIGUSR2));
    {
      weft::runtime rt({.workers = 2, .shutdown_grace = grace});
      rt.spawn(weft::wait_for_signal({SIGUSR2})).detach();
      weft::test::wait_suspended(rt, 1);
    }  // ~runtime without shutdown()
    CHECK(default_action(SIGUSR2));
  }
}
