// weft::use_task: Asio operations awaited in weft tasks (results, errors, cancellation,
// deadlines, help-first joins, descriptors).
#include <weft/asio/use_task.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <weft/asio.hpp>
#include <weft/weft.hpp>

#include "net_support.hpp"

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using weft::task;
using weft::test::loopback;
using weft::test::open_fds;

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
