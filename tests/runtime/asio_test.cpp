// weft's Boost.Asio integration: the executor, use_task, the reactor, the metrics endpoint.
#include <weft/asio.hpp>

#include <dirent.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <weft/weft.hpp>

#include "../support/promtool.hpp"

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using weft::task;

static_assert(net::execution::is_executor<weft::executor>::value);
static_assert(std::is_convertible_v<weft::executor, net::any_io_executor>);
static_assert(std::is_nothrow_copy_constructible_v<weft::executor>);

namespace {

std::size_t open_fds() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d)) ++n;
    ::closedir(d);
  }
  return n;
}

tcp::endpoint loopback(unsigned short port = 0) { return {net::ip::make_address("127.0.0.1"), port}; }

net::awaitable<int> answer_after_a_timer(std::atomic<bool>& on_worker, weft::runtime& rt) {
  auto ex = co_await net::this_coro::executor;
  net::steady_timer t(ex, 1ms);
  co_await t.async_wait(net::use_awaitable);
  on_worker = rt.scheduler().on_worker();
  co_return 42;
}

}  // namespace

TEST_CASE("the executor's properties are the ones Asio documents", "[asio]") {
  weft::runtime rt({.workers = 2});
  weft::executor ex = rt.get_executor();
  CHECK(ex == rt.get_executor());
  CHECK(net::query(ex, net::execution::blocking) == net::execution::blocking.possibly);
  auto never = net::require(ex, net::execution::blocking.never);
  CHECK(net::query(never, net::execution::blocking) == net::execution::blocking.never);
  CHECK(never != ex);
  CHECK(net::query(net::require(never, net::execution::blocking.possibly), net::execution::blocking) ==
        net::execution::blocking.possibly);
  CHECK(net::query(ex, net::execution::relationship) == net::execution::relationship.fork);
  CHECK(net::query(net::require(ex, net::execution::relationship.continuation), net::execution::relationship) ==
        net::execution::relationship.continuation);
  CHECK(net::query(ex, net::execution::outstanding_work) == net::execution::outstanding_work.untracked);
  auto tracked = net::prefer(ex, net::execution::outstanding_work.tracked);
  CHECK(net::query(tracked, net::execution::outstanding_work) == net::execution::outstanding_work.tracked);
  CHECK(tracked == ex);
  CHECK(net::query(ex, net::execution::mapping) == net::execution::mapping.thread);
  net::io_context& ctx = net::query(ex, net::execution::context);
  CHECK(&ctx == &net::query(rt.get_executor(), net::execution::context));
  CHECK_FALSE(ex.running_in_this_thread());

  weft::runtime other({.workers = 1});
  CHECK(ex != other.get_executor());
  CHECK(&ctx != &net::query(other.get_executor(), net::execution::context));

  net::any_io_executor any = ex;
  CHECK(any == net::any_io_executor(rt.get_executor()));
  CHECK(any.target<weft::executor>() != nullptr);
}

TEST_CASE("asio::post, dispatch and defer run the function on a worker", "[asio]") {
  weft::runtime rt({.workers = 2});
  auto ex = rt.get_executor();
  for (int kind = 0; kind < 3; ++kind) {
    std::promise<bool> ran;
    auto f = [&] { ran.set_value(rt.scheduler().on_worker()); };
    if (kind == 0) net::post(ex, f);
    if (kind == 1) net::dispatch(ex, f);
    if (kind == 2) net::defer(ex, f);
    CHECK(ran.get_future().get());
  }
}

TEST_CASE("dispatch from a worker runs inline; post from a worker queues", "[asio]") {
  weft::runtime rt({.workers = 1});  // one worker: nobody else can run what is queued
  auto ex = rt.get_executor();
  rt.block_on([](weft::executor ex) -> task<void> {
    bool ran = false;
    net::dispatch(ex, [&] { ran = true; });
    CHECK(ran);
    std::atomic<bool> posted{false};
    weft::event done;
    net::post(ex, [&] {
      posted = true;
      done.set();
    });
    CHECK_FALSE(posted.load());  // nothing ran inside post
    co_await done.wait();
    CHECK(posted.load());
  }(ex));
}

TEST_CASE("co_spawn of an Asio awaitable on the weft executor delivers its result from a worker", "[asio]") {
  weft::runtime rt({.workers = 2});
  std::atomic<bool> on_worker{false};
  auto fut = net::co_spawn(rt.get_executor(), answer_after_a_timer(on_worker, rt), net::use_future);
  CHECK(fut.get() == 42);
  CHECK(on_worker.load());

  // The same awaited from a weft task with use_task.
  on_worker = false;
  int v = rt.block_on([](weft::runtime& rt, std::atomic<bool>& on_worker) -> task<int> {
    co_return co_await net::co_spawn(rt.get_executor(), answer_after_a_timer(on_worker, rt), weft::use_task);
  }(rt, on_worker));
  CHECK(v == 42);
  CHECK(on_worker.load());
}

