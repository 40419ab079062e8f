// weft::use_task: Asio operations awaited in weft tasks (results, errors, cancellation,
// deadlines, help-first joins, descriptors).
#include <weft/asio/use_task.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <weft/asio.hpp>
#include <weft/weft.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/process.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"
#include "net_support.hpp"

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using weft::task;
using weft::test::loopback;
using weft::test::open_fds;
using weft::test::threads;

namespace {

task<std::string> echo_once(tcp::acceptor& acceptor) {
  tcp::socket s = co_await acceptor.async_accept(weft::use_task);
  char buf[64];
  std::size_t n = co_await s.async_read_some(net::buffer(buf), weft::use_task);
  co_await net::async_write(s, net::buffer(buf, n), weft::use_task);
  co_return std::string(buf, n);
}

task<std::string> send_and_receive(weft::executor ex, tcp::endpoint ep, std::string msg) {
  tcp::socket s(ex);
  co_await s.async_connect(ep, weft::use_task);
  co_await net::async_write(s, net::buffer(msg), weft::use_task);
  std::string reply(msg.size(), '\0');
  co_await net::async_read(s, net::buffer(reply), weft::use_task);
  co_return reply;
}

// Waits on `t`; its frame counted by `tracked`'s counter.
task<void> wait_on(net::steady_timer& t, weft::test::tracked) { co_await t.async_wait(weft::use_task); }

// The task `waiting` ends with system_error(operation_aborted): its operation's context went
// with the operation pending.
void check_aborted(weft::runtime& rt, weft::join_handle<void>&& waiting) {
  try {
    rt.block_on(std::move(waiting));
    FAIL("the wait returned");
  } catch (const boost::system::system_error& e) {
    CHECK(e.code() == net::error::operation_aborted);
  }
}

task<std::size_t> read_into(tcp::socket& s, std::string& out) {
  char buf[64];
  std::size_t n = co_await s.async_read_some(net::buffer(buf), weft::use_task);
  out.assign(buf, n);
  co_return n;
}

}  // namespace

TEST_CASE("an echo round trip over 127.0.0.1 between two weft tasks using use_task", "[asio]") {
  weft::runtime rt({.workers = 2});
  tcp::acceptor acceptor(rt.get_executor(), loopback());
  auto server = rt.spawn(echo_once(acceptor));
  std::string reply = rt.block_on(send_and_receive(rt.get_executor(), acceptor.local_endpoint(), "hello, weft"));
  CHECK(reply == "hello, weft");
  CHECK(rt.block_on(std::move(server)) == "hello, weft");
}

TEST_CASE("a read cancelled by with_timeout ends with timeout_error and the socket stays usable", "[asio]") {
  weft::runtime rt({.workers = 2});
  tcp::acceptor acceptor(rt.get_executor(), loopback());
  rt.block_on([](weft::executor ex, tcp::acceptor& acceptor) -> task<void> {
    tcp::socket client(ex);
    auto accepted = weft::spawn(
        [](tcp::acceptor& a) -> task<tcp::socket> { co_return co_await a.async_accept(weft::use_task); }(acceptor));
    co_await client.async_connect(acceptor.local_endpoint(), weft::use_task);
    tcp::socket server = co_await accepted;

    std::string got;
    bool timed_out = false;
    try {
      co_await weft::with_timeout(20ms, read_into(client, got));  // the server sends nothing
    } catch (const weft::timeout_error&) {
      timed_out = true;
    }
    CHECK(timed_out);
    CHECK(client.is_open());

    const std::string after = "after";
    co_await net::async_write(server, net::buffer(after), weft::use_task);
    std::size_t n = co_await read_into(client, got);  // the same socket, a second read
    CHECK(n == 5);
    CHECK(got == "after");
  }(rt.get_executor(), acceptor));
}

