// job_pool's options, names and arguments: what cannot work is refused with an error naming
// it, and leaves the pool (or the registry's names) as they were.

#include <atomic>
#include <chrono>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include <weft/errors.hpp>
#include <weft/pool/pool.hpp>
#include <weft/runtime.hpp>
#include <weft/sync/event.hpp>

#include "../../support/watchdog.hpp"
#include "pool_support.hpp"

using namespace std::chrono_literals;
using weft::task;

namespace {

std::string invalid_argument_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no std::invalid_argument)";
}

}  // namespace

TEST_CASE("options that cannot work are refused, naming the field", "[pool][misuse]") {
  weft::runtime rt({.workers = 1});
  auto processor = [](int) -> task<void> { co_return; };
  auto with = [&](weft::pool_options o) {
    return invalid_argument_of([&] { weft::job_pool<int> pool(rt, std::move(o), processor); });
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(with({.queue_capacity = 0}).find("queue_capacity") != std::string::npos);
  CHECK(with({.job_timeout = -1ms}).find("job_timeout") != std::string::npos);
  CHECK(with({.retry = {.max_attempts = 0}}).find("retry.max_attempts") != std::string::npos);
  CHECK(with({.retry = {.initial_backoff = -5ms}}).find("retry.initial_backoff") != std::string::npos);
  CHECK(with({.retry = {.max_backoff = -5ms}}).find("retry.max_backoff") != std::string::npos);
  CHECK(with({.retry = {.multiplier = nan}}).find("retry.multiplier") != std::string::npos);
  CHECK(with({.retry = {.multiplier = 0.5}}).find("retry.multiplier") != std::string::npos);
  CHECK(with({.retry = {.jitter = nan}}).find("retry.jitter") != std::string::npos);
  CHECK(with({.retry = {.jitter = 1.5}}).find("retry.jitter") != std::string::npos);
  CHECK(with({.breaker = {.enabled = true, .failure_threshold = 0}}).find("breaker.failure_threshold") !=
        std::string::npos);
  CHECK(with({.breaker = {.enabled = true, .reset_timeout = -1ms}}).find("breaker.reset_timeout") != std::string::npos);
  CHECK(with({.degraded_queue_fill = nan}).find("degraded_queue_fill") != std::string::npos);
  CHECK(with({.max_queued_bytes = 1024}).find("max_queued_bytes needs pool_hooks::size_of") != std::string::npos);
  CHECK(with({.concurrency = 2, .min_concurrency = 3}).find("min_concurrency") != std::string::npos);
  CHECK(with({.scale_up_after = -1ms}).find("scale_up_after") != std::string::npos);
  CHECK(with({.scale_down_after = -1ms}).find("scale_down_after") != std::string::npos);
  // Nothing was left registered by the refused pools: a good one takes the default name.
  weft::job_pool<int> ok(rt, {}, processor);
  CHECK(rt.metrics().to_prometheus().find("pool=\"pool\"") != std::string::npos);
  rt.block_on(ok.stop(1s));
}

TEST_CASE("a pool without a processor is refused at construction, and its name stays free", "[pool][misuse]") {
  weft::runtime rt({.workers = 1});
  std::string error = invalid_argument_of([&] { weft::job_pool<int> pool(rt, {.name = "nothing"}, nullptr); });
  CHECK(error.find("processor") != std::string::npos);
  weft::job_pool<int> ok(rt, {.name = "nothing"}, [](int) -> task<void> { co_return; });
  rt.block_on(ok.stop(1s));
}

TEST_CASE("a type_of that throws leaves the queue's room as it was", "[pool][misuse]") {
  weft::runtime rt({.workers = 1});
  weft::event gate;
  weft::job_pool<int> pool(
      rt, {.concurrency = 1, .queue_capacity = 2}, [&](int) -> task<void> { co_await gate.wait(); },
      [](const int& j) -> std::string {
        if (j < 0) throw std::runtime_error("no type for a negative job");
        return "t";
      });
  REQUIRE(pool.try_submit(1) == weft::submit_status::accepted);
  while (pool.stats().in_flight == 0) std::this_thread::yield();
  for (int i = 0; i < 5; ++i) CHECK_THROWS_AS(pool.try_submit(-1), std::runtime_error);
  CHECK(pool.try_submit(2) == weft::submit_status::accepted);  // both slots still free
  CHECK(pool.try_submit(3) == weft::submit_status::accepted);
  CHECK(pool.try_submit(4) == weft::submit_status::queue_full);
  gate.set();
  rt.block_on(pool.stop(10s));
  CHECK(pool.stats().processed == 3);
}

TEST_CASE("dead_letter_capacity 0 counts dead letters and keeps none", "[pool]") {
  weft::runtime rt({.workers = 1});
  weft::job_pool<int> pool(rt, {.concurrency = 1, .dead_letter_capacity = 0}, [](int) -> task<void> {
    throw std::runtime_error("no");
    co_return;
  });
  for (int i = 0; i < 3; ++i) REQUIRE(pool.try_submit(i) == weft::submit_status::accepted);
  rt.block_on(pool.stop(10s));
  CHECK(pool.stats().dead_lettered == 3);
  CHECK(pool.take_dead_letters().empty());
}

TEST_CASE("pools get distinct default names, and an explicit duplicate is an error naming it", "[pool][names]") {
  weft::runtime rt({.workers = 1});
  auto processor = [](int) -> task<void> { co_return; };
  {
    weft::job_pool<int> a(rt, {}, processor), b(rt, {}, processor), c(rt, {}, processor);
    std::string text = rt.metrics().to_prometheus();
    CHECK(text.find("pool=\"pool\"") != std::string::npos);
    CHECK(text.find("pool=\"pool-2\"") != std::string::npos);
    CHECK(text.find("pool=\"pool-3\"") != std::string::npos);
    weft::job_pool<int> orders(rt, {.name = "orders"}, processor);
    std::string error = invalid_argument_of([&] { weft::job_pool<int> again(rt, {.name = "orders"}, processor); });
    CHECK(error.find("\"orders\"") != std::string::npos);
    for (auto* p : {&a, &b, &c, &orders}) rt.block_on(p->stop(1s));
  }
  // Stopped and destroyed: the names are free again.
  weft::job_pool<int> again(rt, {.name = "orders"}, processor);
  rt.block_on(again.stop(1s));
}

TEST_CASE("stop() with a negative drain timeout is refused, naming it, and leaves the pool running",
          "[pool][lifecycle][misuse]") {
  weft::test::watchdog wd("stop with a negative timeout");
  weft::runtime rt({.workers = 2});
  std::atomic<int> ran{0};
  weft::job_pool<int> pool(rt, {.concurrency = 1}, [&](int) -> task<void> {
    ran.fetch_add(1);
    co_return;
  });
  std::string error = "(no std::invalid_argument)";
  try {
    rt.block_on(pool.stop(-1ms));
  } catch (const std::invalid_argument& e) {
    error = e.what();
  }
  CHECK(error.find("drain_timeout") != std::string::npos);
  CHECK(pool.try_submit(1) == weft::submit_status::accepted);  // not stopping
  auto report = rt.block_on(pool.stop(10s));                   // a real stop drains it
  CHECK(report.cancelled == 0);
  CHECK(ran.load() == 1);
  CHECK(pool.stats().processed == 1);
  CHECK(pool.stats().workers == 0);
}
