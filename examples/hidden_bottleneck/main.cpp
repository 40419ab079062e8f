// The hidden bottleneck (shared/seeds/002), retold with weft.
//
//   hidden_bottleneck [--fixed] [--trace=FILE]
//
// Eight workers take requests from a queue: fast cache reads (2 ms) and slow vendor calls
// (40 ms, one in ten degraded to 400 ms). Each worker sends its result into a `results`
// channel that one consumer drains at 5 ms a result. With the 4-slot results channel of the
// story, workers look busy but spend their time blocked sending results, and fast requests
// queue behind slow ones. The channel's metrics and the trace's summary by await site show it
// at once. --fixed gives the results channel room for 100 results per worker.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <weft/metrics/registry.hpp>
#include <weft/weft.hpp>

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

struct request {
  int id;
  bool vendor;  // a slow vendor call, or a fast cache read
  bool degraded;
  clock_type::time_point arrived;
};
struct result {
  int id;
  bool vendor;
  clock_type::time_point arrived;
};

constexpr int workers = 8;
constexpr int requests = 400;

weft::task<void> worker(weft::channel<request>& in, weft::channel<result>& out) {
  while (auto r = co_await in.recv()) {
    if (r->vendor)
      co_await weft::sleep_for(r->degraded ? 400ms : 40ms);
    else
      co_await weft::sleep_for(2ms);
    co_await out.send(result{r->id, r->vendor, r->arrived});  // the line that hides the bottleneck
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool fixed = false;
  std::string trace_file;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--fixed") == 0)
      fixed = true;
    else if (std::strncmp(argv[i], "--trace=", 8) == 0)
      trace_file = argv[i] + 8;
    else {
      std::fprintf(stderr, "usage: %s [--fixed] [--trace=FILE]\n", argv[0]);
      return 2;
    }
  }
  const std::size_t results_capacity = fixed ? workers * 100 : 4;
  weft::runtime rt({.name = "bottleneck"});
  weft::trace tracing(rt);

  std::vector<double> cache_latency_ms;
  clock_type::duration workers_done{};
  weft::metrics::histogram_snapshot blocked;  // read while the channel lives: its series go with it
  auto start = clock_type::now();
  rt.block_on([&]() -> weft::task<void> {
    weft::channel<request> queue(requests, {.name = "requests"});
    weft::channel<result> results(results_capacity, {.name = "results"});
    std::mt19937 rng(42);
    for (int i = 0; i < requests; ++i) {
      bool vendor = rng() % 3 == 0;
      queue.try_send(request{i, vendor, vendor && rng() % 10 == 0, clock_type::now()});
    }
    queue.close();
    std::vector<weft::join_handle<void>> pool;
    for (int w = 0; w < workers; ++w) pool.push_back(weft::spawn(worker(queue, results), {.name = "worker"}));
    auto consumer = weft::spawn(
        [](weft::channel<result>& in, std::vector<double>& lat) -> weft::task<void> {
          while (auto r = co_await in.recv()) {
            co_await weft::sleep_for(5ms);  // the slow result consumer
            if (!r->vendor)
              lat.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - r->arrived).count());
          }
        }(results, cache_latency_ms),
        {.name = "consumer"});
    for (auto& w : pool) co_await w;
    workers_done = clock_type::now() - start;
    results.close();
    co_await consumer;
    blocked = rt.metrics().snapshot().histogram("weft_channel_send_blocked_seconds", {{"channel", "results"}});
  }());
  auto total = clock_type::now() - start;
  tracing.stop();

  std::sort(cache_latency_ms.begin(), cache_latency_ms.end());
  double p50 = cache_latency_ms[cache_latency_ms.size() / 2];
  double p95 = cache_latency_ms[cache_latency_ms.size() * 95 / 100];

  std::printf("hidden_bottleneck%s: %d requests, %d workers, results channel of %zu\n", fixed ? " --fixed" : "",
              requests, workers, results_capacity);
  std::printf("  workers finished the requests in %.0f ms (%.0f requests/s); everything done in %.0f ms\n",
              std::chrono::duration<double, std::milli>(workers_done).count(),
              requests / std::chrono::duration<double>(workers_done).count(),
              std::chrono::duration<double, std::milli>(total).count());
  std::printf("  fast cache reads, request to consumer: p50 %.0f ms, p95 %.0f ms\n", p50, p95);
  std::printf("  channel metrics: senders blocked on `results` %llu times, %.0f ms in all (p95 %.1f ms per send)\n",
              static_cast<unsigned long long>(blocked.count), blocked.sum * 1e3,
              blocked.count ? blocked.quantile(0.95) * 1e3 : 0.0);
  std::printf("%s", tracing.summary(5).c_str());
  if (!trace_file.empty()) {
    std::ofstream out(trace_file);
    tracing.write_chrome_json(out);
    std::printf("  trace written to %s (open it in ui.perfetto.dev)\n", trace_file.c_str());
  }
  return 0;
}
