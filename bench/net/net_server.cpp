// The network benchmark's servers: http_hello and a TCP echo, each on weft and on plain
// Boost.Asio in two layouts. bench/net/run.sh starts them one at a time and drives them with
// wrk (http) or echo_client (echo).
//
//   net_server --system weft            --app http --port 0 --threads 2
//   net_server --system weft-per-worker ...   runtime_options::reactors = per_worker, with an
//                                             SO_REUSEPORT acceptor on each worker's reactor
//   net_server --system asio-shared     ...   one io_context run by N threads
//   net_server --system asio-per-thread ...   N io_contexts, each run by one thread with its own
//                                             SO_REUSEPORT acceptor (the kernel spreads accepts)
//
// Every variant runs the same session logic (http_hello.hpp, or echo: read_some then write
// what was read), written as coroutines: weft::task with weft::use_task, asio::awaitable with
// asio::use_awaitable. It prints "listening on <port>" once it accepts, then serves until it
// gets SIGINT or SIGTERM.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <weft/asio.hpp>
#include <weft/weft.hpp>

#include "http_hello.hpp"

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

struct config {
  std::string system = "weft";
  std::string app = "http";
  unsigned short port = 0;
  unsigned threads = 2;
  int idle_spin_us = -1;  // weft only: runtime_options::idle_spin, -1 for its default
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: net_server [--system weft|weft-per-worker|asio-shared|asio-per-thread] [--app http|echo] "
               "[--port N] "
               "[--threads N] [--idle-spin-us N]\n");
  std::exit(2);
}

config parse(int argc, char** argv) {
  config c;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (i + 1 >= argc) usage();
    std::string_view v = argv[++i];
    if (a == "--system")
      c.system = v;
    else if (a == "--app")
      c.app = v;
    else if (a == "--port")
      c.port = static_cast<unsigned short>(std::atoi(argv[i]));
    else if (a == "--threads")
      c.threads = static_cast<unsigned>(std::atoi(argv[i]));
    else if (a == "--idle-spin-us")
      c.idle_spin_us = std::atoi(argv[i]);
    else
      usage();
  }
  if ((c.system != "weft" && c.system != "weft-per-worker" && c.system != "asio-shared" &&
       c.system != "asio-per-thread") ||
      (c.app != "http" && c.app != "echo") || c.threads == 0)
    usage();
  return c;
}