TEST_CASE("a helped sibling suspending in an Asio read hands the join back", "[asio][regression]") {
  // Help-first joins: while the joiner waits for `first`, it runs the reader (its other child, at
  // the bottom of the deque) inline. The reader suspends in a read whose data the joiner writes
  // only after its join: the suspension must hand the join back (run `first`), or, on the one
  // worker, neither could go on.
  weft::runtime rt({.workers = 1});
  tcp::acceptor acceptor(rt.get_executor(), loopback());
  std::string got = rt.block_on([](weft::executor ex, tcp::acceptor& acceptor) -> task<std::string> {
    tcp::socket client(ex);
    co_await client.async_connect(acceptor.local_endpoint(), weft::use_task);
    tcp::socket server = co_await acceptor.async_accept(weft::use_task);
    std::string got;
    auto first = weft::spawn([]() -> task<int> { co_return 1; }());
    auto reader = weft::spawn(read_into(client, got));  // at the bottom of the deque: helped first
    int one = co_await first;
    const std::string msg = "late";
    co_await net::async_write(server, net::buffer(msg), weft::use_task);
    std::size_t n = co_await reader;
    co_return std::to_string(one) + ":" + std::to_string(n) + ":" + got;
  }(rt.get_executor(), acceptor));
  CHECK(got == "1:4:late");
}

TEST_CASE("join_handle::cancel stops a task waiting in an Asio operation with cancelled_error", "[asio]") {
  weft::runtime rt({.workers = 2});
  net::steady_timer never(rt.get_executor(), std::chrono::hours(1));
  auto h = rt.spawn([](net::steady_timer& t) -> task<void> { co_await t.async_wait(weft::use_task); }(never));
  h.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(h)), weft::cancelled_error);
}

TEST_CASE("a task cancelled before the operation starts throws without starting it", "[asio]") {
  weft::runtime rt({.workers = 1});
  weft::cancel_source src;
  src.cancel();
  bool started = false;
  auto h = rt.spawn(
      [](weft::executor ex, bool& started) -> task<void> {
        co_await net::async_initiate<const weft::use_task_t&, void()>(
            [&](auto handler) {
              started = true;
              net::post(ex, std::move(handler));
            },
            weft::use_task);
      }(rt.get_executor(), started),
      {.token = src.token()});
  CHECK_THROWS_AS(rt.block_on(std::move(h)), weft::cancelled_error);
  CHECK_FALSE(started);
}

TEST_CASE("a cancellation reaches no handler of an earlier operation that used the same signal", "[asio]") {
  // Operations on the runtime's reactor take their cancellation signal from a per-thread stock
  // and give it back when they end, keeping the memory of the slot's handler. On one worker the
  // second operation gets the first one's signal. The first connects a handler of its own and
  // completes during its initiation; the second connects none and waits. A cancellation of the
  // second must not reach the first's handler, whose operation is over.
  weft::runtime rt({.workers = 1});
  struct note_cancel {
    std::atomic<bool>* reached;
    void operator()(net::cancellation_type) noexcept { reached->store(true); }
  };
  std::atomic<bool> stale_reached{false};
  std::function<void()> finish;  // completes the second operation
  std::atomic<bool> parked{false};
  bool second_returned = false;
  auto h = rt.spawn([](std::atomic<bool>& stale, std::function<void()>& finish, std::atomic<bool>& parked,
                       bool& returned) -> task<void> {
    co_await net::async_initiate<const weft::use_task_t&, void(boost::system::error_code)>(
        [&stale](auto handler) {
          auto slot = net::get_associated_cancellation_slot(handler);
          REQUIRE(slot.is_connected());
          slot.template emplace<note_cancel>(&stale);
          std::move(handler)(boost::system::error_code());  // done at once
        },
        weft::use_task);
    co_await net::async_initiate<const weft::use_task_t&, void(boost::system::error_code)>(
        [&](auto handler) {
          auto held = std::make_shared<decltype(handler)>(std::move(handler));
          finish = [held] { std::move (*held)(boost::system::error_code()); };
          parked.store(true);
        },
        weft::use_task);
    returned = true;  // it completed anyway: its result is given, the next cancellation point throws
    co_await weft::yield();
  }(stale_reached, finish, parked, second_returned));
  weft::test::wait_suspended(rt, 1);
  REQUIRE(parked.load());
  h.cancel();  // the emission is queued on the reactor
  // A timer due now completes on the reactor after the emission queued before it (one worker:
  // the reactor's queue runs in order), so once this returns the signal has been emitted.
  rt.block_on([](weft::executor ex) -> task<void> {
    net::steady_timer now(ex, std::chrono::steady_clock::now());
    co_await now.async_wait(weft::use_task);
  }(rt.get_executor()));
  CHECK_FALSE(stale_reached.load());
  finish();
  CHECK_THROWS_AS(rt.block_on(std::move(h)), weft::cancelled_error);
  CHECK(second_returned);
}

