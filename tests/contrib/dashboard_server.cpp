// Serves weft's live page (metrics::serve, `/`) over a runtime in a known state, for the
// headless-browser test (dashboard_page_test.py) and tools/dashboard-screenshot.
//
//   dashboard_server [ENDPOINT] [--demo]
//
// Prints "dashboard: http://HOST:PORT/" on its first line, then serves until its standard input
// closes. Without --demo the state is fixed, so a test can check the page shows it:
//   runtime "dash", 2 workers; a task named "stuck-on-purpose" asleep;
//   pool "orders": 1 worker, 1 job in flight, 8 of 8 queued (100 bytes each), 25 processed,
//   3 failed (dead letters), 5 dropped (4 queue full, 1 circuit open), 1 circuit open.
// With --demo it keeps two pools busy with a varying load (retries, a breaker opening, shedding,
// an adaptive pool growing and shrinking), for a picture of the page at work.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include <weft/asio.hpp>
#include <weft/weft.hpp>

using namespace std::chrono_literals;
using weft::task;

namespace {

task<void> stuck() { co_await weft::sleep_for(24h); }

template <class Pred>
void wait_for(weft::job_pool<int>& pool, Pred done) {
  while (!done(pool.stats())) std::this_thread::yield();
}

task<void> submit_all(weft::job_pool<int>& pool, int from, int to) {
  for (int j = from; j <= to; ++j) {
    auto submitting = pool.submit(j);  // waits for room: nothing is shed
    co_await std::move(submitting);
  }
}

// The fixed state described above (jobs from 1000 on wait at a gate that never opens).
void fixed(weft::runtime& rt, weft::job_pool<int>& pool) {
  for (int j : {-1, -2, -3}) pool.try_submit(j);  // "bad" jobs: they fail, the circuit opens
  wait_for(pool, [](const weft::pool_stats& s) { return s.failed == 3; });
  rt.block_on(submit_all(pool, 1, 25));
  wait_for(pool, [](const weft::pool_stats& s) { return s.processed == 25; });
  pool.try_submit(1000);  // waits at the gate: in flight for good
  wait_for(pool, [](const weft::pool_stats& s) { return s.in_flight == 1; });
  for (int j = 1001; j <= 1008; ++j) pool.try_submit(j);  // the queue is full now
  for (int j = 2000; j < 2004; ++j) pool.try_submit(j);   // queue_full: dropped
  pool.try_submit(-4);                                    // circuit_open: dropped
}

// A varying load for the demo: bursts, failures, a failing job type, an adaptive pool.
void demo_load(weft::job_pool<int>& payments, weft::job_pool<int>& emails, std::atomic<bool>& running) {
  std::mt19937 rng(7);
  for (int i = 0; running.load(); ++i) {
    const double phase = std::sin(i / 300.0);  // slow waves of load, about 20 s apart
    const int burst = phase > 0.6 ? 9 : phase > 0 ? 4 : 1;
    for (int b = 0; b < burst; ++b) {
      payments.try_submit(static_cast<int>(rng() % 1000));
      if (b % 2 == 0) emails.try_submit(static_cast<int>(rng() % 1000));
    }
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string endpoint = "127.0.0.1:0";
  bool demo = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--demo")
      demo = true;
    else
      endpoint = a;
  }
  weft::runtime rt({.workers = 2, .name = "dash"});
  weft::event gate;  // never set: the job in flight stays there
  weft::job_pool<int> orders(rt,
                             {.name = "orders",
                              .concurrency = 1,
                              .queue_capacity = 8,
                              .breaker = {.enabled = true, .failure_threshold = 3, .reset_timeout = 24h}},
                             [&gate](int j) -> task<void> {
                               if (j < 0) throw std::runtime_error("upstream refused the order");
                               if (j >= 1000) co_await gate.wait();
                             },
                             {.type_of = [](const int& j) { return std::string(j < 0 ? "bad" : "good"); },
                              .size_of = [](const int&) -> std::size_t { return 100; }});
  std::optional<weft::job_pool<int>> payments, emails;
  std::atomic<bool> running{true};
  std::thread load;
  rt.spawn(stuck(), {.name = "stuck-on-purpose"}).detach();
  if (demo) {
    payments.emplace(
        rt,
        weft::pool_options{.name = "payments",
                           .concurrency = 8,
                           .queue_capacity = 64,
                           .job_timeout = 200ms,
                           .retry = {.max_attempts = 3, .initial_backoff = 5ms},
                           .breaker = {.enabled = true, .failure_threshold = 5, .reset_timeout = 2s},
                           .max_queued_bytes = 48 * 1024,
                           .min_concurrency = 2,
                           .scale_up_after = 20ms,
                           .scale_down_after = 1s},
        [](int j) -> task<void> {
          co_await weft::sleep_for(std::chrono::milliseconds(2 + j % 15));
          if (j % 50 < 3) throw std::runtime_error("fraud-check service down");
          if (j % 10 == 0) throw weft::retryable_error("payments upstream: 503");
          if (j % 97 == 0) throw std::invalid_argument("malformed card number");
        },
        weft::pool_hooks<int>{
            .type_of = [](const int& j) { return std::string(j % 50 < 3 ? "fraud-check" : "card"); },
            .size_of = [](const int& j) -> std::size_t { return 512 + static_cast<std::size_t>(j); }});
    emails.emplace(rt, weft::pool_options{.name = "emails", .concurrency = 2, .queue_capacity = 32},
                   [](int j) -> task<void> { co_await weft::sleep_for(std::chrono::milliseconds(1 + j % 4)); });
    load = std::thread([&] { demo_load(*payments, *emails, running); });
    // A report that hogs its worker for 150 ms: the stall detector reports it (a stall).
    rt.spawn(
          []() -> task<void> {
            auto until = std::chrono::steady_clock::now() + 150ms;
            while (std::chrono::steady_clock::now() < until) {
            }
            co_return;
          }(),
          {.name = "slow-report"})
        .detach();
  }
  fixed(rt, orders);
  auto server = weft::metrics::serve(rt, endpoint);
  std::printf("dashboard: http://127.0.0.1:%u/\n", static_cast<unsigned>(server.port()));
  std::fflush(stdout);
  char c;
  while (::read(0, &c, 1) > 0) {
  }
  running = false;
  if (load.joinable()) load.join();
  server.stop();
  rt.shutdown();
  return 0;
}