namespace {

net::awaitable<int> value_after(std::chrono::milliseconds d, std::atomic<int>& finished) {
  net::steady_timer t(co_await net::this_coro::executor, d);
  co_await t.async_wait(net::use_awaitable);
  finished.fetch_add(1);
  co_return 42;
}

}  // namespace

// co_spawn's cancellation handler re-dispatches its emission and points into itself: use_task
// gives co_spawn no slot, so a cancelled task waits for the awaitable instead of freeing the
// handler under a queued emission (a use-after-free under ASan before).
TEST_CASE("a task whose deadline passes in co_spawn(..., use_task) waits for the awaitable", "[asio]") {
  weft::runtime rt({.workers = 1});
  std::atomic<int> finished{0};
  for (int i = 0; i < 5; ++i) {
    int outcome = rt.block_on([](weft::runtime& rt, std::atomic<int>& finished) -> task<int> {
      auto op = [](weft::runtime& rt, std::atomic<int>& finished) -> task<int> {
        co_return co_await net::co_spawn(rt.get_executor(), value_after(20ms, finished), weft::use_task);
      };
      try {
        co_return co_await weft::with_timeout(1ms, op(rt, finished));
      } catch (const weft::timeout_error&) {
        co_return -1;
      }
    }(rt, finished));
    CHECK((outcome == 42 || outcome == -1));
    CHECK(finished.load() == i + 1);  // the awaitable ran to its end before the task went on
  }
}

TEST_CASE("an I/O object kept past rt.shutdown() closes safely; the executor then refuses", "[asio]") {
  weft::runtime rt({.workers = 1});
  std::optional<tcp::acceptor> acceptor;
  acceptor.emplace(rt.get_executor(), loopback());
  weft::executor ex = rt.get_executor();
  rt.shutdown();
  CHECK(acceptor->is_open());
  acceptor.reset();  // deregisters from the reactor, which lives until the runtime is destroyed
  CHECK_THROWS_AS(rt.get_executor(), weft::runtime_stopped);
  CHECK(&net::query(ex, net::execution::context) != nullptr);
}

TEST_CASE("a timer's completion handler runs on a worker", "[asio]") {
  weft::runtime rt({.workers = 2});
  net::steady_timer t(rt.get_executor(), 1ms);
  std::promise<bool> ran;
  t.async_wait([&](boost::system::error_code ec) { ran.set_value(!ec && rt.scheduler().on_worker()); });
  CHECK(ran.get_future().get());
}

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
    auto accepted = weft::spawn([](tcp::acceptor& a) -> task<tcp::socket> {
      co_return co_await a.async_accept(weft::use_task);
    }(acceptor));
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
  weft::runtime rt({.workers = 2});
  tcp::endpoint closed_port;
  {
    tcp::acceptor a(rt.get_executor(), loopback());
    closed_port = a.local_endpoint();
  }  // nobody listens there any more
  rt.block_on([](weft::executor ex, tcp::endpoint ep) -> task<void> {
    tcp::socket s(ex);
    bool refused = false;
    try {
      co_await s.async_connect(ep, weft::use_task);
    } catch (const boost::system::system_error& e) {
      refused = e.code() == net::error::connection_refused;
    }
    CHECK(refused);
  }(rt.get_executor(), closed_port));
}

