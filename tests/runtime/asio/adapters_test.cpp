// weft::use_task with Asio's completion-token adapters and channels: each compiles and runs, and
// a deadline that fires during the operation surfaces as timeout_error whatever the adapter.
#include <weft/asio/use_task.hpp>

#include <chrono>
#include <cstddef>
#include <tuple>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/as_single.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <weft/asio.hpp>
#include <weft/weft.hpp>

namespace net = boost::asio;
using local = net::local::stream_protocol;
using namespace std::chrono_literals;
using weft::task;
using error_code = boost::system::error_code;

namespace {

// A socket pair on the runtime's executor; nothing is ever written to `a`'s peer unless a test does.
struct pair {
  explicit pair(weft::runtime& rt) : a(rt.get_executor()), b(rt.get_executor()) { net::local::connect_pair(a, b); }
  local::socket a, b;
};

net::awaitable<int> value_after(std::chrono::milliseconds d) {
  net::steady_timer t(co_await net::this_coro::executor, d);
  co_await t.async_wait(net::use_awaitable);
  co_return 42;
}

}  // namespace

TEST_CASE("use_task works with asio::experimental::channel and concurrent_channel", "[asio][adapters]") {
  weft::runtime rt({.workers = 2});
  auto got = rt.block_on([](weft::runtime& rt) -> task<int> {
    net::experimental::channel<void(error_code, int)> ch(rt.get_executor(), 1);
    co_await ch.async_send(error_code{}, 5, weft::use_task);
    int a = co_await ch.async_receive(weft::use_task);
    net::experimental::concurrent_channel<void(error_code, int)> cc(rt.get_executor(), 1);
    co_await cc.async_send(error_code{}, 7, weft::use_task);
    int b = co_await cc.async_receive(weft::use_task);
    co_return a * 10 + b;
  }(rt));
  CHECK(got == 57);
}

TEST_CASE("a receive on an empty asio channel is a weft cancellation point", "[asio][adapters]") {
  weft::runtime rt({.workers = 2});
  bool timed_out = false;
  rt.block_on([](weft::runtime& rt, bool& timed_out) -> task<void> {
    net::experimental::channel<void(error_code, int)> ch(rt.get_executor(), 1);
    try {
      co_await weft::with_timeout(5ms, [](auto& ch) -> task<void> { co_await ch.async_receive(weft::use_task); }(ch));
    } catch (const weft::timeout_error&) {
      timed_out = true;
    }
  }(rt, timed_out));
  CHECK(timed_out);
}

TEST_CASE("use_task works with redirect_error and experimental::as_single", "[asio][adapters]") {
  weft::runtime rt({.workers = 2});
  pair p(rt);
  net::write(p.b, net::buffer("ab", 2));
  auto got = rt.block_on([](pair& p) -> task<std::size_t> {
    char buf[1];
    error_code ec;
    std::size_t n = co_await p.a.async_read_some(net::buffer(buf), net::redirect_error(weft::use_task, ec));
    CHECK_FALSE(ec);
    auto single = co_await p.a.async_read_some(net::buffer(buf), net::experimental::as_single(weft::use_task));
    auto [ec2, m] = single;
    CHECK_FALSE(ec2);
    co_return n + m;
  }(p));
  CHECK(got == 2);
}

TEST_CASE("a deadline during an operation surfaces as timeout_error whatever the adapter", "[asio][adapters]") {
  weft::runtime rt({.workers = 2});
  pair p(rt);  // nothing is ever written: every read waits until cancelled
  auto outcome = [&](auto read) {
    return rt.block_on([](auto read) -> task<int> {
      try {
        co_await weft::with_timeout(5ms, read());
        co_return 0;
      } catch (const weft::timeout_error&) {
        co_return 1;
      } catch (...) {
        co_return 2;
      }
    }(read));
  };
  char buf[1];
  CHECK(outcome([&]() -> task<void> { co_await p.a.async_read_some(net::buffer(buf), weft::use_task); }) == 1);
  CHECK(outcome([&]() -> task<void> {
          auto [ec, n] = co_await p.a.async_read_some(net::buffer(buf), net::as_tuple(weft::use_task));
          (void)ec, (void)n;
        }) == 1);
  CHECK(outcome([&]() -> task<void> {
          error_code ec;
          co_await p.a.async_read_some(net::buffer(buf), net::redirect_error(weft::use_task, ec));
        }) == 1);
  CHECK(outcome([&]() -> task<void> {
          co_await p.a.async_read_some(net::buffer(buf), net::experimental::as_single(weft::use_task));
        }) == 1);
  // co_spawn gets no cancellation slot: the awaitable runs to its end, then the task throws.
  CHECK(outcome([&]() -> task<void> {
          co_await net::co_spawn(rt.get_executor(), value_after(20ms), weft::use_task);
        }) == 1);
  // And the socket is still usable afterwards.
  net::write(p.b, net::buffer("z", 1));
  char c = 0;
  rt.block_on(
      [](pair& p, char& c) -> task<void> { co_await p.a.async_read_some(net::buffer(&c, 1), weft::use_task); }(p, c));
  CHECK(c == 'z');
}
