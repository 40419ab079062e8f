#include <weft/pool/pool.hpp>

#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/runtime.hpp>
#include <weft/sync/event.hpp>
#include <weft/testing/sim.hpp>
#include <weft/time.hpp>
#include <weft/yield.hpp>

#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"
#include "pool_support.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::test::consistent;

namespace {

struct job {
  int id = 0;
  std::string type = "email";
  int fail_times = 0;  // fail (retryably) this many attempts first
  bool hang = false;
  bool fatal = false;
};

// Deadlines, backoff, breaker resets and stop timeouts below run in a weft::testing::sim: real
// durations (seconds, minutes), checked to the millisecond, in no wall time at all.
using std::chrono::nanoseconds;
using weft::testing::sim;

// Whether `d` lies in [lo, hi] plus the timer wheel's one-millisecond tick.
bool within(nanoseconds d, nanoseconds lo, nanoseconds hi) { return d >= lo && d <= hi + 1ms; }

}  // namespace

TEST_CASE("a pool processes every submitted job and its counters add up", "[pool]") {
  weft::runtime rt({.workers = 2});
  std::atomic<int> done{0};
  weft::job_pool<job> pool(rt, {.name = "basic", .concurrency = 4, .queue_capacity = 64}, [&](job) -> task<void> {
    done.fetch_add(1);
    co_return;
  });
  int accepted = 0;
  for (int i = 0; i < 1000; ++i) {
    auto st = rt.block_on([&]() -> task<weft::submit_status> {
      auto submitted = pool.submit(job{i});  // not inside the co_await: see runtime/README.md, g++ 12
      co_return co_await std::move(submitted);
    }());
    accepted += st == weft::submit_status::accepted;
    CHECK(consistent(pool.stats()));
  }
  auto report = rt.block_on(pool.stop(10s));
  auto s = pool.stats();
  CHECK(accepted == 1000);
  CHECK(done.load() == 1000);
  CHECK(s.submitted == 1000);
  CHECK(s.processed == 1000);
  CHECK(s.failed == 0);
  CHECK(s.queue_depth == 0);
  CHECK(s.in_flight == 0);
  CHECK(consistent(s));
  CHECK(report.cancelled == 0);
  CHECK(report.dead_lettered == 0);
}

TEST_CASE("try_submit sheds load when the queue is full and says why", "[pool]") {
  weft::runtime rt({.workers = 1});
  weft::event gate;
  weft::job_pool<job> pool(rt, {.name = "shed", .concurrency = 1, .queue_capacity = 2},
                           [&](job) -> task<void> { co_await gate.wait(); });
  CHECK(pool.try_submit(job{1}) == weft::submit_status::accepted);  // taken by the worker
  while (pool.stats().in_flight == 0) std::this_thread::yield();
  CHECK(pool.try_submit(job{2}) == weft::submit_status::accepted);
  CHECK(pool.try_submit(job{3}) == weft::submit_status::accepted);
  CHECK(pool.try_submit(job{4}) == weft::submit_status::queue_full);
  CHECK(weft::to_string(weft::submit_status::queue_full) == "rejected: the queue is full");
  auto s = pool.stats();
  CHECK(s.dropped == 1);
  CHECK(s.queue_depth == 2);
  CHECK(consistent(s));
  gate.set();
  rt.block_on(pool.stop(10s));
  CHECK(pool.try_submit(job{5}) == weft::submit_status::stopping);
  CHECK(pool.stats().processed == 3);
}

