// The runtime's metrics over HTTP for Prometheus, served by the runtime itself, while it works.
//
//   metrics_endpoint                  serves on 127.0.0.1:9464 until Ctrl-C
//   metrics_endpoint --self-test      on a free port: scrapes /metrics and /tasks once, exits
//
//   curl http://127.0.0.1:9464/metrics     Prometheus text format 0.0.4
//   curl http://127.0.0.1:9464/tasks       every live task as JSON (what it awaits, for how long)
#include <cstdio>
#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <weft/asio.hpp>
#include <weft/weft.hpp>

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

// Something for the metrics to show: a producer and two consumers on a named channel (its
// blocked time and depth are metrics too), with a little sleeping and spawning.
weft::task<void> work() {
  weft::channel<int> jobs(8, {.name = "jobs"});
  auto consumer = [](weft::channel<int>& ch) -> weft::task<void> {
    while (auto job = co_await ch.recv()) co_await weft::sleep_for(std::chrono::milliseconds(*job % 3));
  };
  weft::task_group g;
  g.spawn(consumer(jobs), {.name = "consumer"});
  g.spawn(consumer(jobs), {.name = "consumer"});
  for (int i = 0;; ++i) {
    co_await jobs.send(i);  // a cancellation point: Ctrl-C ends the loop
    if (i % 100 == 0) co_await weft::spawn([]() -> weft::task<void> { co_return; }());
  }
}

// --self-test: GET a path over a fresh connection; the status line and the body.
weft::task<std::string> scrape(weft::executor ex, std::uint16_t port, std::string path) {
  tcp::socket s(ex);
  co_await s.async_connect({net::ip::make_address("127.0.0.1"), port}, weft::use_task);
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  co_await net::async_write(s, net::buffer(req), weft::use_task);
  std::string all;
  char buf[4096];
  try {
    for (;;) all.append(buf, co_await s.async_read_some(net::buffer(buf), weft::use_task));
  } catch (const boost::system::system_error&) {  // eof
  }
  co_return all;
}

int main(int argc, char** argv) {
  std::string_view arg = argc > 1 ? argv[1] : "127.0.0.1:9464";
  const bool test = arg == "--self-test";
  weft::runtime rt({.name = "demo"});
  weft::metrics::server endpoint = weft::metrics::serve(rt, test ? "127.0.0.1:0" : arg);
  std::printf("curl http://127.0.0.1:%u/metrics\ncurl http://127.0.0.1:%u/tasks\n", endpoint.port(), endpoint.port());
  std::fflush(stdout);

  weft::join_handle<void> busy = rt.spawn(work(), {.name = "work"});
  if (test) {
    std::string metrics = rt.block_on(scrape(rt.get_executor(), endpoint.port(), "/metrics"));
    std::string tasks = rt.block_on(scrape(rt.get_executor(), endpoint.port(), "/tasks"));
    busy.cancel();
    const bool ok = metrics.rfind("HTTP/1.1 200 OK", 0) == 0 &&
                    metrics.find("weft_tasks_spawned_total{runtime=\"demo\"}") != std::string::npos &&
                    tasks.find("\"name\":\"consumer\"") != std::string::npos;
    std::printf("self-test: %s\n", ok ? "scraped /metrics and /tasks" : "FAILED");
    return ok ? 0 : 1;
  }
  rt.block_on(weft::ctrl_c());
  busy.cancel();
  endpoint.stop();
}
