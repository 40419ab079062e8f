// A TCP echo server on weft: one task per connection, Asio sockets served by the runtime's
// reactor, no thread pool besides the runtime's workers.
//
//   tcp_echo                    serves on 127.0.0.1:7777 until Ctrl-C
//   tcp_echo 127.0.0.1:0        on a free port (printed)
//   tcp_echo --self-test        on a free port: 8 clients x 100 round trips, then exits (0 = ok)
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <weft/asio.hpp>
#include <weft/weft.hpp>

namespace net = boost::asio;
using tcp = net::ip::tcp;

// Echoes until the client closes (or the server is stopped: the read throws cancelled_error).
weft::task<void> echo(tcp::socket s) {
  char buf[4096];
  try {
    for (;;) {
      std::size_t n = co_await s.async_read_some(net::buffer(buf), weft::use_task);
      co_await net::async_write(s, net::buffer(buf, n), weft::use_task);
    }
  } catch (const boost::system::system_error&) {  // eof: the client is done
  }
}

// Accepts forever; each connection is a task of its own, which any worker may run.
weft::task<void> serve(tcp::acceptor acceptor) {
  for (;;) {
    tcp::socket s = co_await acceptor.async_accept(weft::use_task);
    weft::spawn(echo(std::move(s)), {.name = "echo connection"}).detach();
  }
}

// --self-test: a client that checks every echo.
weft::task<int> client(weft::executor ex, tcp::endpoint server, int id) {
  tcp::socket s(ex);
  co_await s.async_connect(server, weft::use_task);
  for (int i = 0; i < 100; ++i) {
    std::string msg = "client " + std::to_string(id) + " message " + std::to_string(i);
    co_await net::async_write(s, net::buffer(msg), weft::use_task);
    std::string back(msg.size(), '\0');
    co_await net::async_read(s, net::buffer(back), weft::use_task);
    if (back != msg) co_return 1;
  }
  co_return 0;
}

weft::task<int> self_test(weft::executor ex, tcp::endpoint server) {
  std::vector<weft::task<int>> clients;
  for (int id = 0; id < 8; ++id) clients.push_back(client(ex, server, id));
  int failures = 0;
  for (int r : co_await weft::when_all(std::move(clients))) failures += r;
  co_return failures;
}

int main(int argc, char** argv) {
  std::string_view arg = argc > 1 ? argv[1] : "127.0.0.1:7777";
  const bool test = arg == "--self-test";
  if (test) arg = "127.0.0.1:0";
  const auto colon = arg.rfind(':');
  tcp::endpoint ep(net::ip::make_address(std::string(arg.substr(0, colon))),
                   static_cast<unsigned short>(std::stoi(std::string(arg.substr(colon + 1)))));

  weft::runtime rt;
  tcp::acceptor acceptor(rt.get_executor(), ep);
  const tcp::endpoint bound = acceptor.local_endpoint();
  std::printf("echo server on %s:%u\n", bound.address().to_string().c_str(), bound.port());
  std::fflush(stdout);

  if (test) {
    weft::join_handle<void> server = rt.spawn(serve(std::move(acceptor)), {.name = "accept loop"});
    int failures = rt.block_on(self_test(rt.get_executor(), bound));
    server.cancel();  // the pending accept is cancelled through Asio's cancellation slot
    std::printf("self-test: %s\n", failures ? "FAILED" : "800 round trips echoed");
    return failures ? 1 : 0;
  }
  // Serve until Ctrl-C: when_any cancels the accept loop once the signal arrives. Connections
  // still open end when the runtime shuts down.
  rt.block_on(weft::when_any(serve(std::move(acceptor)), weft::ctrl_c()));
  std::printf("bye\n");
}
