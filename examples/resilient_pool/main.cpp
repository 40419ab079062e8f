// A hardened pool (shared/seeds/004): retries with exponential backoff and jitter, a circuit
// breaker per job type, a dead-letter queue that keeps each failed job with its error and can
// resubmit it, health status with reasons, and a graceful stop. Then adaptive concurrency: a
// pool of 2 to 16 workers under a burst, printing its worker count as it grows and shrinks.
//
// The "payments" upstream fails a third of the time (retryable) and goes down completely for a
// while; "emails" always work; some "reports" are malformed (not retryable).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

struct job {
  int id;
  std::string type;
};

std::atomic<bool> payments_down{false};

weft::task<void> handle(job j) {
  static thread_local std::mt19937 rng(std::random_device{}());
  co_await weft::sleep_for(2ms);
  if (j.type == "payment") {
    if (payments_down.load()) throw weft::retryable_error("payments upstream: connection refused");
    if (rng() % 3 == 0) throw weft::retryable_error("payments upstream: 503");
  }
  if (j.type == "report" && j.id % 25 == 0) throw std::invalid_argument("report: malformed date range");
}

void print_health(const char* when, weft::job_pool<job>& pool) {
  auto h = pool.health();
  std::printf("%-28s %s", when, h.healthy ? "healthy" : "DEGRADED:");
  for (auto& r : h.reasons) std::printf(" [%s]", r.c_str());
  auto s = pool.stats();
  std::printf("  (processed %llu, failed %llu, retried %llu, dropped %llu)\n", (unsigned long long)s.processed,
              (unsigned long long)s.failed, (unsigned long long)s.retried, (unsigned long long)s.dropped);
}

int main() {
  weft::runtime rt({.name = "resilient"});
  weft::job_pool<job> pool(
      rt,
      {.name = "resilient",
       .concurrency = 8,
       .queue_capacity = 500,
       .job_timeout = 200ms,
       .retry = {.max_attempts = 4, .initial_backoff = 5ms, .multiplier = 2.0, .max_backoff = 50ms, .jitter = 0.3},
       .breaker = {.enabled = true, .failure_threshold = 5, .reset_timeout = 300ms}},
      handle, [](const job& j) { return j.type; });

  auto wave = [&](int from, int n) {
    const char* types[] = {"payment", "email", "report"};
    for (int i = from; i < from + n; ++i) pool.try_submit(job{i, types[i % 3]});
  };
  auto settle = [&] {
    while (pool.stats().in_flight + pool.stats().queue_depth > 0) std::this_thread::sleep_for(5ms);
  };

  wave(0, 300);
  settle();
  print_health("after a normal wave:", pool);

  payments_down = true;  // the payments upstream goes down: retries, then the breaker opens
  wave(300, 300);
  settle();
  print_health("with payments down:", pool);
  auto s = pool.stats();
  std::printf("  payments are now refused at submission: %s\n",
              std::string(weft::to_string(pool.try_submit(job{9999, "payment"}))).c_str());

  payments_down = false;  // it comes back; after reset_timeout the breaker lets a probe through
  std::this_thread::sleep_for(350ms);
  auto letters = pool.take_dead_letters();
  std::printf("dead letters: %zu; e.g. job %d (%s): \"%s\" after %zu attempts\n", letters.size(),
              letters.empty() ? -1 : letters.front().job.id, letters.empty() ? "" : letters.front().job.type.c_str(),
              letters.empty() ? "" : letters.front().error.c_str(), letters.empty() ? 0 : letters.front().attempts);
  // Put the payment letters back in: the upstream is up again. Malformed reports would only fail again.
  int resubmitted = 0;
  for (auto& l : letters)
    if (l.job.type == "payment" && pool.try_submit(l.job) == weft::submit_status::accepted) ++resubmitted;
  settle();
  std::printf("resubmitted %d payment jobs from the dead letters\n", resubmitted);
  print_health("after recovery:", pool);

  auto report = rt.block_on(pool.stop(2s));
  s = pool.stats();
  std::printf("stopped: %zu drained, %zu cancelled; submitted %llu = processed %llu + failed %llu\n", report.drained,
              report.cancelled, (unsigned long long)s.submitted, (unsigned long long)s.processed,
              (unsigned long long)s.failed);
  const bool balanced = s.submitted == s.processed + s.failed;

  // Adaptive concurrency: 2 workers when quiet, up to 16 while jobs wait in the queue longer
  // than 10 ms; a worker idle for 300 ms retires.
  weft::job_pool<job> elastic(rt,
                              {.name = "elastic",
                               .concurrency = 16,
                               .queue_capacity = 2000,
                               .min_concurrency = 2,
                               .scale_up_after = 10ms,
                               .scale_down_after = 300ms},
                              [](job) -> weft::task<void> { co_await weft::sleep_for(10ms); });
  std::printf("\nadaptive pool: 2..16 workers; a job waiting 10 ms adds one, a worker idle 300 ms retires\n");
  std::thread burst([&] {  // a ramp: 200 jobs/s more every 100 ms, up to 2,000/s (20 workers' worth), then quiet
    int n = 0;
    for (int step = 1; step <= 10; ++step)
      for (int tick = 0; tick < 10; ++tick) {
        for (int i = 0; i < 2 * step; ++i) elastic.try_submit(job{n++, "email"});
        std::this_thread::sleep_for(10ms);
      }
  });
  std::size_t peak = 0, workers = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int tick = 1; tick <= 40; ++tick) {
    std::this_thread::sleep_until(t0 + tick * 100ms);
    auto e = elastic.stats();
    workers = e.workers;
    peak = std::max(peak, workers);
    std::printf("  %.1f s  workers %2zu %-16s in flight %2zu  queued %4zu\n", tick / 10.0, e.workers,
                std::string(e.workers, '#').c_str(), e.in_flight, e.queue_depth);
    if (tick > 12 && workers == 2 && e.queue_depth == 0) break;  // back to the minimum
  }
  burst.join();
  rt.block_on(elastic.stop(2s));
  std::printf("peak %zu workers, back to %zu\n", peak, workers);
  return balanced && peak > 2 && workers == 2 ? 0 : 1;
}
