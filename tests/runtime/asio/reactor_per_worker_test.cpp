// A reactor per worker (runtime_options::reactors = per_worker; asio/detail/io_driver.hpp,
// sched/scheduler.hpp "driver slots"): which reactor an executor names, I/O on every reactor
// from tasks on any worker, a worker woken inside its own reactor, a reactor whose worker is
// stuck in a long job (another worker polls it), cancellation racing completion on each
// reactor, and shutdown while every worker waits in its own (and its executors used after).
#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <weft/asio.hpp>
#include <weft/testing.hpp>
#include <weft/weft.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/outcome.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"
#include "reactor_support.hpp"

namespace net = boost::asio;
using local = net::local::stream_protocol;
using namespace std::chrono_literals;
using weft::task;
using weft::test::outcome;
using weft::test::read_byte;

namespace {

weft::runtime_options per_worker(std::size_t workers) {
  return {.workers = workers, .reactors = weft::reactor_layout::per_worker};
}

// The index of the worker the calling task runs on.
std::size_t this_worker_index() { return weft::sched::this_worker()->index(); }

std::uint64_t rescues(weft::runtime& rt) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < rt.scheduler().slots(); ++i) n += rt.scheduler().at(i).stats().driver_rescues.load();
  return n;
}

}  // namespace

TEST_CASE("with a reactor per worker, an executor names one worker's reactor", "[asio][reactor][per_worker]") {
  weft::test::watchdog wd("per-worker executors");
  weft::runtime rt(per_worker(2));
  const auto all = rt.worker_executors();
  REQUIRE(all.size() == 2);
  CHECK(&net::query(all[0], net::execution::context) != &net::query(all[1], net::execution::context));
  CHECK(all[0] != all[1]);
  // Off the workers: the first worker's.
  CHECK(rt.get_executor() == all[0]);
  // On a worker: that worker's own.
  auto [index, ex] = rt.block_on([](weft::runtime& rt) -> task<std::pair<std::size_t, weft::executor>> {
    co_return std::pair{this_worker_index(), rt.get_executor()};
  }(rt));
  CHECK(ex == all[index]);

  // One shared reactor: one executor.
  weft::runtime shared({.workers = 2});
  const auto one = shared.worker_executors();
  REQUIRE(one.size() == 1);
  CHECK(one[0] == shared.get_executor());

  // A runtime whose time is virtual has one shared reactor whatever it is asked for.
  weft::testing::sim sim({.workers = 2, .runtime = per_worker(2)});
  CHECK(sim.worker_executors().size() == 1);
}

TEST_CASE("sockets on every reactor are served by tasks on any worker", "[asio][reactor][per_worker]") {
  // Echo over socket pairs spread over both reactors; each session's task may be stolen, and
  // its socket's events still come from its own reactor.
  weft::test::watchdog wd("per-worker echo");
  weft::runtime rt(per_worker(2));
  constexpr int sessions = 8, rounds = 200;
  const auto reactors = rt.worker_executors();
  std::vector<local::socket> servers, clients;
  for (int i = 0; i < sessions; ++i) {
    servers.emplace_back(reactors[i % 2]);
    clients.emplace_back(reactors[(i + 1) % 2]);
    net::local::connect_pair(servers.back(), clients.back());
  }
  std::vector<weft::join_handle<void>> echo, drive;
  for (int i = 0; i < sessions; ++i) {
    echo.push_back(rt.spawn([](local::socket& s) -> task<void> {
      for (int r = 0; r < rounds; ++r) {
        char c = co_await read_byte(s);
        co_await net::async_write(s, net::buffer(&c, 1), weft::use_task);
      }
    }(servers[i])));
    drive.push_back(rt.spawn([](local::socket& s, int i) -> task<void> {
      for (int r = 0; r < rounds; ++r) {
        const char out = static_cast<char>('a' + (i + r) % 26);
        co_await net::async_write(s, net::buffer(&out, 1), weft::use_task);
        char back = co_await read_byte(s);
        if (back != out) throw std::runtime_error("echo mismatch");
      }
    }(clients[i], i)));
  }
  for (auto& h : drive) CHECK_NOTHROW(rt.block_on(std::move(h)));
  for (auto& h : echo) CHECK_NOTHROW(rt.block_on(std::move(h)));
}

TEST_CASE("a worker waiting in its own reactor is woken for new work and timers", "[asio][reactor][per_worker]") {
  weft::test::watchdog wd("woken in its own reactor");
  weft::runtime rt(per_worker(2));
  const auto reactors = rt.worker_executors();
  std::vector<local::socket> ends, peers;
  std::vector<weft::join_handle<char>> readers;
  for (std::size_t i = 0; i < reactors.size(); ++i) {
    ends.emplace_back(reactors[i]);
    peers.emplace_back(reactors[i]);
    net::local::connect_pair(ends.back(), peers.back());
  }
  for (auto& e : ends) readers.push_back(rt.spawn(read_byte(e)));
  weft::test::wait_suspended(rt, readers.size());  // every worker ends up in its own reactor
  CHECK(rt.block_on([]() -> task<int> { co_return 7; }()) == 7);
  rt.block_on([]() -> task<void> { co_await weft::sleep_for(2ms); }());
  for (auto& p : peers) net::write(p, net::buffer("q", 1));
  for (auto& r : readers) CHECK(rt.block_on(std::move(r)) == 'q');
}

