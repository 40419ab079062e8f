// A hardened pool (shared/seeds/004): retries with exponential backoff and jitter, a circuit
// breaker per job type, a dead-letter queue that keeps each failed job with its error and can
// resubmit it, health status with reasons, and a graceful stop.
//
// The "payments" upstream fails a third of the time (retryable) and goes down completely for a
// while; "emails" always work; some "reports" are malformed (not retryable).

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

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
  return s.submitted == s.processed + s.failed ? 0 : 1;
}
