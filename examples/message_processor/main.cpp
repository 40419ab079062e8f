// A message processor on weft::job_pool (shared/seeds/003): a bounded queue, non-blocking
// submit that sheds load when the queue is full, a graceful drain on stop, and the pool's
// stats and Prometheus metrics.

#include <chrono>
#include <cstdio>
#include <string>

#include <weft/metrics/registry.hpp>
#include <weft/weft.hpp>

using namespace std::chrono_literals;

struct message {
  int id;
  std::string payload;
};

int main() {
  weft::runtime rt({.name = "messages"});
  weft::job_pool<message> pool(rt, {.name = "message_processor", .concurrency = 10, .queue_capacity = 100},
                               [](message m) -> weft::task<void> {
                                 co_await weft::sleep_for(5ms);  // handle it (a database write, say)
                                 if (m.id % 97 == 0) throw std::runtime_error("malformed payload");
                               });

  // A burst of 1,000 messages from a plain thread: the queue holds 100, the rest is shed.
  int shed = 0;
  for (int i = 0; i < 1000; ++i)
    if (pool.try_submit(message{i, "msg-" + std::to_string(i)}) != weft::submit_status::accepted) ++shed;
  std::printf("burst: 1000 offered, %d shed (%s)\n", shed,
              std::string(weft::to_string(weft::submit_status::queue_full)).c_str());

  // Backpressure instead: co_await submit() waits for room.
  rt.block_on([&]() -> weft::task<void> {
    for (int i = 1000; i < 1200; ++i) {
      message m{i, "msg"};  // a named job, not a temporary in the co_await (g++ 12: runtime/README.md)
      co_await pool.submit(std::move(m));
    }
  }());

  auto report = rt.block_on(pool.stop(5s));
  auto s = pool.stats();
  std::printf("stats: workers %zu, queue %zu/%zu, submitted %llu, processed %llu, failed %llu, dropped %llu\n",
              s.workers, s.queue_depth, s.queue_capacity, (unsigned long long)s.submitted,
              (unsigned long long)s.processed, (unsigned long long)s.failed, (unsigned long long)s.dropped);
  std::printf("stop: %zu drained, %zu cancelled, %zu dead-lettered at the timeout\n", report.drained, report.cancelled,
              report.dead_lettered);
  for (auto& d : pool.take_dead_letters()) std::printf("dead letter: message %d: %s\n", d.job.id, d.error.c_str());

  // The pool's metrics, as Prometheus scrapes them.
  std::string text = rt.metrics().to_prometheus();
  for (std::size_t at = 0; (at = text.find("weft_pool_processed_total{", at)) != std::string::npos; ++at)
    std::printf("%s\n", text.substr(at, text.find('\n', at) - at).c_str());
  return s.submitted == s.processed + s.failed ? 0 : 1;
}
