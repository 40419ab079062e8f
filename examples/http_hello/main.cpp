// A tiny HTTP/1.1 server on weft: keep-alive, pipelining, an idle timeout, a bound on the
// request head. Every GET is answered "Hello, World!". Copy it and grow it.
//
//   http_hello                  serves on 127.0.0.1:8080 until Ctrl-C
//   http_hello 0.0.0.0:8080     on every interface
//   http_hello --self-test      on a free port: a few requests over one connection, then exits
//
//   wrk -t2 -c50 -d5s http://127.0.0.1:8080/
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <weft/asio.hpp>
#include <weft/weft.hpp>

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

constexpr std::size_t max_head = 8192;  // larger request heads get 431
constexpr auto idle_timeout = 30s;      // a connection silent for this long is closed

struct request {
  std::string_view method, target;
  bool keep_alive = true;
};

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// Parses a request head (the bytes before the blank line). Nullopt if it is not HTTP/1.x.
std::optional<request> parse(std::string_view head) {
  std::size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  std::size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp1 == sp2) return std::nullopt;
  request r{line.substr(0, sp1), line.substr(sp1 + 1, sp2 - sp1 - 1)};
  std::string_view version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return std::nullopt;
  r.keep_alive = version == "HTTP/1.1";
  while (eol != std::string_view::npos) {  // headers: only Connection matters here
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    line = head.substr(0, eol);
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    if (!iequals(line.substr(0, colon), "connection")) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (iequals(value, "close")) r.keep_alive = false;
    if (iequals(value, "keep-alive")) r.keep_alive = true;
  }
  return r;
}

std::string response(int status, std::string_view reason, std::string_view body, bool keep_alive) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
                  "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (!keep_alive) r += "Connection: close\r\n";
  r += "\r\n";
  r += body;
  return r;
}

weft::task<std::size_t> read_some(tcp::socket& s, char* buf, std::size_t n) {
  co_return co_await s.async_read_some(net::buffer(buf, n), weft::use_task);
}

// One connection: read request heads, answer each, until the client closes, asks to close,
// sends garbage, or stays idle too long.
weft::task<void> session(tcp::socket s) {
  std::string in;
  char chunk[4096];
  try {
    for (bool keep_alive = true; keep_alive;) {
      std::size_t end;
      while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        if (in.size() > max_head) {
          // A named string: g++ 12 mishandles temporaries inside co_await expressions.
          const std::string too_large = response(431, "Request Header Fields Too Large", "", false);
          co_await net::async_write(s, net::buffer(too_large), weft::use_task);
          co_return;
        }
        // with_timeout cancels the read through Asio's cancellation slot: timeout_error.
        in.append(chunk, co_await weft::with_timeout(idle_timeout, read_some(s, chunk, sizeof chunk)));
      }
      std::optional<request> req = parse(std::string_view(in).substr(0, end));
      std::string out;
      if (!req)
        out = response(400, "Bad Request", "", false);
      else if (req->method != "GET")
        out = response(405, "Method Not Allowed", "", req->keep_alive);
      else
        out = response(200, "OK", "Hello, World!", req->keep_alive);
      keep_alive = req && req->keep_alive;
      in.erase(0, end + 4);  // what follows may be the next (pipelined) request
      co_await net::async_write(s, net::buffer(out), weft::use_task);
    }
  } catch (const std::exception&) {  // eof, connection reset, idle timeout
  }
}

weft::task<void> serve(tcp::acceptor acceptor) {
  for (;;) {
    tcp::socket s = co_await acceptor.async_accept(weft::use_task);
    s.set_option(tcp::no_delay(true));
    weft::spawn(session(std::move(s)), {.name = "http session"}).detach();
  }
}

// --self-test: three requests on one keep-alive connection, the last one closing it.
weft::task<int> self_test(weft::executor ex, tcp::endpoint server) {
  tcp::socket s(ex);
  co_await s.async_connect(server, weft::use_task);
  std::string requests =
      "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  co_await net::async_write(s, net::buffer(requests), weft::use_task);
  std::string all;
  char buf[1024];
  try {
    for (;;) all.append(buf, co_await s.async_read_some(net::buffer(buf), weft::use_task));
  } catch (const boost::system::system_error&) {  // eof: the server closed after the third
  }
  int answered = 0;
  for (std::size_t at = 0; (at = all.find("Hello, World!", at)) != std::string::npos; ++at) ++answered;
  co_return answered == 3 ? 0 : 1;
}

int main(int argc, char** argv) {
  std::string_view arg = argc > 1 ? argv[1] : "127.0.0.1:8080";
  const bool test = arg == "--self-test";
  if (test) arg = "127.0.0.1:0";
  const auto colon = arg.rfind(':');
  tcp::endpoint ep(net::ip::make_address(std::string(arg.substr(0, colon))),
                   static_cast<unsigned short>(std::stoi(std::string(arg.substr(colon + 1)))));

  weft::runtime rt;
  tcp::acceptor acceptor(rt.get_executor(), ep);
  const tcp::endpoint bound = acceptor.local_endpoint();
  std::printf("http://%s:%u/\n", bound.address().to_string().c_str(), bound.port());
  std::fflush(stdout);

  if (test) {
    weft::join_handle<void> server = rt.spawn(serve(std::move(acceptor)));
    int rc = rt.block_on(self_test(rt.get_executor(), bound));
    server.cancel();
    std::printf("self-test: %s\n", rc ? "FAILED" : "3 requests answered on one connection");
    return rc;
  }
  rt.block_on(weft::when_any(serve(std::move(acceptor)), weft::ctrl_c()));
}