TEST_CASE("errors arrive as boost::system::system_error", "[asio]") {
  // A read from a connection whose peer closed: end of file, deterministically. (A connect to a
  // port nobody listens on any more is not: another test may take the port meanwhile, or the
  // kernel may pick it as the client's own port and connect the socket to itself.)
  weft::runtime rt({.workers = 2});
  tcp::acceptor acceptor(rt.get_executor(), loopback());
  const bool eof = rt.block_on([](weft::executor ex, tcp::acceptor& acceptor) -> task<bool> {
    tcp::socket client(ex);
    co_await client.async_connect(acceptor.local_endpoint(), weft::use_task);
    {
      tcp::socket server = co_await acceptor.async_accept(weft::use_task);
    }  // closed at once
    char byte;
    try {
      co_await client.async_read_some(net::buffer(&byte, 1), weft::use_task);
    } catch (const boost::system::system_error& e) {
      co_return e.code() == net::error::eof;
    }
    co_return false;
  }(rt.get_executor(), acceptor));
  CHECK(eof);
}

TEST_CASE("1,000 connections opened and closed leave no file descriptor open", "[asio]") {
  weft::runtime rt({.workers = 2});
  tcp::acceptor acceptor(rt.get_executor(), loopback());
  const std::size_t before = open_fds();
  rt.block_on([](weft::executor ex, tcp::acceptor& acceptor) -> task<void> {
    for (int i = 0; i < 1000; ++i) {
      auto accepted = weft::spawn(
          [](tcp::acceptor& a) -> task<tcp::socket> { co_return co_await a.async_accept(weft::use_task); }(acceptor));
      tcp::socket client(ex);
      co_await client.async_connect(acceptor.local_endpoint(), weft::use_task);
      tcp::socket server = co_await accepted;
      co_await net::async_write(client, net::buffer("x", 1), weft::use_task);
      char c;
      co_await net::async_read(server, net::buffer(&c, 1), weft::use_task);
    }  // both sockets close here
  }(rt.get_executor(), acceptor));
  CHECK(open_fds() == before);
}

// ---- the metrics endpoint, driven by a raw socket client on the test's thread ----

// ---- an I/O object of another io_context, run by a thread of its own ----

TEST_CASE("a composed read on a socket of another io_context(1), cancelled while its steps run there",
          "[asio][foreign]") {
  // async_read is a chain of reads; each step runs on the other context's thread and installs
  // its handler on the operation's cancellation slot. Asio's slots are not thread-safe, so the
  // cancellation must be emitted on that thread too, not on a weft worker (TSan says which).
  weft::runtime rt({.workers = 2});
  net::io_context io(1);
  auto work = net::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  for (int round = 0; round < 40; ++round) {
    tcp::acceptor acceptor(io, loopback());
    tcp::socket writer(io);
    writer.connect(acceptor.local_endpoint());
    tcp::socket reader = acceptor.accept();
    // The writer sends a byte at a time, from the other context's thread, until it is closed:
    // the read takes a step per byte.
    std::atomic<long> written{0};
    char byte = 'x';
    std::function<void()> pump = [&] {
      net::async_write(writer, net::buffer(&byte, 1), [&](boost::system::error_code ec, std::size_t) {
        if (ec) return;
        written.fetch_add(1);
        pump();
      });
    };
    net::post(io, pump);
    std::vector<char> big(1 << 20);
    auto read_all = [](tcp::socket& s, std::vector<char>& into) -> task<bool> {
      try {
        co_await net::async_read(s, net::buffer(into), weft::use_task);
      } catch (const weft::cancelled_error&) {
        co_return true;
      }
      co_return false;
    };
    auto reading = rt.spawn(read_all(reader, big));
    const long target = written.load() + 100;
    while (written.load() < target) std::this_thread::yield();  // the read is taking steps
    reading.cancel();
    CHECK(rt.block_on(std::move(reading)));
    // The sockets close on their context's thread, which runs the writer's last step.
    std::promise<void> closed;
    net::post(io, [&] {
      writer.close();
      reader.close();
      closed.set_value();
    });
    closed.get_future().wait();
    std::promise<void> drained;  // after the writer's aborted step, which the close queued
    net::post(io, [&] { drained.set_value(); });
    drained.get_future().wait();
  }
  work.reset();
  runner.join();
}