TEST_CASE("a job that overruns its deadline is cancelled at the deadline and counted as timed out",
          "[pool][cancel][sim]") {
  sim rt{{.seed = 1, .workers = 2}};
  std::vector<nanoseconds> cancelled_at;
  weft::job_pool<job> pool(rt, {.name = "deadline", .concurrency = 2, .queue_capacity = 8, .job_timeout = 30s},
                           [&](job j) -> task<void> {
                             if (!j.hang) co_return;
                             try {
                               co_await weft::sleep_for(1h);
                             } catch (const weft::cancelled_error&) {
                               cancelled_at.push_back(weft::now() - rt.start());
                               throw;
                             }
                           });
  pool.try_submit(job{1, "email", 0, true});
  pool.try_submit(job{2});
  rt.block_on(pool.stop(10min));
  CHECK(cancelled_at == std::vector<nanoseconds>{30s});
  CHECK(rt.now() - rt.start() == 30s);  // the stop drained as soon as the job timed out
  auto s = pool.stats();
  CHECK(s.timed_out == 1);
  CHECK(s.processed == 1);
  CHECK(s.failed == 1);
  auto letters = pool.take_dead_letters();
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].job.id == 1);
  CHECK(letters[0].attempts == 1);
  CHECK(letters[0].error.find("deadline") != std::string::npos);
}

TEST_CASE("a failure that is not retryable is dead-lettered at once", "[pool]") {
  weft::runtime rt({.workers = 2});
  std::atomic<int> attempts{0};
  weft::job_pool<job> pool(
      rt,
      {.name = "fatal", .concurrency = 2, .queue_capacity = 8, .retry = {.max_attempts = 4, .initial_backoff = 1ms}},
      [&](job j) -> task<void> {
        attempts.fetch_add(1);
        if (j.fatal) throw std::logic_error("bad payload");
        co_return;
      });
  pool.try_submit(job{1, "email", 0, false, true});
  rt.block_on(pool.stop(10s));
  auto s = pool.stats();
  CHECK(attempts.load() == 1);
  CHECK(s.failed == 1);
  CHECK(s.retried == 0);  // logic_error is not retryable
  auto letters = pool.take_dead_letters();
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].error == "bad payload");
  CHECK(letters[0].attempts == 1);
}

TEST_CASE("a job failing retryably succeeds on a later attempt, after exponential jittered backoff", "[pool][sim]") {
  sim rt{{.seed = 2, .workers = 2}};
  std::vector<nanoseconds> attempts_at;
  weft::job_pool<job> pool(
      rt,
      {.name = "flaky",
       .concurrency = 1,
       .queue_capacity = 8,
       .retry = {.max_attempts = 5, .initial_backoff = 1s, .multiplier = 2.0, .max_backoff = 3s, .jitter = 0.2}},
      [&](job j) -> task<void> {
        attempts_at.push_back(weft::now() - rt.start());
        if (static_cast<int>(attempts_at.size()) <= j.fail_times) throw weft::retryable_error("vendor busy");
        co_return;
      });
  pool.try_submit(job{1, "email", 3});
  rt.block_on(pool.stop(10min));
  auto s = pool.stats();
  REQUIRE(attempts_at.size() == 4);
  CHECK(attempts_at[0] == 0s);
  // 1 s, 2 s, then 4 s capped at 3 s: each within +-20 % (and the wheel's 1 ms tick).
  CHECK(within(attempts_at[1] - attempts_at[0], 800ms, 1200ms));
  CHECK(within(attempts_at[2] - attempts_at[1], 1600ms, 2400ms));
  CHECK(within(attempts_at[3] - attempts_at[2], 2400ms, 3600ms));
  CHECK(rt.now() - rt.start() == attempts_at[3]);
  CHECK(s.retried == 3);
  CHECK(s.processed == 1);
  CHECK(s.failed == 0);
}