TEST_CASE("a reactor whose worker runs a long job is polled by another worker", "[asio][reactor][per_worker]") {
  // A task holds its worker without an await (no poll of that worker's reactor) until a read on
  // a socket of that very reactor has completed: only another worker, told by the monitor that
  // the reactor went unattended, can complete it.
  weft::test::watchdog wd("unattended reactor");
  weft::runtime_options o = per_worker(2);
  o.stall.max_replacements = 0;  // the other worker alone can do it
  weft::runtime rt(o);
  const auto reactors = rt.worker_executors();
  std::atomic<int> held{-1};
  std::atomic<bool> done{false};
  auto hold = rt.spawn([](std::atomic<int>& held, std::atomic<bool>& done) -> task<void> {
    held.store(static_cast<int>(this_worker_index()));
    while (!done.load()) std::this_thread::yield();
    co_return;
  }(held, done));
  while (held.load() < 0) std::this_thread::yield();
  local::socket a(reactors[static_cast<std::size_t>(held.load())]), b(reactors[static_cast<std::size_t>(held.load())]);
  net::local::connect_pair(a, b);
  auto reader = rt.spawn([](local::socket& s, std::atomic<bool>& done) -> task<char> {
    char c = co_await read_byte(s);
    done.store(true);
    co_return c;
  }(a, done));
  weft::test::wait_suspended(rt, 1);
  net::write(b, net::buffer("r", 1));
  CHECK(rt.block_on(std::move(reader)) == 'r');
  rt.block_on(std::move(hold));
  CHECK(rescues(rt) >= 1);
}

TEST_CASE("cancellations racing completions on each reactor", "[asio][reactor][per_worker][stress]") {
  weft::test::watchdog wd("per-worker cancel racing completion");
  weft::runtime rt(per_worker(2));
  const auto reactors = rt.worker_executors();
  constexpr int rounds = 300;
  auto r =
      weft::test::cancel_racing_reads(rt, rounds, [&](int i) { return reactors[static_cast<std::size_t>(i % 2)]; });
  INFO(r.completed << " completed, " << r.cancelled << " cancelled");
  CHECK(r.completed + r.cancelled == rounds);
  CHECK(r.other == 0);
}

TEST_CASE("shutdown while every worker waits in its own reactor ends every waiting task",
          "[asio][reactor][per_worker][lifecycle]") {
  // Readers on both reactors, each waiting; the runtime is shut down from two threads at once,
  // or only destroyed. Every frame is destroyed, and an executor of the second reactor used
  // after the shutdown refuses.
  weft::test::watchdog wd("shutdown in per-worker reactors");
  for (int round = 0; round < 6; ++round) {
    weft::test::lifetime_counter c;
    {
      weft::runtime rt(per_worker(2));
      const auto reactors = rt.worker_executors();
      for (int i = 0; i < 6; ++i) {
        local::socket a(reactors[i % 2]), b(reactors[i % 2]);
        net::local::connect_pair(a, b);
        rt.spawn([](local::socket a, [[maybe_unused]] local::socket b,
                    [[maybe_unused]] weft::test::tracked t) -> task<void> {
            co_await read_byte(a);
          }(std::move(a), std::move(b), weft::test::tracked(c)))
            .detach();
      }
      weft::test::wait_suspended(rt, 6);
      if (round % 3 == 0) {
        std::thread other([&] { rt.shutdown(); });
        rt.shutdown();
        other.join();
      } else if (round % 3 == 1) {
        rt.shutdown();
        std::atomic<bool> ran{false};
        net::post(reactors[1], [&ran] { ran.store(true); });  // destroyed unrun
        CHECK_FALSE(ran.load());
        CHECK_THROWS_AS(rt.worker_executors(), weft::runtime_stopped);
        // Its stopped reactor still holds the services: an I/O object made and closed now is
        // fine, and its operations never complete (the runtime's end destroys them unrun).
        local::socket late(reactors[1]), peer(reactors[1]);
        net::local::connect_pair(late, peer);
        char c = 0;
        late.async_read_some(net::buffer(&c, 1), [&ran](boost::system::error_code, std::size_t) { ran.store(true); });
        CHECK_FALSE(ran.load());
      }  // else: the destructor alone
    }
    CHECK(c.alive() == 0);
  }
}

TEST_CASE("the reactors made on first use race shutdown from another thread",
          "[asio][reactor][per_worker][lifecycle][race]") {
  // A thread asks a fresh runtime for its executors (which makes a reactor per worker) and posts
  // to each, while the test thread shuts the runtime down at a different moment each round:
  // the call either lands (every posted function is run or destroyed) or throws runtime_stopped;
  // nothing hangs, nothing leaks, and the reactors made too late are stopped with the runtime.
  weft::test::watchdog wd("per-worker reactors racing shutdown");
  int bad = 0, leaked = 0;
  for (int round = 0; round < 200; ++round) {
    weft::test::lifetime_counter c;
    {
      weft::runtime rt(per_worker(2));
      std::atomic<bool> go{false};
      std::atomic<outcome> ended{outcome::other};  // landed (returned), runtime_stopped, or anything else
      std::thread caller([&] {
        while (!go.load()) std::this_thread::yield();
        ended.store(weft::test::outcome_of([&] {
          for (const weft::executor& ex : rt.worker_executors()) net::post(ex, [t = weft::test::tracked(c)] {});
        }));
      });
      go.store(true);
      for (int spin = 0; spin < round % 32; ++spin) std::this_thread::yield();
      rt.shutdown();
      caller.join();
      bad += ended.load() != outcome::returned && ended.load() != outcome::stopped;
    }
    leaked += c.alive() != 0;
  }
  CHECK(bad == 0);
  CHECK(leaked == 0);
}
