// `GET /` of weft::metrics::serve: the live page, one self-contained HTML file (no external
// request) that polls /metrics and /tasks. (In a real browser: tests/contrib/dashboard_page_test.py.)
#include <weft/asio/metrics_server.hpp>

#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <weft/asio.hpp>
#include <weft/runtime.hpp>

#include "net_support.hpp"

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

std::string exchange(std::uint16_t port, const std::string& request) {
  net::io_context io;
  tcp::socket s(io);
  s.connect(weft::test::loopback(port));
  net::write(s, net::buffer(request));
  std::string raw;
  boost::system::error_code ec;
  net::read(s, net::dynamic_buffer(raw), ec);  // until the server closes (Connection: close)
  return raw;
}

}  // namespace

TEST_CASE("the metrics endpoint serves its live page at / as self-contained HTML", "[asio]") {
  weft::runtime rt({.workers = 2});
  auto srv = weft::metrics::serve(rt, "127.0.0.1:0");
  std::string raw = exchange(srv.port(), "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  auto end = raw.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  std::string head = raw.substr(0, end + 2), body = raw.substr(end + 4);
  INFO(head);
  CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(head.find("Content-Type: text/html; charset=utf-8\r\n") != std::string::npos);
  CHECK(head.find("Content-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);
  CHECK(body.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(body.find("</html>") != std::string::npos);
  // It polls the two other routes, relative to where it was served from...
  CHECK(body.find("fetch(\"metrics\"") != std::string::npos);
  CHECK(body.find("fetch(\"tasks\"") != std::string::npos);
  // ...and asks nothing of anyone else: no absolute URL, no external script or style sheet.
  CHECK(body.find("http://") == std::string::npos);
  CHECK(body.find("https://") == std::string::npos);
  CHECK(body.find("<script src") == std::string::npos);
  CHECK(body.find("<link") == std::string::npos);
  // HEAD: the same head, no body.
  std::string head_only = exchange(srv.port(), "HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  CHECK(head_only.find("Content-Type: text/html; charset=utf-8\r\n") != std::string::npos);
  CHECK(head_only.substr(head_only.find("\r\n\r\n") + 4).empty());
}