TEST_CASE("1,000 connections opened and closed leave no file descriptor open", "[asio]") {
  weft::runtime rt({.workers = 2});
  tcp::acceptor acceptor(rt.get_executor(), loopback());
  const std::size_t before = open_fds();
  rt.block_on([](weft::executor ex, tcp::acceptor& acceptor) -> task<void> {
    for (int i = 0; i < 1000; ++i) {
      auto accepted = weft::spawn([](tcp::acceptor& a) -> task<tcp::socket> {
        co_return co_await a.async_accept(weft::use_task);
      }(acceptor));
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

namespace {

struct http_response {
  int status = 0;
  std::string head;
  std::string body;
};

/// Sends `request` on a new connection and reads until the server closes it.
http_response http_exchange(std::uint16_t port, const std::string& request) {
  net::io_context io;
  tcp::socket s(io);
  s.connect(loopback(port));
  net::write(s, net::buffer(request));
  std::string raw;
  char buf[4096];
  boost::system::error_code ec;
  for (;;) {
    std::size_t n = s.read_some(net::buffer(buf), ec);
    if (ec) break;
    raw.append(buf, n);
  }
  http_response r;
  std::size_t end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || end == std::string::npos) return r;
  r.status = std::stoi(raw.substr(9, 3));
  r.head = raw.substr(0, end + 2);
  r.body = raw.substr(end + 4);
  return r;
}

std::string get(const std::string& path, const std::string& extra = "Connection: close\r\n") {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}

}  // namespace

TEST_CASE("the /metrics endpoint serves Prometheus text that passes promtool check metrics", "[asio][promtool]") {
  weft::runtime rt({.workers = 2, .name = "scraped"});
  auto srv = weft::metrics::serve(rt, "127.0.0.1:0");
  REQUIRE(srv.port() != 0);
  http_response r = http_exchange(srv.port(), get("/metrics"));
  INFO(r.head);
  CHECK(r.status == 200);
  CHECK(r.head.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") != std::string::npos);
  CHECK(r.head.find("Content-Length: " + std::to_string(r.body.size()) + "\r\n") != std::string::npos);
  CHECK(r.body.find("weft_tasks_spawned_total{runtime=\"scraped\"}") != std::string::npos);

  auto promtool = weft::test::promtool_path();
  if (!promtool) {
    WARN("promtool not found at configure time: skipping the promtool check");
    return;
  }
  auto result = weft::test::promtool_check(*promtool, r.body);
  INFO(result.output << "\n" << r.body);
  CHECK(result.exit_status == 0);
  CHECK(result.output.empty());
}

TEST_CASE("the /tasks endpoint lists the runtime's tasks as JSON", "[asio]") {
  weft::runtime rt({.workers = 2});
  auto srv = weft::metrics::serve(rt, "127.0.0.1:0");
  http_response r = http_exchange(srv.port(), get("/tasks"));
  CHECK(r.status == 200);
  CHECK(r.head.find("Content-Type: application/json\r\n") != std::string::npos);
  CHECK(r.body.rfind("{\"tasks\":[", 0) == 0);
  CHECK(r.body.find("\"name\":\"metrics accept loop\"") != std::string::npos);
  CHECK(r.body.find("\"name\":\"metrics connection\",\"state\":\"running\"") != std::string::npos);
}

TEST_CASE("the metrics endpoint answers 404, 405, 400 and 431 and closes after the errors", "[asio]") {
  weft::runtime rt({.workers = 2});
  auto srv = weft::metrics::serve(rt, "127.0.0.1:0", {.max_request_bytes = 1024});
  CHECK(http_exchange(srv.port(), get("/nope")).status == 404);
  CHECK(http_exchange(srv.port(), "DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status == 405);
  // Malformed: these get 400 even without "Connection: close" (the server closes).
  for (const char* bad : {"GARBAGE\r\n\r\n", "GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n",
                          "GET /metrics HTTP/1.1\r\n\r\n",  // HTTP/1.1 without Host
                          "GET /metrics HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
                          "GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
                          "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"}) {
    INFO(bad);
    CHECK(http_exchange(srv.port(), bad).status == 400);
  }
  std::string huge = get("/metrics", "X-Filler: " + std::string(2000, 'a') + "\r\n");
  CHECK(http_exchange(srv.port(), huge).status == 431);
}

TEST_CASE("the metrics endpoint skips empty lines before a request line", "[asio]") {
  // RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF) before the request-line.
  weft::runtime rt({.workers = 2});
  auto srv = weft::metrics::serve(rt, "127.0.0.1:0", {.max_request_bytes = 1024});
  CHECK(http_exchange(srv.port(), "\r\n" + get("/metrics")).status == 200);
  // Two in a row look like the end of an empty head; they are not.
  http_response two = http_exchange(srv.port(), "\r\n\r\n" + get("/tasks"));
  CHECK(two.status == 200);
  CHECK(two.body.rfind("{\"tasks\":[", 0) == 0);
  // Between pipelined requests, as some clients send after a request.
  http_response pipelined = http_exchange(srv.port(), get("/metrics", "") + "\r\n" + get("/nope"));
  CHECK(pipelined.status == 200);
  CHECK(pipelined.body.find("HTTP/1.1 404 Not Found\r\n") != std::string::npos);
  CHECK(srv.requests() == 4);
  // They count toward the head's size limit, so a stream of them ends.
  std::string flood;
  for (int i = 0; i < 600; ++i) flood += "\r\n";
  CHECK(http_exchange(srv.port(), flood + get("/metrics")).status == 431);
}

namespace {

/// The message of the std::invalid_argument that serve() throws for `opts`; empty if it throws
/// nothing.
std::string serve_refusal(weft::runtime& rt, weft::metrics::serve_options opts) {
  try {
    auto srv = weft::metrics::serve(rt, "127.0.0.1:0", std::move(opts));
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("serve refuses options that cannot work, naming the field", "[asio]") {
  using Catch::Contains;
  weft::runtime rt({.workers = 2});
  CHECK_THAT(serve_refusal(rt, {.idle_timeout = 0ms}), Contains("idle_timeout"));
  CHECK_THAT(serve_refusal(rt, {.idle_timeout = -5ms}), Contains("idle_timeout"));
  CHECK_THAT(serve_refusal(rt, {.max_request_bytes = 0}), Contains("max_request_bytes"));
  CHECK_THAT(serve_refusal(rt, {.max_request_bytes = weft::metrics::serve_options::min_request_bytes - 1}),
             Contains("max_request_bytes"));
  CHECK_THAT(serve_refusal(rt, {.backlog = 0}), Contains("backlog"));
  CHECK_THAT(serve_refusal(rt, {.backlog = -1}), Contains("backlog"));
  // The smallest accepted values serve.
  CHECK(serve_refusal(rt, {.idle_timeout = 1ms}).empty());
  auto srv = weft::metrics::serve(rt, "127.0.0.1:0",
                                  {.max_request_bytes = weft::metrics::serve_options::min_request_bytes, .backlog = 1});
  CHECK(http_exchange(srv.port(), get("/metrics")).status == 200);
}

TEST_CASE("the metrics endpoint keeps a connection alive across pipelined requests", "[asio]") {
  weft::runtime rt({.workers = 2});
  auto srv = weft::metrics::serve(rt, "127.0.0.1:0");
  http_response r = http_exchange(srv.port(), get("/metrics", "") + get("/nope", "") + get("/tasks"));
  CHECK(r.status == 200);
  CHECK(r.body.find("HTTP/1.1 404 Not Found\r\n") != std::string::npos);  // the second response
  CHECK(r.body.find("HTTP/1.1 200 OK\r\nContent-Type: application/json") != std::string::npos);
  CHECK(srv.requests() == 3);
}

TEST_CASE("a client disconnecting mid-request leaves no connection, task or descriptor behind", "[asio]") {
  weft::runtime rt({.workers = 2});
  std::promise<void> closed;
  auto srv = weft::metrics::serve(rt, "127.0.0.1:0", {.on_connection_closed = [&] { closed.set_value(); }});
  const std::size_t before = open_fds();
  {
    net::io_context io;
    tcp::socket s(io);
    s.connect(loopback(srv.port()));
    net::write(s, net::buffer(std::string("GET /metr")));
  }  // gone, half a request line sent
  closed.get_future().get();
  CHECK(srv.open_connections() == 0);
  CHECK(srv.requests() == 0);
  CHECK(open_fds() == before);
  srv.stop();
  CHECK(rt.dump_tasks().empty());  // the accept loop and every connection ended
}

TEST_CASE("stopping the metrics server ends idle keep-alive connections and closes the port", "[asio]") {
  weft::runtime rt({.workers = 2});
  auto srv = weft::metrics::serve(rt, "127.0.0.1:0");
  const std::uint16_t port = srv.port();
  net::io_context io;
  tcp::socket s(io);
  s.connect(loopback(port));
  net::write(s, net::buffer(get("/tasks", "")));
  char buf[4096];
  std::size_t n = s.read_some(net::buffer(buf));  // a response, and the connection stays open
  CHECK(std::string(buf, n).rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(srv.open_connections() == 1);

  srv.stop();  // waits for the accept loop and the connection
  CHECK(srv.port() == 0);
  CHECK(rt.dump_tasks().empty());
  boost::system::error_code ec;
  while (!ec) s.read_some(net::buffer(buf), ec);  // what is left, then the server's close
  CHECK(ec == net::error::eof);
  tcp::socket again(io);
  again.connect(loopback(port), ec);
  CHECK(ec == net::error::connection_refused);
}

TEST_CASE("shutting the runtime down with a keep-alive connection open returns, and the client sees the close",
          "[asio][lifecycle]") {
  // Every read of a connection is under with_timeout: shutdown used to wait forever for the
  // timer of a deadline scope it had just cleared.
  std::optional<weft::metrics::server> srv;
  net::io_context io;
  tcp::socket s(io);
  {
    weft::runtime rt({.workers = 2});
    srv.emplace(weft::metrics::serve(rt, "127.0.0.1:0"));
    s.connect(loopback(srv->port()));
    net::write(s, net::buffer(get("/metrics", "")));
    char buf[4096];
    CHECK(std::string(buf, s.read_some(net::buffer(buf))).rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(srv->open_connections() == 1);
    rt.shutdown();  // with the connection's task inside with_timeout(idle_timeout, read)
    CHECK(srv->open_connections() == 0);  // its task unwound: the socket was closed
    srv.reset();  // a server outliving its runtime's shutdown stops quietly
  }
  char buf[4096];
  boost::system::error_code ec;
  while (!ec) s.read_some(net::buffer(buf), ec);
  CHECK(ec == net::error::eof);
}
