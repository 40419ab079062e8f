// The reactor driven by the workers (asio/detail/io_driver.hpp, sched/park_driver.hpp): an idle
// worker waits in it, one at a time; waking that worker interrupts the wait; busy workers poll
// it; the order in which woken tasks and tasks whose operation completed at once run;
// cancellation and shutdown while a worker sits in it.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <weft/asio.hpp>
#include <weft/weft.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"
#include "reactor_support.hpp"

namespace net = boost::asio;
using local = net::local::stream_protocol;
using namespace std::chrono_literals;
using weft::task;
using weft::test::read_byte;

TEST_CASE("a worker waiting in the reactor is woken for new work from another thread", "[asio][reactor]") {
  weft::test::watchdog wd("woken in the reactor");
  weft::runtime rt({.workers = 1});
  local::socket a(rt.get_executor()), b(rt.get_executor());
  net::local::connect_pair(a, b);
  auto reader = rt.spawn(read_byte(a));  // the only worker ends up waiting in the reactor
  weft::test::wait_suspended(rt, 1);
  // New work from outside: the worker must leave epoll_wait to run it.
  CHECK(rt.block_on([]() -> task<int> { co_return 42; }()) == 42);
  // And a timer, while the reactor waits with the timer's deadline.
  rt.block_on([]() -> task<void> { co_await weft::sleep_for(2ms); }());
  net::write(b, net::buffer("x", 1));
  CHECK(rt.block_on(std::move(reader)) == 'x');
}

TEST_CASE("I/O is handled while every worker is busy with CPU work", "[asio][reactor]") {
  weft::test::watchdog wd("I/O under CPU load");
  weft::runtime rt({.workers = 1});
  local::socket a(rt.get_executor()), b(rt.get_executor());
  net::local::connect_pair(a, b);
  std::atomic<bool> got{false};
  auto reader = rt.spawn([](local::socket& s, std::atomic<bool>& got) -> task<void> {
    co_await read_byte(s);
    got.store(true);
  }(a, got));
  weft::test::wait_suspended(rt, 1);
  // A task that never parks its worker: it yields until the read completed, which only a poll
  // of the reactor by this busy worker can make happen.
  std::atomic<long> spins{0};
  auto busy = rt.spawn([](std::atomic<bool>& got, std::atomic<long>& spins) -> task<void> {
    while (!got.load()) {
      spins.fetch_add(1);
      co_await weft::yield();
    }
  }(got, spins));
  while (spins.load() == 0) std::this_thread::yield();
  net::write(b, net::buffer("y", 1));
  rt.block_on(std::move(busy));
  rt.block_on(std::move(reader));
  CHECK(got.load());
}

TEST_CASE("tasks woken in one turn of the reactor run in the order their events came", "[asio][reactor]") {
  // Six reads become ready while the only worker is busy; its next turn in the reactor
  // completes all six. The first woken runs next and the others after it in the same order
  // (not the reverse, which would serve the earliest ready connection last).
  weft::test::watchdog wd("reactor turn order");
  constexpr int n = 6;
  weft::runtime rt({.workers = 1});
  std::vector<local::socket> ends, peers;
  for (int i = 0; i < n; ++i) {
    ends.emplace_back(rt.get_executor());
    peers.emplace_back(rt.get_executor());
    net::local::connect_pair(ends.back(), peers.back());
  }
  std::vector<int> order;  // appended on the one worker, read after the joins
  std::vector<weft::join_handle<void>> readers;
  for (int i = 0; i < n; ++i)
    readers.push_back(rt.spawn([](local::socket& s, std::vector<int>& order, int i) -> task<void> {
      co_await read_byte(s);
      order.push_back(i);
    }(ends[i], order, i)));
  weft::test::wait_suspended(rt, n);
  // Hold the worker (no await: no poll of the reactor) while every byte arrives, in order.
  std::atomic<bool> holding{false}, release{false};
  auto hold = rt.spawn([](std::atomic<bool>& holding, std::atomic<bool>& release) -> task<void> {
    holding.store(true);
    while (!release.load()) std::this_thread::yield();
    co_return;
  }(holding, release));
  while (!holding.load()) std::this_thread::yield();
  for (int i = 0; i < n; ++i) net::write(peers[i], net::buffer("x", 1));
  release.store(true);
  rt.block_on(std::move(hold));
  for (auto& r : readers) rt.block_on(std::move(r));
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5});
}

