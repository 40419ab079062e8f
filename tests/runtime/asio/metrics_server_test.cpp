// weft::metrics::serve: /metrics and /tasks over HTTP on the runtime itself (routes, errors,
// keep-alive, options, clients that leave, stopping, shutdown with connections open).
#include <weft/asio/metrics_server.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <weft/asio.hpp>
#include <weft/weft.hpp>

#include "../../support/promtool.hpp"
#include "net_support.hpp"

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using weft::task;
using weft::test::loopback;
using weft::test::open_fds;

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
  CHECK_THAT(serve_refusal(rt, {.header_timeout = 0ms}), Contains("header_timeout"));
  CHECK_THAT(serve_refusal(rt, {.header_timeout = -1ms}), Contains("header_timeout"));
  CHECK_THAT(serve_refusal(rt, {.max_connections = 0}), Contains("max_connections"));
  // The smallest accepted values serve.
  CHECK(serve_refusal(rt, {.idle_timeout = 1ms}).empty());
  auto srv = weft::metrics::serve(rt, "127.0.0.1:0",
                                  {.max_request_bytes = weft::metrics::serve_options::min_request_bytes,
                                   .header_timeout = 1ms,
                                   .max_connections = 1,
                                   .backlog = 1});
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
    rt.shutdown();                        // with the connection's task inside with_timeout(idle_timeout, read)
    CHECK(srv->open_connections() == 0);  // its task unwound: the socket was closed
    srv.reset();                          // a server outliving its runtime's shutdown stops quietly
  }
  char buf[4096];
  boost::system::error_code ec;
  while (!ec) s.read_some(net::buffer(buf), ec);
  CHECK(ec == net::error::eof);
}

TEST_CASE("a request head trickling in past header_timeout gets 408, however short each pause", "[asio][slowloris]") {
  // Each byte arrives well within idle_timeout (an hour), so only the head's own deadline ends it.
  weft::runtime rt({.workers = 2});
  auto srv = weft::metrics::serve(rt, "127.0.0.1:0", {.idle_timeout = 1h, .header_timeout = 100ms});
  net::io_context io;
  tcp::socket s(io);
  s.connect(loopback(srv.port()));
  net::write(s, net::buffer(std::string("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")));
  boost::system::error_code wec, ec;
  int sent = 0;
  // A byte every 5 ms (the client's pace, not a synchronisation) until the server answers. The
  // server reads what still comes after its answer (no reset can destroy the answer).
  for (; sent < 4000 && !wec && s.available(ec) == 0 && !ec; ++sent) {
    net::write(s, net::buffer("a", 1), wec);
    std::this_thread::sleep_for(5ms);
  }
  std::string raw;
  char buf[1024];
  while (!ec) raw.append(buf, s.read_some(net::buffer(buf), ec));
  INFO(raw);
  CHECK(raw.rfind("HTTP/1.1 408 Request Timeout\r\n", 0) == 0);
  CHECK(raw.find("Connection: close\r\n") != std::string::npos);
  CHECK(sent < 4000);  // (8 KiB of head would have ended it with 431 instead)
  CHECK(srv.requests() == 1);
}

TEST_CASE("header_timeout counts from a request's first byte, not across an idle keep-alive", "[asio][slowloris]") {
  weft::runtime rt({.workers = 2});
  auto srv = weft::metrics::serve(rt, "127.0.0.1:0", {.idle_timeout = 1h, .header_timeout = 20ms});
  net::io_context io;
  tcp::socket s(io);
  s.connect(loopback(srv.port()));
  char buf[8192];
  net::write(s, net::buffer(get("/tasks", "")));
  CHECK(std::string(buf, s.read_some(net::buffer(buf))).rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  std::this_thread::sleep_for(100ms);  // idle between requests: five header_timeouts pass
  net::write(s, net::buffer(get("/tasks", "")));
  CHECK(std::string(buf, s.read_some(net::buffer(buf))).rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(srv.open_connections() == 1);
}

TEST_CASE("connections over max_connections are answered 503 and closed; a freed slot serves again",
          "[asio][slowloris]") {
  weft::runtime rt({.workers = 2});
  std::promise<void> one_closed;
  std::atomic<bool> told{false};
  auto srv = weft::metrics::serve(rt, "127.0.0.1:0", {.max_connections = 2, .on_connection_closed = [&] {
                                                        if (!told.exchange(true)) one_closed.set_value();
                                                      }});
  net::io_context io;
  std::optional<tcp::socket> held[2];
  char buf[8192];
  for (auto& h : held) {  // two idle keep-alive connections, each served once: both slots taken
    h.emplace(io);
    h->connect(loopback(srv.port()));
    net::write(*h, net::buffer(get("/tasks", "")));
    CHECK(std::string(buf, h->read_some(net::buffer(buf))).rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  }
  CHECK(srv.open_connections() == 2);
  http_response busy = http_exchange(srv.port(), get("/metrics"));
  CHECK(busy.status == 503);
  CHECK(busy.head.find("Retry-After: 1\r\n") != std::string::npos);
  CHECK(srv.refused_connections() == 1);
  CHECK(srv.open_connections() == 2);

  held[0].reset();  // the client leaves; its slot frees once the server has closed its side
  one_closed.get_future().get();
  CHECK(http_exchange(srv.port(), get("/metrics")).status == 200);
  CHECK(srv.refused_connections() == 1);
}