TEST_CASE("retries stop at max_attempts and the job is dead-lettered with its attempt count", "[pool][sim]") {
  sim rt{{.seed = 3, .workers = 2}};
  weft::job_pool<job> pool(rt,
                           {.name = "hopeless",
                            .concurrency = 1,
                            .queue_capacity = 8,
                            .retry = {.max_attempts = 3, .initial_backoff = 10s, .max_backoff = 1min}},
                           [](job) -> task<void> {
                             throw weft::retryable_error("still down");
                             co_return;
                           });
  pool.try_submit(job{7});
  rt.block_on(pool.stop(10min));
  // Two waits, about 10 s and 20 s (+-20 %), then the dead letter.
  CHECK(within(rt.now() - rt.start(), 24s, 36s));
  auto letters = pool.take_dead_letters();
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].attempts == 3);
  CHECK(pool.stats().retried == 2);
  // Resubmitted, it goes round again.
  weft::job_pool<job> again(rt, {.name = "resubmit", .concurrency = 1}, [](job) -> task<void> { co_return; });
  CHECK(again.try_submit(letters[0].job) == weft::submit_status::accepted);
  rt.block_on(again.stop(10s));
  CHECK(again.stats().processed == 1);
}

TEST_CASE("a circuit opens after repeated failures of one job type and rejects that type only",
          "[pool][breaker][sim]") {
  sim rt{{.seed = 4}};
  weft::job_pool<job> pool(
      rt,
      {.name = "breaker",
       .concurrency = 1,
       .queue_capacity = 64,
       .breaker = {.enabled = true, .failure_threshold = 3, .reset_timeout = 1h}},
      [](job j) -> task<void> {
        if (j.type == "report") throw std::runtime_error("report service down");
        co_return;
      },
      [](const job& j) { return j.type; });
  for (int i = 0; i < 3; ++i) pool.try_submit(job{i, "report"});
  rt.advance(0ms);  // run what is queued
  CHECK(pool.stats().failed == 3);
  CHECK(pool.try_submit(job{10, "report"}) == weft::submit_status::circuit_open);
  CHECK(pool.try_submit(job{11, "email"}) == weft::submit_status::accepted);
  auto h = pool.health();
  CHECK_FALSE(h.healthy);
  bool mentions = false;
  for (auto& r : h.reasons) mentions |= r.find("circuit open for report") != std::string::npos;
  CHECK(mentions);
  rt.block_on(pool.stop(10s));
  CHECK(pool.stats().processed == 1);
}

TEST_CASE("an open circuit half-opens after reset_timeout; a failed probe opens it again, a good one closes it",
          "[pool][breaker][sim]") {
  sim rt{{.seed = 5}};
  bool down = true;  // one thread runs the sim and this test: no data race
  std::vector<nanoseconds> probes_at;
  weft::job_pool<job> pool(
      rt,
      {.name = "reset",
       .concurrency = 1,
       .queue_capacity = 64,
       .breaker = {.enabled = true, .failure_threshold = 3, .reset_timeout = 30s, .half_open_probes = 1}},
      [&](job j) -> task<void> {
        if (j.id >= 100) probes_at.push_back(weft::now() - rt.start());
        if (down) throw std::runtime_error("report service down");
        co_return;
      },
      [](const job& j) { return j.type; });
  for (int i = 0; i < 3; ++i) pool.try_submit(job{i, "report"});
  rt.advance(0ms);
  REQUIRE(pool.stats().failed == 3);  // open since t = 0
  rt.advance(30s - 1ms);
  CHECK(pool.try_submit(job{10, "report"}) == weft::submit_status::circuit_open);
  rt.advance(1ms);  // reset_timeout: half-open, one probe goes through
  CHECK(pool.try_submit(job{100, "report"}) == weft::submit_status::accepted);
  rt.advance(0ms);
  CHECK(probes_at == std::vector<nanoseconds>{30s});
  // The probe failed: open again, for another reset_timeout from the failure.
  CHECK(pool.try_submit(job{11, "report"}) == weft::submit_status::circuit_open);
  rt.advance(29s);
  CHECK(pool.try_submit(job{12, "report"}) == weft::submit_status::circuit_open);
  rt.advance(1s);
  down = false;
  CHECK(pool.try_submit(job{101, "report"}) == weft::submit_status::accepted);
  rt.advance(0ms);
  CHECK(probes_at == std::vector<nanoseconds>{30s, 60s});
  // The probe succeeded: closed, everything goes through again.
  for (int i = 20; i < 25; ++i) CHECK(pool.try_submit(job{i, "report"}) == weft::submit_status::accepted);
  for (auto& r : pool.health().reasons) CHECK(r.find("circuit") == std::string::npos);
  rt.block_on(pool.stop(10s));
  auto s = pool.stats();
  CHECK(s.processed == 6);
  CHECK(s.failed == 4);   // 3 to open it, and the failed probe
  CHECK(s.dropped == 3);  // refused while open
  CHECK(rt.now() - rt.start() == 60s);
}