TEST_CASE("shutdown abandons a task waiting on another io_context's timer; the timer's handler runs later",
          "[asio][foreign][lifecycle]") {
  // The other context is not running while the runtime shuts down, so the task cannot finish
  // within the grace and its frame is destroyed; when that context runs afterwards, the wait's
  // handler (aborted by the task's cancellation, or expired) must not touch the freed awaiter.
  net::io_context io(1);
  net::steady_timer timer(io, std::chrono::hours(1));
  weft::test::lifetime_counter frames;
  {
    weft::runtime rt({.workers = 1, .shutdown_grace = std::chrono::milliseconds(0)});
    auto waiting = rt.spawn(wait_on(timer, weft::test::tracked(frames)));
    waiting.detach();
    rt.block_on([]() -> task<void> { co_return; }());  // the waiting task has started its wait
    CHECK(frames.alive() == 1);
    rt.shutdown();
  }
  CHECK(frames.alive() == 0);  // the frame went with the runtime
  timer.cancel();
  // Two handlers run, each finding the task gone: the emission of shutdown's cancellation
  // (posted here, where the wait runs) and the aborted wait's own.
  CHECK(io.run() == 2);
}

TEST_CASE("shutdown races the other io_context's thread running a waiting task's cancellation and completion",
          "[asio][foreign][lifecycle]") {
  // The other context runs all along: shutdown's cancellation is emitted there, and the aborted
  // wait's handler runs there, while this thread ends the grace (none) and destroys the frames.
  net::io_context io(1);
  auto work = net::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  for (int round = 0; round < 200; ++round) {
    std::vector<std::unique_ptr<net::steady_timer>> timers;
    for (int i = 0; i < 4; ++i) timers.push_back(std::make_unique<net::steady_timer>(io, std::chrono::hours(1)));
    weft::test::lifetime_counter frames;
    {
      weft::runtime rt({.workers = 2, .shutdown_grace = std::chrono::milliseconds(0)});
      for (auto& t : timers) rt.spawn(wait_on(*t, weft::test::tracked(frames))).detach();
      rt.block_on([]() -> task<void> { co_return; }());
      rt.shutdown();
    }
    CHECK(frames.alive() == 0);  // every frame freed, whether its wait ended in time or not
    // The timers go on the context's thread, after whatever the cancellations queued there.
    std::promise<void> gone;
    net::post(io, [&] {
      timers.clear();
      gone.set_value();
    });
    gone.get_future().wait();
  }
  work.reset();
  runner.join();
  CHECK(io.stopped());
}

TEST_CASE("a task woken by another io_context's thread may end with its runtime while that thread is still waking it",
          "[asio][foreign][lifecycle]") {
  // The other context's thread runs the wait's handler, which queues the task and wakes a
  // worker; the task resumes at once, block_on returns, and the runtime is destroyed here while
  // that thread may still be inside the scheduler (unparking a worker, which interrupts the
  // reactor). It must hold the runtime's core for that moment: without it ThreadSanitizer saw
  // the runtime's reactor and core freed under it (a data race with the delete, in about one of
  // a few hundred rounds), and a slower thread would touch freed memory.
  net::io_context io(1);
  auto work = net::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  weft::test::lifetime_counter frames;
  for (int round = 0; round < 2000; ++round) {
    net::steady_timer timer(io, std::chrono::steady_clock::time_point{});  // due at once
    weft::runtime rt({.workers = 2});
    rt.block_on(wait_on(timer, weft::test::tracked(frames)));
  }
  CHECK(frames.alive() == 0);
  work.reset();
  runner.join();
  CHECK(io.stopped());
}