TEST_CASE("an operation that completes during its initiation lets the tasks waiting on its worker run first",
          "[asio][reactor]") {
  // Asio's order (a completion found during the initiation goes behind the handlers already
  // queued), and what keeps a server from reading its connection a microsecond after writing
  // to it, before the peer could answer (use_task.cpp). The write completes at once: the socket
  // buffer has room.
  weft::test::watchdog wd("inline completion order");
  weft::runtime rt({.workers = 1});
  local::socket a(rt.get_executor()), b(rt.get_executor());
  net::local::connect_pair(a, b);
  std::vector<std::string> order;  // appended on the one worker
  rt.block_on([](local::socket& a, std::vector<std::string>& order) -> task<void> {
    auto waiting = weft::spawn([](std::vector<std::string>& order) -> task<void> {
      order.push_back("spawned");
      co_return;
    }(order));
    co_await net::async_write(a, net::buffer("x", 1), weft::use_task);
    order.push_back("writer");
    co_await waiting;
  }(a, order));
  CHECK(order == std::vector<std::string>{"spawned", "writer"});
  char c = 0;
  CHECK(net::read(b, net::buffer(&c, 1)) == 1);
  CHECK(c == 'x');
}

TEST_CASE("shutdown racing tasks whose operations complete at once ends every one of them",
          "[asio][reactor][lifecycle]") {
  // Each task writes into a socket buffer nobody reads: its writes complete during their
  // initiation and (the others waiting) send it to the back of the line, until the buffer is
  // full and it suspends. The runtime is shut down from two threads at once, or only destroyed,
  // while its tasks run, wait in line behind each other, or wait in the reactor: every frame
  // (each owns its sockets) is destroyed.
  weft::test::watchdog wd("inline completions vs shutdown");
  for (int round = 0; round < 8; ++round) {
    weft::test::lifetime_counter c;
    std::atomic<long> writes{0};
    {
      weft::runtime rt({.workers = 2});
      for (int i = 0; i < 8; ++i) {
        local::socket a(rt.get_executor()), b(rt.get_executor());
        net::local::connect_pair(a, b);
        rt.spawn([](local::socket a, [[maybe_unused]] local::socket b, [[maybe_unused]] weft::test::tracked t,
                    std::atomic<long>& writes) -> task<void> {
            const char byte = 'x';
            for (;;) {
              co_await net::async_write(a, net::buffer(&byte, 1), weft::use_task);
              writes.fetch_add(1, std::memory_order_relaxed);
            }
          }(std::move(a), std::move(b), weft::test::tracked(c), writes))
            .detach();
      }
      while (writes.load() < 100) std::this_thread::yield();
      if (round % 2 == 0) {
        std::thread other([&] { rt.shutdown(); });
        rt.shutdown();
        other.join();
      }  // odd rounds: the destructor alone
    }
    CHECK(c.alive() == 0);
  }
}

TEST_CASE("cancellations racing completions while workers take turns in the reactor", "[asio][reactor][stress]") {
  weft::test::watchdog wd("cancel racing completion");
  weft::runtime rt({.workers = 2});
  constexpr int rounds = 300;
  auto r = weft::test::cancel_racing_reads(rt, rounds, [&](int) { return rt.get_executor(); });
  INFO(r.completed << " completed, " << r.cancelled << " cancelled");
  CHECK(r.completed + r.cancelled == rounds);  // each ended exactly one way, none hung
  CHECK(r.other == 0);
}

TEST_CASE("shutdown while a worker sits in the reactor returns and ends the waiting task",
          "[asio][reactor][lifecycle]") {
  weft::test::watchdog wd("shutdown in the reactor");
  std::atomic<bool> unwound{false};
  weft::runtime rt({.workers = 2});
  local::socket a(rt.get_executor()), b(rt.get_executor());
  net::local::connect_pair(a, b);
  auto reader = rt.spawn([](local::socket& s, std::atomic<bool>& unwound) -> task<void> {
    try {
      co_await read_byte(s);
    } catch (const weft::cancelled_error&) {
      unwound.store(true);
      throw;
    }
  }(a, unwound));
  weft::test::wait_suspended(rt, 1);
  rt.shutdown();
  CHECK(unwound.load());  // cancelled through its operation's slot, within the grace
  CHECK(reader.done());
}