TEST_CASE("a circuit whose reset_timeout is max() stays open: it never half-opens", "[pool][breaker][sim]") {
  sim rt{{.seed = 7}};
  weft::job_pool<job> pool(
      rt,
      {.name = "never",
       .concurrency = 1,
       .breaker = {.enabled = true, .failure_threshold = 1, .reset_timeout = std::chrono::milliseconds::max()}},
      [](job) -> task<void> {
        throw std::runtime_error("report service down");
        co_return;
      },
      [](const job& j) { return j.type; });
  REQUIRE(pool.try_submit(job{1, "report"}) == weft::submit_status::accepted);
  rt.advance(0ms);
  REQUIRE(pool.stats().failed == 1);  // open since t = 0
  CHECK(pool.try_submit(job{2, "report"}) == weft::submit_status::circuit_open);
  rt.advance(24h * 365);
  CHECK(pool.try_submit(job{3, "report"}) == weft::submit_status::circuit_open);
  rt.block_on(pool.stop(10s));
  CHECK(pool.stats().failed == 1);
}

TEST_CASE("stop drains the queue, then cancels what is left at the timeout", "[pool][cancel][sim]") {
  sim rt{{.seed = 6, .workers = 2}};
  weft::job_pool<job> pool(rt, {.name = "stopper", .concurrency = 1, .queue_capacity = 16}, [](job j) -> task<void> {
    if (j.hang) co_await weft::sleep_for(1h);
  });
  pool.try_submit(job{1, "email", 0, true});  // runs forever (cooperatively)
  rt.advance(0ms);
  CHECK(pool.stats().in_flight == 1);
  for (int i = 2; i <= 5; ++i) pool.try_submit(job{i});  // stuck behind it
  auto report = rt.block_on(pool.stop(30s));
  CHECK(rt.now() - rt.start() == 30s);  // exactly the drain timeout
  CHECK(report.cancelled == 1);
  CHECK(report.dead_lettered == 4);
  auto s = pool.stats();
  CHECK(s.failed == 5);
  CHECK(s.in_flight == 0);
  CHECK(s.queue_depth == 0);
  CHECK(consistent(s));
  CHECK(pool.take_dead_letters().size() == 5);
}