TEST_CASE("the other io_context destroyed while a task waits on it: the wait ends with operation_aborted",
          "[asio][foreign][lifecycle]") {
  // The wait's handler is destroyed unrun with its context, so the operation will never
  // complete: the task goes on, with system_error(operation_aborted), instead of waiting forever
  // (and a later cancellation, shutdown's, finds nothing to cancel on the dead context).
  weft::test::lifetime_counter frames;
  weft::runtime rt({.workers = 1});
  std::optional<weft::join_handle<void>> waiting;
  {
    net::io_context io(1);
    net::steady_timer timer(io, std::chrono::hours(1));
    waiting = rt.spawn(wait_on(timer, weft::test::tracked(frames)));
    rt.block_on([]() -> task<void> { co_return; }());  // it waits
    CHECK(frames.alive() == 1);
  }  // the timer, then the context: the pending wait is destroyed unrun
  check_aborted(rt, std::move(*waiting));
  CHECK(frames.alive() == 0);
}

TEST_CASE("a wait on another runtime's timer is that runtime's: its end ends the wait with operation_aborted",
          "[asio][foreign][lifecycle]") {
  // Both runtimes' executors are weft::executor: use_task tells its own operations from the
  // other runtime's by the executor's runtime, not by its type. The wait runs on the other
  // runtime's reactor; that runtime shuts down and goes with the wait pending (destroyed unrun),
  // and the task goes on with operation_aborted. Taken for this runtime's own, nothing would
  // wake it (the watchdog).
  weft::test::watchdog dog("a wait on another runtime's timer");
  weft::test::lifetime_counter frames;
  weft::runtime rt({.workers = 1});
  std::optional<weft::join_handle<void>> waiting;
  {
    weft::runtime other({.workers = 1});
    net::steady_timer timer(other.get_executor(), std::chrono::hours(1));
    waiting = rt.spawn(wait_on(timer, weft::test::tracked(frames)));
    weft::test::wait_suspended(rt, 1);
    other.shutdown();  // its reactor stops with the wait pending
  }  // the timer (its cancellation queued on the stopped reactor), then the other runtime
  check_aborted(rt, std::move(*waiting));
  CHECK(frames.alive() == 0);
}

TEST_CASE("an async_compose operation given no I/O object runs and is cancelled on the runtime's reactor",
          "[asio][foreign]") {
  // Its executor is the system executor: no io_context, and asking for its context would start
  // Asio's system thread pool. use_task treats it as the runtime's own, as before there was a
  // choice. The operation waits on a timer of the runtime's reactor and is cancelled through it.
  const std::size_t threads_before = threads();
  {
    weft::runtime rt({.workers = 2});
    net::steady_timer timer(rt.get_executor(), std::chrono::hours(1));
    auto wait_composed = [](net::steady_timer& t) {
      return net::async_compose<const weft::use_task_t&, void(boost::system::error_code)>(
          [&t, started = false](auto& self, boost::system::error_code ec = {}) mutable {
            if (!started) {
              started = true;
              t.async_wait(std::move(self));
              return;
            }
            self.complete(ec);
          },
          weft::use_task);
    };
    auto waiting = rt.spawn([](net::steady_timer& t, auto op) -> task<bool> {
      try {
        co_await op(t);
      } catch (const weft::cancelled_error&) {
        co_return true;
      }
      co_return false;
    }(timer, wait_composed));
    rt.block_on([]() -> task<void> { co_return; }());
    waiting.cancel();
    CHECK(rt.block_on(std::move(waiting)));
  }
  CHECK(threads() <= threads_before);  // the runtime's are gone, and no pool was started
}