tcp::acceptor listen(const net::any_io_executor& ex, unsigned short port, bool reuse_port) {
  tcp::acceptor a(ex);
  tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
  a.open(ep.protocol());
  a.set_option(tcp::acceptor::reuse_address(true));
  if (reuse_port) {
    int one = 1;
    ::setsockopt(a.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  }
  a.bind(ep);
  a.listen(1024);
  return a;
}

void announce(unsigned short port) {
  std::printf("listening on %u\n", port);
  std::fflush(stdout);
}

// ---------------------------------------------------------------- weft

weft::task<void> weft_http(tcp::socket s) {
  std::string in, out;
  char buf[4096];
  try {
    for (bool keep = true; keep;) {
      std::size_t n = co_await s.async_read_some(net::buffer(buf), weft::use_task);
      in.append(buf, n);
      keep = bench::answer_requests(in, out);
      if (!out.empty()) {
        co_await net::async_write(s, net::buffer(out), weft::use_task);
        out.clear();
      }
    }
  } catch (const std::exception&) {  // the client went away
  }
}

weft::task<void> weft_echo(tcp::socket s) {
  char buf[4096];
  try {
    for (;;) {
      std::size_t n = co_await s.async_read_some(net::buffer(buf), weft::use_task);
      co_await net::async_write(s, net::buffer(buf, n), weft::use_task);
    }
  } catch (const std::exception&) {
  }
}

weft::task<void> weft_accept(tcp::acceptor acceptor, bool http) {
  for (;;) {
    tcp::socket s = co_await acceptor.async_accept(weft::use_task);
    s.set_option(tcp::no_delay(true));
    if (http)
      weft::spawn(weft_http(std::move(s))).detach();
    else
      weft::spawn(weft_echo(std::move(s))).detach();
  }
}

// ---------------------------------------------------------------- plain Asio

net::awaitable<void> asio_http(tcp::socket s) {
  std::string in, out;
  char buf[4096];
  try {
    for (bool keep = true; keep;) {
      std::size_t n = co_await s.async_read_some(net::buffer(buf), net::use_awaitable);
      in.append(buf, n);
      keep = bench::answer_requests(in, out);
      if (!out.empty()) {
        co_await net::async_write(s, net::buffer(out), net::use_awaitable);
        out.clear();
      }
    }
  } catch (const std::exception&) {
  }
}

net::awaitable<void> asio_echo(tcp::socket s) {
  char buf[4096];
  try {
    for (;;) {
      std::size_t n = co_await s.async_read_some(net::buffer(buf), net::use_awaitable);
      co_await net::async_write(s, net::buffer(buf, n), net::use_awaitable);
    }
  } catch (const std::exception&) {
  }
}

net::awaitable<void> asio_accept(tcp::acceptor acceptor, bool http) {
  for (;;) {
    tcp::socket s = co_await acceptor.async_accept(net::use_awaitable);
    s.set_option(tcp::no_delay(true));
    auto ex = s.get_executor();
    if (http)
      net::co_spawn(ex, asio_http(std::move(s)), net::detached);
    else
      net::co_spawn(ex, asio_echo(std::move(s)), net::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const config c = parse(argc, argv);
  const bool http = c.app == "http";

  // SIGINT/SIGTERM end the process: wait for them on the main thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // inherited by every thread started below
  auto wait_for_signal = [&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
  };

  if (c.system == "weft") {
    weft::runtime_options o{.workers = c.threads, .name = "net"};
    if (c.idle_spin_us >= 0) o.idle_spin = std::chrono::microseconds(c.idle_spin_us);
    weft::runtime rt(o);
    tcp::acceptor a = listen(rt.get_executor(), c.port, false);
    announce(a.local_endpoint().port());
    rt.spawn(weft_accept(std::move(a), http)).detach();
    wait_for_signal();
    return 0;
  }

  if (c.system == "weft-per-worker") {
    // A reactor per worker, laid out as asio-per-thread: an acceptor on each (SO_REUSEPORT), so
    // that the kernel deals the connections out and each is served where its events arrive.
    weft::runtime_options o{.workers = c.threads, .name = "net", .reactors = weft::reactor_layout::per_worker};
    if (c.idle_spin_us >= 0) o.idle_spin = std::chrono::microseconds(c.idle_spin_us);
    weft::runtime rt(o);
    unsigned short port = c.port;
    for (const weft::executor& ex : rt.worker_executors()) {
      tcp::acceptor a = listen(ex, port, true);
      port = a.local_endpoint().port();
      rt.spawn(weft_accept(std::move(a), http)).detach();
    }
    announce(port);
    wait_for_signal();
    if (std::getenv("WEFT_NET_METRICS")) std::fputs(rt.metrics().to_prometheus().c_str(), stderr);
    return 0;
  }

  if (c.system == "asio-shared") {
    net::io_context io(static_cast<int>(c.threads));
    tcp::acceptor a = listen(io.get_executor(), c.port, false);
    announce(a.local_endpoint().port());
    net::co_spawn(io, asio_accept(std::move(a), http), net::detached);
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < c.threads; ++i) threads.emplace_back([&] { io.run(); });
    wait_for_signal();
    io.stop();
    for (auto& t : threads) t.join();
    return 0;
  }

  // asio-per-thread: the first acceptor picks the port, the others join it with SO_REUSEPORT.
  std::vector<std::unique_ptr<net::io_context>> ios;
  unsigned short port = c.port;
  for (unsigned i = 0; i < c.threads; ++i) {
    ios.push_back(std::make_unique<net::io_context>(1));
    tcp::acceptor a = listen(ios.back()->get_executor(), port, true);
    port = a.local_endpoint().port();
    net::co_spawn(*ios.back(), asio_accept(std::move(a), http), net::detached);
  }
  announce(port);
  std::vector<std::thread> threads;
  for (auto& io : ios) threads.emplace_back([&io] { io->run(); });
  wait_for_signal();
  for (auto& io : ios) io->stop();
  for (auto& t : threads) t.join();
  return 0;
}