TEST_CASE("counters add up under concurrent submit, cancel and stop", "[pool][stress]") {
  weft::runtime rt({.workers = 2});
  weft::job_pool<job> pool(rt, {.name = "stress", .concurrency = 4, .queue_capacity = 32, .job_timeout = 2ms},
                           [](job j) -> task<void> {
                             if (j.id % 7 == 0) co_await weft::sleep_for(1h);  // times out
                             if (j.id % 11 == 0) throw std::runtime_error("boom");
                             co_await weft::yield();
                           });
  std::atomic<bool> go{true};
  std::atomic<long> offered{0};
  std::atomic<int> inconsistent{0};  // (Catch's assertions are not thread-safe: count, check once)
  std::vector<std::thread> producers;
  for (int p = 0; p < 3; ++p)
    producers.emplace_back([&, p] {
      for (int i = 0; go.load(); ++i) {
        pool.try_submit(job{p * 1'000'000 + i});
        offered.fetch_add(1);
        if (i % 64 == 0 && !consistent(pool.stats())) inconsistent.fetch_add(1);
      }
    });
  while (offered.load() < 20'000) std::this_thread::yield();
  auto report = rt.block_on(pool.stop(50ms));
  go.store(false);
  for (auto& t : producers) t.join();
  auto s = pool.stats();
  CHECK(inconsistent.load() == 0);
  CHECK(consistent(s));
  CHECK(s.in_flight == 0);
  CHECK(s.queue_depth == 0);
  CHECK(s.submitted + s.dropped == static_cast<std::uint64_t>(offered.load()));
  CHECK(s.processed + s.failed == s.submitted);
  (void)report;
}

TEST_CASE("letters resubmit_dead_letters puts back stay within dead_letter_capacity, the oldest dropped first",
          "[pool][dead_letters]") {
  weft::test::watchdog wd("dead letters resubmitted to a stopping pool");
  weft::runtime rt({.workers = 2});
  weft::event gate;
  std::atomic<bool> resubmitting{false};
  std::optional<weft::job_pool<job>> pool;
  pool.emplace(
      rt, weft::pool_options{.name = "refusing", .concurrency = 1, .dead_letter_capacity = 2},
      [&](job j) -> task<void> {
        if (j.hang) co_await gate.wait();
        throw std::runtime_error("upstream says no");
      },
      [&](const job& j) {
        if (resubmitting.load() && j.id == 1) {  // while resubmitting: job 3 fails, a new dead letter
          gate.set();
          while (pool->stats().dead_lettered < 3) std::this_thread::yield();
        }
        return j.type;
      });
  REQUIRE(pool->try_submit(job{1}) == weft::submit_status::accepted);
  REQUIRE(pool->try_submit(job{2}) == weft::submit_status::accepted);
  while (pool->stats().dead_lettered < 2) std::this_thread::yield();  // the dead letters are full
  REQUIRE(pool->try_submit(job{3, "email", 0, true}) == weft::submit_status::accepted);
  while (pool->stats().in_flight == 0) std::this_thread::yield();
  auto stopping = rt.spawn(pool->stop(10s));
  weft::test::wait_suspended(rt, 2);  // job 3 at its gate, the stop waiting for it: try_submit refuses
  resubmitting.store(true);
  CHECK(pool->resubmit_dead_letters() == 0);
  rt.block_on(std::move(stopping));
  auto s = pool->stats();
  CHECK(s.dead_lettered == 3);  // a letter put back is not counted again
  CHECK(s.dropped == 2);        // (its refusal is)
  auto letters = pool->take_dead_letters();
  REQUIRE(letters.size() == 2);
  CHECK(letters[0].job.id == 2);  // job 1's letter, the oldest, went
  CHECK(letters[1].job.id == 3);
}

TEST_CASE("resubmit_dead_letters cut short by an exception keeps the letters it did not submit",
          "[pool][dead_letters]") {
  weft::runtime rt({.workers = 2});
  std::atomic<bool> resubmitting{false};
  weft::job_pool<job> pool(
      rt, {.name = "interrupted", .concurrency = 1},
      [&](job) -> task<void> {
        if (!resubmitting.load()) throw std::runtime_error("upstream down");
        co_return;
      },
      [&](const job& j) {
        if (resubmitting.load() && j.id == 2) throw std::runtime_error("no type for job 2");
        return j.type;
      });
  for (int i = 1; i <= 3; ++i) REQUIRE(pool.try_submit(job{i}) == weft::submit_status::accepted);
  while (pool.stats().dead_lettered < 3) std::this_thread::yield();
  resubmitting.store(true);
  CHECK_THROWS_WITH(pool.resubmit_dead_letters(), "no type for job 2");
  rt.block_on(pool.stop(10s));
  CHECK(pool.stats().processed == 1);  // job 1 went round again, before the exception
  auto letters = pool.take_dead_letters();
  REQUIRE(letters.size() == 2);  // the one that threw, and the one not tried
  CHECK(letters[0].job.id == 2);
  CHECK(letters[1].job.id == 3);
}
